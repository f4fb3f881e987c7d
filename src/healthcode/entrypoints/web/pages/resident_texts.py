"""What the resident's pages share: texts in the reader's language, venue names, and the masked
name a code carries (so a guardian can tell their dependants' codes apart)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from healthcode.domain.rulesets import Text
from healthcode.entrypoints.web.pages import i18n
from healthcode.services import venues
from healthcode.services.context import ServiceContext
from healthcode.verifier.claims import ClaimsError, decode_health_claims
from healthcode.verifier.cose import CoseError, parse_sign1
from healthcode.verifier.envelope import HEALTH_CODE_PREFIX, EnvelopeError, unwrap


def chinese(request: Request) -> bool:
    return i18n.negotiate(request) == "zh_CN"


def in_language(request: Request, text: Text | None) -> str:
    """A published text (a rule, its advice) in the reader's language."""
    if text is None:
        return ""
    return text.zh if chinese(request) else text.en


def venue_names(ctx: ServiceContext, request: Request, venue_ids: Iterable[str]) -> dict[str, str]:
    """Each venue's name in the reader's language (what its poster shows anyone)."""
    return venues.venue_names(ctx, venue_ids, chinese(request))


def masked_name(code: str) -> str | None:
    """The masked name (张*) a code of our own carries, if the city puts one on codes."""
    try:
        claims = decode_health_claims(parse_sign1(unwrap(code, HEALTH_CODE_PREFIX)).payload)
    except (EnvelopeError, CoseError, ClaimsError):
        return None
    return claims.masked_name
