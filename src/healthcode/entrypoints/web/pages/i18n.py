"""The web app speaks Chinese (zh-CN) and English: which one a request gets, and the catalogues.

The language is the `hc_lang` cookie if the person chose one with the switch, otherwise the best
match for the browser's Accept-Language, otherwise Chinese (the city's language). Catalogues are
gettext `.po` files under `web/locales/<locale>/LC_MESSAGES/`, one per audience (home, resident,
venue, office, public); they are read and merged at start, so there is no compile step.
"""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

from babel import Locale
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request

LANG_COOKIE = "hc_lang"
DEFAULT = "zh_CN"
LOCALES = ("zh_CN", "en")  # English is the source language of the catalogues
NAMES = {"zh_CN": "中文", "en": "English"}
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


def normalise(tag: str | None) -> str | None:
    """'zh-CN', 'zh_cn', 'zh' -> 'zh_CN'; 'en-GB' -> 'en'; anything else -> None."""
    if not tag:
        return None
    base = tag.replace("-", "_").split("_")[0].lower()
    return {"zh": "zh_CN", "en": "en"}.get(base)


def negotiate(request: Request) -> str:
    chosen = normalise(request.cookies.get(LANG_COOKIE))
    if chosen:
        return chosen
    wanted = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if tag and weight > 0:
            wanted.append((weight, tag.strip()))
    preferred = [tag.replace("-", "_") for _, tag in sorted(wanted, key=lambda w: -w[0])]
    found = negotiate_locale(preferred, ["zh_CN", "zh", "en"], sep="_")
    return normalise(found) or DEFAULT


@cache
def translations(locale: str) -> NullTranslations:
    """All the catalogues of `locale`, merged; English needs none (its msgids are the text)."""
    if locale == "en":
        return NullTranslations()
    merged = Translations()
    folder = resources.files("healthcode.entrypoints.web").joinpath(
        "locales", locale, "LC_MESSAGES"
    )
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".po"):
            continue
        catalog = read_po(io.BytesIO(entry.read_bytes()), locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        merged.merge(Translations(buffer))
    return merged


@cache
def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)
