"""Gate checks: a guard's device sends a scanned code (text or a photo of the QR)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from healthcode.domain.errors import InvalidInput
from healthcode.entrypoints.web.deps import ClientLimit, Ctx
from healthcode.entrypoints.web.schemas import LIMITED_RESPONSES, GuardVerdictOut, VerifyIn
from healthcode.services import verify
from healthcode.verifier.qr_image import DEFAULT_MAX_BYTES

router = APIRouter(
    prefix="/verify", tags=["verify"], dependencies=[ClientLimit], responses=LIMITED_RESPONSES
)


@router.post("", response_model=GuardVerdictOut)
async def verify_code(body: VerifyIn, ctx: Ctx) -> GuardVerdictOut:
    """On the event loop: the trust lists come from memory after one statement that takes no
    lock (their versions), and the rest is the signature check (as "show my code" signs there).
    In a thread, each check waited for the interpreter behind the event loop under load."""
    return GuardVerdictOut(**verify.verify_text(ctx, body.code).for_guard())


@router.post("/image", response_model=GuardVerdictOut)
async def verify_image(image: Annotated[UploadFile, File()], ctx: Ctx) -> GuardVerdictOut:
    data = await image.read(DEFAULT_MAX_BYTES + 1)
    if len(data) > DEFAULT_MAX_BYTES:
        raise InvalidInput(
            "image is larger than %(default_max_bytes)s bytes",
            field="image",
            code="image_too_large",
            params={"default_max_bytes": DEFAULT_MAX_BYTES},
        )
    text = verify.code_from_image(data)
    return GuardVerdictOut(**verify.verify_text(ctx, text).for_guard())
