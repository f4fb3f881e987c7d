"""Verifying a scanned health code on the server, with the same offline verifier guards use."""

from __future__ import annotations

from healthcode.domain.errors import InvalidInput
from healthcode.services.context import ServiceContext
from healthcode.services.keys import trust_store
from healthcode.services.rules import gate_refusals
from healthcode.verifier.claims import Colour
from healthcode.verifier.qr_image import QrImageError, decode_qr_image
from healthcode.verifier.verify import Verdict, VerifyPolicy, verify_health_code


def verify_policy(ctx: ServiceContext) -> VerifyPolicy:
    """The verifier's policy: clock skew from the settings, refused colours from the active
    rule set (red is always refused)."""
    refused = frozenset(Colour[c.upper()] for c in gate_refusals(ctx)) | {Colour.RED}
    return VerifyPolicy(max_skew_seconds=ctx.policy.clock_skew_seconds, refused_colours=refused)


def verify_text(ctx: ServiceContext, text: str) -> Verdict:
    return verify_health_code(text, trust_store(ctx), ctx.clock.now(), verify_policy(ctx))


def code_from_image(data: bytes) -> str:
    """The first QR in a PNG or JPEG; a picture we cannot read is the caller's input error."""
    try:
        found = decode_qr_image(data)
    except QrImageError as exc:
        raise InvalidInput(
            "no QR code could be read in the image: %(reason)s",
            field="image",
            code=str(exc.code),
            params={"reason": exc.message},
        ) from None
    return found[0]
