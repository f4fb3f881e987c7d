"""Issuing health codes: short-lived, signed, minimal (SIG-1, SIG-3, SIG-4).

The code carries a colour, its validity, the rule that produced it, a sealed (unlinkable) subject
reference and optionally a masked name — never a name, phone or document number.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.accounts import token_hash
from healthcode.domain.audit import SYSTEM
from healthcode.domain.codes import (
    code_window,
    masked_name_for_code,
    rule_ref_for_code,
)
from healthcode.domain.errors import NotFound
from healthcode.domain.identity import mask_name
from healthcode.domain.keys import KeyUse, SigningKey
from healthcode.domain.rulesets import NO_RULE
from healthcode.domain.status import Status
from healthcode.services import status_queue
from healthcode.services.admission import admitted
from healthcode.services.auth import live_resident
from healthcode.services.context import CityPolicy, ServiceContext
from healthcode.services.keys import signing_key
from healthcode.services.ports import (
    KeyRing,
    PublicReads,
    ShownStatus,
    StoredSession,
    StoredStatus,
    UnitOfWork,
    UnitOfWorkFactory,
    Viewed,
)
from healthcode.services.rulebook import active_ruleset
from healthcode.services.status import refresh
from healthcode.verifier.claims import Colour, HealthClaims
from healthcode.verifier.envelope import HEALTH_CODE_PREFIX, wrap

SHOW_CODE = "resident.code.issue"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    text: str
    colour: str
    issued_at: int
    expires_at: int
    rule_ref: str
    kid: str


@dataclass(frozen=True, slots=True)
class CodeIssuer:
    """The signing half of issuance, with no storage: also what bench/codes.py measures."""

    keys: KeyRing
    policy: CityPolicy

    def issue(
        self,
        key: SigningKey,
        subject_id: str,
        colour: Colour,
        rule_ref: str,
        masked_name: str | None,
        now: int,
    ) -> IssuedCode:
        window = code_window(
            now,
            self.policy.code_lifetime_seconds,
            self.policy.max_code_lifetime_seconds,
            key.not_after,
        )
        claims = HealthClaims(
            issuer=self.policy.city,
            issued_at=window.issued_at,
            expires_at=window.expires_at,
            colour=colour,
            valid_until=window.expires_at,
            rule_ref=rule_ref_for_code(rule_ref),
            subject_ref=self.keys.seal_subject(subject_id),
            masked_name=masked_name_for_code(masked_name)
            if self.policy.masked_name_on_code
            else None,
        )
        text = wrap(HEALTH_CODE_PREFIX, self.keys.sign_cose(key.kid, claims.encode()))
        return IssuedCode(
            text, colour.label, window.issued_at, window.expires_at, rule_ref, key.kid
        )


def _colour(status: StoredStatus | ShownStatus | None, ruleset_ref: str) -> tuple[Colour, str]:
    """The stored colour and its rule; no stored status is green under the active rule set."""
    if status is None:
        return Colour.GREEN, ruleset_ref
    return Colour[status.colour.upper()], status.rule_ref


def _stored_colour(uow: UnitOfWork, subject_id: str) -> tuple[StoredStatus | None, Colour, str]:
    """Their stored status, with its colour and rule (no stored status: green under the active
    rule set)."""
    stored = uow.statuses.get(subject_id)
    green_ref = active_ruleset(uow).ref() if stored is None else ""
    return (stored, *_colour(stored, green_ref))


def _due(status: StoredStatus | ShownStatus | None, now: int) -> bool:
    return status is not None and status.until is not None and status.until <= now


def health_key(ctx: ServiceContext, uow: UnitOfWork, generation: int, now: int) -> SigningKey:
    """The newest usable health key, among the keys held in memory while the key generation
    stays the same."""
    keys = ctx.memory.get("signing-keys", generation, uow.keys.all)
    return signing_key(uow, KeyUse.HEALTH, now, keys)


def show_own_code(ctx: ServiceContext, token: str, subject_id: str) -> IssuedCode | None:
    """The hot path of "show my code": a signed-in resident's own code, from one read of the
    session, the person, their stored status, their name, the active rule set and the key
    generation (one statement, one read transaction, no write; adapters/db/code_sight.py),
    with the signing key from memory. None whenever the request is anything else (a guardian,
    an officer, an ended session, a status due to be derived again, colour work queued by a
    trace, ...): the caller then takes the general path (authenticate, the access gate,
    issue_health_code), which answers those cases as it always has.

    In a cluster the status comes from the status read model (`ctx.status_view`, written
    through before any change is acknowledged) and the rest of the read from the replica while
    it is within its staleness bound: the primary is not asked. A miss in the read model reads
    the status from the primary, and leaves it there for the next time; at most
    `ctx.primary_reads` such reads at once per process, one more is refused (admission.Busy)."""
    now = ctx.clock.now()
    view = ctx.status_view
    viewed, seen = view.get(subject_id) if view is not None else (None, -1)
    if viewed is not None and ctx.replica is not None:
        try:
            return _show(ctx, ctx.replica, token, subject_id, viewed, seen, now)
        except _Stale:  # the copy was behind the replica: the primary answers
            viewed = None
        except Exception:  # the replica failed: the primary answers until it is back
            ctx.replica.failed()
    with admitted(ctx.primary_reads):  # a cluster's primary: its share, or Busy (503)
        return _show(ctx, ctx.uow, token, subject_id, viewed, seen, now)


class _Stale(Exception):
    """The read model's copy is behind what a database holds."""


def _behind(viewed: Viewed, stored: StoredStatus | None) -> bool:
    copy = viewed.status
    held = shown(stored)
    if copy is None:
        return held is not None  # the copy says "none stored", the database has one
    return copy.behind(held)


def _show(
    ctx: ServiceContext,
    source: UnitOfWorkFactory | PublicReads,
    token: str,
    subject_id: str,
    viewed: Viewed | None,
    seen: int,
    now: int,
) -> IssuedCode | None:
    with source(read_only=True, one_statement=True) as uow:
        sight = uow.code_sight.read(token_hash(token), subject_id, ctx.policy.city)
        if viewed is not None and _behind(viewed, sight.status):
            # The database holds a later status than the copy (a change the read model did not
            # hear of: a process without it, a publication lost): the copy goes, the primary
            # answers and fills it again.
            assert ctx.status_view is not None  # noqa: S101 - a copy came from it
            ctx.status_view.drop(subject_id, seen)
            viewed = None
            if source is not ctx.uow:
                raise _Stale
        if viewed is not None:
            status: ShownStatus | StoredStatus | None = viewed.status
        else:
            status = sight.status
            if ctx.status_view is not None and sight.subject_alive and not sight.queued:
                ctx.status_view.fill(subject_id, shown(sight.status), seen)
        if (
            sight.name is None
            or sight.ruleset is None
            or _due(status, now)
            or (viewed is None and sight.queued)
            or not _caller_is(ctx, sight.session, sight.subject_alive, subject_id, now)
        ):
            return None
        key = health_key(ctx, uow, sight.keys_version, now)
    set_id, version = sight.ruleset
    colour, rule_ref = _colour(status, f"{set_id}@{version}#{NO_RULE}")
    issuer = CodeIssuer(ctx.keys, ctx.policy)
    return issuer.issue(key, subject_id, colour, rule_ref, mask_name(sight.name), now)


def shown(status: StoredStatus | None) -> ShownStatus | None:
    """What code display needs of a stored status."""
    if status is None:
        return None
    return ShownStatus(status.colour, status.rule_ref, status.until, status.changed_at)


def _caller_is(
    ctx: ServiceContext, session: StoredSession | None, alive: bool, subject_id: str, now: int
) -> bool:
    principal = live_resident(ctx, session, alive, now, SHOW_CODE)
    return principal is not None and principal.ref == subject_id


def issue_health_code(ctx: ServiceContext, subject_id: str) -> IssuedCode:
    """A fresh code for a resident or dependant, carrying their stored colour (the derivation
    kept current by every change of their facts and by the sweep) and that colour's rule
    reference. Colour work a trace queued for them is done first (services/status_queue.py),
    and a stored status whose review instant has passed (the sweep has not come by yet) is
    derived again first; a change is logged."""
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        subject = uow.subjects.get(subject_id)
        identity = uow.vault.get(subject_id) if subject else None
        if subject is None or subject.erased_at is not None or identity is None:
            raise NotFound("no such resident", field="subject_id")
        key = signing_key(uow, KeyUse.HEALTH, now)
        # The queue before the status: on PostgreSQL each statement sees the latest commit, so
        # work found gone here was settled before the status below is read.
        queued = uow.status_queue.has(subject_id)
        stored, colour, rule_ref = _stored_colour(uow, subject_id)
    if queued:  # a trace found exposures of theirs a moment ago: their colour work first
        status_queue.settle(ctx, [subject_id])
        with ctx.uow(read_only=True) as uow:
            stored, colour, rule_ref = _stored_colour(uow, subject_id)
    if _due(stored, now):
        derived: dict[str, Status] = {}
        with ctx.uow() as uow:
            refresh(ctx, uow, [subject_id], now, SYSTEM, "code_issued", derived)
            uow.commit()
        status = derived[subject_id]
        colour, rule_ref = Colour[status.colour.upper()], status.rule_ref
    return CodeIssuer(ctx.keys, ctx.policy).issue(
        key, subject_id, colour, rule_ref, mask_name(identity.name), now
    )
