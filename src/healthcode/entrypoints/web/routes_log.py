"""The public transparency log: checkpoints, entries, proofs and a full export."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from healthcode.domain.errors import NotFound
from healthcode.entrypoints.web import public_reads
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas import CheckpointOut, CheckpointsOut, EntryOut, ProofOut
from healthcode.services import audit

router = APIRouter(prefix="/log", tags=["transparency log"])
NonNegative = Annotated[int, Query(ge=0, le=2**62)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def latest_now(ctx: Ctx) -> public_reads.Encoded:
    """The newest checkpoint, encoded as the route answers it (404 when there is none)."""
    cp = audit.latest_checkpoint(ctx)
    if cp is None:
        return public_reads.encoded(404, None)
    out = CheckpointOut(size=cp.size, time=cp.time, root=b64(cp.root), note=cp.note)
    return public_reads.encoded(200, out.model_dump())


@router.get("/checkpoint", response_model=CheckpointOut)
async def latest(request: Request) -> Response:
    """The newest signed checkpoint, at most a second old (served from memory, with an ETag
    and `Cache-Control: public, max-age=1`)."""
    held: public_reads.PublicRead = request.app.state.checkpoint
    found = await held.current()
    if found.status == 404:
        raise NotFound("no checkpoint yet", field=None)
    return public_reads.respond(request, found)


@router.get("/checkpoints", response_model=CheckpointsOut)
def all_checkpoints(ctx: Ctx, after: NonNegative = 0) -> CheckpointsOut:
    vkey = ctx.keys.log_vkey()
    return CheckpointsOut(vkey=vkey, checkpoints=[c.note for c in audit.checkpoints(ctx, after)])


@router.get("/vkey", response_class=PlainTextResponse)
def vkey(ctx: Ctx) -> str:
    return ctx.keys.log_vkey()


@router.get("/entries", response_model=list[EntryOut])
def entries(ctx: Ctx, start: NonNegative = 0, end: NonNegative = 100) -> list[EntryOut]:
    return [
        EntryOut(seq=e.seq, entry=e.entry, leaf_hash=e.leaf_hash)
        for e in audit.read_entries(ctx, start, end)
    ]


@router.get("/proof/inclusion", response_model=ProofOut)
def inclusion(ctx: Ctx, index: NonNegative, size: NonNegative) -> ProofOut:
    proof = audit.inclusion_proof(ctx, index, size)
    return ProofOut(proof=[b64(p) for p in proof], root=b64(audit.root(ctx, size)))


@router.get("/proof/consistency", response_model=ProofOut)
def consistency(ctx: Ctx, old: NonNegative, new: NonNegative) -> ProofOut:
    proof = audit.consistency_proof(ctx, old, new)
    return ProofOut(proof=[b64(p) for p in proof], root=b64(audit.root(ctx, new)))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export(ctx: Ctx) -> StreamingResponse:
    """The whole log as JSON Lines, the format `healthcode-verifier audit verify` checks."""
    return StreamingResponse(
        (line + "\n" for line in audit.export_lines(ctx)), media_type="application/x-ndjson"
    )
