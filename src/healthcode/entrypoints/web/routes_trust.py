"""Trust lists (ours to publish, other cities' to import) and our signing keys."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from healthcode.domain.keys import KeyUse
from healthcode.entrypoints.web.deps import Acting, Ctx
from healthcode.entrypoints.web.schemas import (
    KeyOut,
    TrustImportIn,
    TrustListDocument,
    TrustListSummary,
    WithdrawIn,
)
from healthcode.services import keys

router = APIRouter(tags=["trust"])


@router.get(
    "/trust-list", response_class=Response, responses={200: {"content": {"application/json": {}}}}
)
def our_trust_list(ctx: Ctx) -> Response:
    """Our signed trust list: what any verifier needs to check our codes."""
    return Response(keys.our_trust_list(ctx).document, media_type="application/json")


@router.get("/trust-lists", response_model=list[TrustListSummary])
def held_trust_lists(ctx: Ctx) -> list[TrustListSummary]:
    return [
        TrustListSummary(
            city=t.city, version=t.version, source=t.source, anchor_fingerprint=t.anchor_fingerprint
        )
        for t in keys.held_trust_lists(ctx)
    ]


@router.get("/trust-lists/documents", response_model=list[TrustListDocument])
def trust_list_documents(ctx: Ctx) -> list[TrustListDocument]:
    """Every trust list this city holds, ours and those it imported (the latest version of
    each), as signed, with the anchor fingerprint each is pinned to: what a guard's scanner
    keeps to admit every trusted city's codes offline. The pins of other cities are our
    authority's (set when it imported them); each document is still checked against its pin."""
    return [
        TrustListDocument(
            city=t.city, version=t.version, anchor_fingerprint=t.anchor_fingerprint,
            document=t.document,
        )
        for t in keys.held_trust_lists(ctx)
    ]  # fmt: skip


@router.post("/trust-lists", status_code=201, response_model=TrustListSummary)
def import_trust_list(body: TrustImportIn, ctx: Ctx, actor: Acting) -> TrustListSummary:
    parsed = keys.import_trust_list(ctx, body.document, body.fingerprint, actor)
    return TrustListSummary(
        city=parsed.city,
        version=parsed.version,
        source="imported",
        anchor_fingerprint=parsed.anchor_fingerprint,
    )


def key_out(key: keys.SigningKey) -> KeyOut:
    return KeyOut(
        kid=key.kid,
        use=key.use.value,
        alg=key.alg,
        state=key.state.value,
        not_before=key.not_before,
        not_after=key.not_after,
    )


@router.get("/keys", response_model=list[KeyOut])
def list_keys(ctx: Ctx) -> list[KeyOut]:
    return [key_out(k) for k in keys.list_keys(ctx)]


@router.post("/keys/{use}/rotate", response_model=list[KeyOut])
def rotate(use: KeyUse, ctx: Ctx, actor: Acting) -> list[KeyOut]:
    keys.rotate_key(ctx, use, actor)
    return [key_out(k) for k in keys.list_keys(ctx)]


@router.post("/keys/{kid}/withdraw", response_model=list[KeyOut])
def withdraw(kid: str, body: WithdrawIn, ctx: Ctx, actor: Acting) -> list[KeyOut]:
    keys.withdraw_key(ctx, kid, actor, body.reason)
    return [key_out(k) for k in keys.list_keys(ctx)]
