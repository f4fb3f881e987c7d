"""Server-rendered pages: one Jinja2 environment per language, and `render` for the routes.

Every page answers with a Content-Security-Policy that lets it load and connect to its own
origin only (no CDN, no analytics, no third-party fonts: a page must not tell anyone else who
opened it), forbids inline scripts, and may not be framed. Times are stored as UTC epoch
seconds and shown in the city's time zone, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from healthcode.domain.accounts import PUBLIC, Principal
from healthcode.domain.errors import DomainError
from healthcode.entrypoints.web.pages import i18n

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cache-Control": "no-store",  # pages carry personal data; the scanner caches via its worker
}


class PageRoute(APIRoute):
    """A route that answers HTML: errors on it become pages (errors.py), not JSON."""


def is_page(request: Request) -> bool:
    """A web page's route, or no route at all asked for by a browser (an unknown address gets a
    page, not JSON); the API's routes answer JSON whatever asks."""
    route = request.scope.get("route")
    if route is None:
        return "text/html" in request.headers.get("accept", "")
    return isinstance(route, PageRoute)


def said(locale: str, template: str, params: Mapping[str, object] | None = None) -> str:
    """A server message in the reader's language: its template translated, then filled with
    its parameters, each of which is translated too where the catalogue has it (a role, a word
    such as "result"), so that no English is left in a Chinese page but names and values."""
    translate = i18n.translations(locale).gettext
    if not params:
        return translate(template)
    filled = {k: translate(v) if isinstance(v, str) else v for k, v in params.items()}
    try:
        return translate(template) % filled
    except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder
        return template % dict(params)


def say(request: Request, error: DomainError) -> str:
    """`said` for an error, in the language of this request."""
    return said(i18n.negotiate(request), error.template, error.params)


def _templates_dir() -> str:
    return str(resources.files("healthcode.entrypoints.web").joinpath("templates"))


# One date format per language on every page (dates and moments; the report's tables and the
# date fields keep ISO days, which people type and machines read): (day, moment).
DATE_PATTERNS = {
    "zh_CN": ("yyyy年M月d日", "yyyy年M月d日 HH:mm"),
    "en": ("d MMM yyyy", "d MMM yyyy, HH:mm"),
}


def zone_label(timezone: str, now: datetime) -> str:
    """The city's time zone as the foot of every page names it: "Asia/Shanghai (UTC+08:00)"."""
    offset = now.astimezone(ZoneInfo(timezone)).strftime("%z")
    return f"{timezone} (UTC{offset[:3]}:{offset[3:]})"


@cache
def environment(locale: str, timezone: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(_templates_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    zone = ZoneInfo(timezone)
    loc = i18n.babel_locale(locale)

    day_pattern, time_pattern = DATE_PATTERNS.get(locale, DATE_PATTERNS["en"])

    def when(epoch: int | None) -> str:
        """A moment: the one date format of this language and the time to the minute, in the
        city's time zone (named at the foot of every page)."""
        if epoch is None:
            return "—"
        return format_datetime(datetime.fromtimestamp(epoch, UTC), time_pattern, tzinfo=zone,
                               locale=loc)  # fmt: skip

    def day(when: int | str | None) -> str:
        """A day of the city's calendar (a moment in it, or the day as YYYY-MM-DD), in the one
        date format of this language."""
        if when is None:
            return "—"
        if isinstance(when, str):
            return format_date(date.fromisoformat(when), day_pattern, locale=loc)
        return format_date(
            datetime.fromtimestamp(when, UTC).astimezone(zone), day_pattern, locale=loc
        )

    def duration(seconds: int | float) -> str:
        return format_timedelta(seconds, locale=loc, threshold=1.1)

    def number(value: int | float) -> str:
        return format_decimal(value, locale=loc)

    def said_error(error: DomainError | Any) -> str:
        """An error's message in this language (a page's own problem objects carry theirs)."""
        if error is None:
            return ""
        if isinstance(error, DomainError):
            return said(locale, error.template, error.params)
        return str(error.message)

    env.filters.update(when=when, day=day, duration=duration, number=number, said=said_error)
    env.globals.update(
        lang=locale,
        html_lang=i18n.HTML_LANG[locale],
        languages=i18n.NAMES,
        timezone=timezone,
    )
    return env


def principal_of(request: Request) -> Principal:
    found: Principal = getattr(request.state, "principal", PUBLIC)
    return found


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` in the caller's language, with who they are and where they are."""
    locale = i18n.negotiate(request)
    settings = request.app.state.healthcode.settings
    env = environment(locale, settings.display_timezone)
    now = datetime.fromtimestamp(request.app.state.healthcode.ctx.clock.now(), UTC)
    html = env.get_template(template).render(
        request=request,
        principal=principal_of(request),
        path=request.url.path,
        zone_label=zone_label(settings.display_timezone, now),
        city=settings.city_name_zh if locale == "zh_CN" else settings.city_name_en,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def redirect(to: str) -> RedirectResponse:
    """After a form post: see the result with a GET (303), so a reload does not post again."""
    return RedirectResponse(to, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: a sign-in link must not send people to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
