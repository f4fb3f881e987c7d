"""The public log for everyone: its latest signed checkpoint, the key that signs it, recent
checkpoints, a "verify it yourself" guide with commands to copy, and one entry looked up by its
index with its inclusion proof.

The page checks what it shows with the standalone verifier's own code (healthcode.verifier,
which imports nothing of the server): the checkpoint's signature against the published key, the
latest checkpoint's consistency with the one before, and an entry's inclusion proof against the
signed root. That is a demonstration, not the assurance: the guide is there so that a reader
does the same on their own machine with a key obtained elsewhere. Same services as `GET /log/*`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from healthcode.domain.errors import DomainError, InvalidInput
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, render
from healthcode.services import audit
from healthcode.services.context import ServiceContext
from healthcode.services.ports import Checkpoint
from healthcode.verifier.checkpoint import CheckpointError, parse_note, verify_checkpoint
from healthcode.verifier.merkle import leaf_hash, verify_consistency, verify_inclusion

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/public/log"): "page.public",
    ("GET", "/public/log/entry"): "page.public",
}

RECENT = 10


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """The latest checkpoint as the page shows it, with what the verifier says of it."""

    size: int
    time: int
    root_b64: str
    note: str
    signatures: list[tuple[str, str, str]]  # key name, key id (hex), signature (base64)
    signature_ok: bool
    consistent_with: int | None  # the size of the previous checkpoint, if the proof checks


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _consistent(ctx: ServiceContext, old: Checkpoint | None, new: Checkpoint) -> int | None:
    if old is None or old.size == new.size:
        return None
    proof = audit.consistency_proof(ctx, old.size, new.size)
    return old.size if verify_consistency(old.size, new.size, old.root, new.root, proof) else None


def signed(ctx: ServiceContext, cp: Checkpoint, previous: Checkpoint | None) -> SignedCheckpoint:
    vkey = ctx.keys.log_vkey()
    try:
        checked = verify_checkpoint(cp.note, vkey)
        ok = checked.size == cp.size and checked.root == cp.root
    except CheckpointError:
        ok = False
    _, lines = parse_note(cp.note)
    return SignedCheckpoint(
        cp.size,
        cp.time,
        b64(cp.root),
        cp.note,
        [(s.name, s.key_hash.hex(), b64(s.signature)) for s in lines],
        ok,
        _consistent(ctx, previous, cp),
    )


def _context(request: Request, ctx: ServiceContext) -> dict[str, object]:
    latest = audit.latest_checkpoint(ctx)
    recent: list[Checkpoint] = []
    if latest is not None:
        every = request.app.state.healthcode.settings.checkpoint_every_entries
        recent = audit.checkpoints(ctx, max(0, latest.size - RECENT * every - 1))[-RECENT:]
    previous = recent[-2] if len(recent) > 1 else None
    return {
        "checkpoint": signed(ctx, latest, previous) if latest else None,
        "recent": [(c.size, c.time, b64(c.root)) for c in reversed(recent)],
        "vkey": ctx.keys.log_vkey(),
        "log_size": audit.log_size(ctx),
        "base": str(request.base_url).rstrip("/"),
    }


@router.get("/public/log", response_class=HTMLResponse)
def log_page(request: Request, ctx: Ctx) -> HTMLResponse:
    return render(request, "public/log.html", entry=None, index="", error=None,
                  **_context(request, ctx))  # fmt: skip


@dataclass(frozen=True, slots=True)
class EntryView:
    seq: int
    fields: dict[str, object]  # the entry as published, parsed
    pretty: str
    leaf_hash: str
    proof: list[str] | None  # base64, against the latest checkpoint; None: not yet covered
    proof_size: int | None
    included: bool


def entry_view(ctx: ServiceContext, index: int, cp: Checkpoint | None) -> EntryView:
    size = audit.log_size(ctx)
    if index >= size:
        raise InvalidInput("the log has %(size)s entries: an index is 0 to %(last)s",
                           field="index", code="range",
                           params={"size": size, "last": size - 1})  # fmt: skip
    (found,) = audit.read_entries(ctx, index, index + 1)
    fields = json.loads(found.entry)
    pretty = json.dumps(fields, ensure_ascii=False, indent=2, sort_keys=True)
    if cp is None or index >= cp.size:
        return EntryView(index, fields, pretty, found.leaf_hash, None, None, False)
    proof = audit.inclusion_proof(ctx, index, cp.size)
    leaf = leaf_hash(found.entry.encode())  # from the text itself, not the stored hash
    ok = leaf.hex() == found.leaf_hash and verify_inclusion(leaf, index, cp.size, proof, cp.root)
    return EntryView(index, fields, pretty, found.leaf_hash, [b64(p) for p in proof], cp.size, ok)


@router.get("/public/log/entry", response_class=HTMLResponse)
def entry_page(
    request: Request, ctx: Ctx, index: Annotated[int, Query(ge=0, le=2**62)]
) -> HTMLResponse:
    """One entry by its index, as anyone can read it, with its inclusion proof."""
    context = _context(request, ctx)
    try:
        latest = audit.latest_checkpoint(ctx)
        entry = entry_view(ctx, index, latest)
    except DomainError as exc:
        return render(request, "public/log.html", status_of(exc), entry=None, index=index,
                      error=exc, **context)  # fmt: skip
    return render(request, "public/log.html", entry=entry, index=index, error=None, **context)
