"""The web app: server-rendered pages (Jinja2 + htmx) for residents, venues, the health
authority and the public, in Chinese and English. Each module is one audience; each keeps its
(method, path) -> action rows beside its routes, and the app refuses to start if a page route
has none (deny by default, as for the API).
"""
