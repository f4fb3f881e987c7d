"""A place code as a web link, so that any phone camera opens the check-in.

A poster's QR holds `<BASE>/C#<place code>`: the city's check-in page, with the signed place code
in the fragment (`#...`), which a browser never sends to a server, so it reaches no access log.
Base45 is the QR alphanumeric alphabet, and the fragment keeps it: only its space and percent
sign are percent-encoded (%20, %25); the scheme and host are written in capitals, which URLs
ignore, so that a link on a base without a path of its own stays in the QR's compact
alphanumeric mode. Everything that reads place codes accepts both forms, the bare one and the
link."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from healthcode.verifier.envelope import MAX_TEXT_CHARS, PLACE_CODE_PREFIX

LINK_PATH = "/C"


def place_link(base: str, place_code: str) -> str:
    """The link a poster's QR holds: `base` (https://host[/path]) + /C# + the place code."""
    parts = urlsplit(base.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("a place link's base is http(s)://host[/path], with no query or fragment")
    if not place_code.startswith(PLACE_CODE_PREFIX):
        raise ValueError("not a place code")
    host = f"{parts.scheme.upper()}://{parts.netloc.upper()}{parts.path}"
    return f"{host}{LINK_PATH}#{fragment_of(place_code)}"


def fragment_of(place_code: str) -> str:
    """The place code as a link's fragment: its space and percent sign percent-encoded."""
    return place_code.replace("%", "%25").replace(" ", "%20")


def place_code_of(text: object) -> object:
    """The place code a link holds in its fragment; anything else as it came (a bare place code,
    or something the verifier then refuses for what it is)."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS + 256:
        return text
    head, sep, fragment = text.strip().partition("#")
    if not sep or not head.lower().startswith(("http://", "https://")):
        return text
    found = unquote(fragment)
    return found if found.startswith(PLACE_CODE_PREFIX) else text
