"""Activating a rule set with two people: one asks, a different one approves.

The rules decide everybody's colour, so changing them is never one person's act. A health officer
or an authority admin asks for a published version to be activated; an authority admin who is
not the one who asked approves, and the version is activated in the same transaction as the
check (services/rules.activate_in), its `ruleset.activated` entry naming the request and who
made it.

A request is an entry on the public log (`ruleset.activation_requested`) and nothing else: there
is no table of requests, so the record of who asked cannot differ from what the public sees.
The approver names the request by its sequence number. A request is good for `REQUEST_SECONDS`
(stale approvals are refused), and only while nothing has been activated since it was made (an
old request cannot roll the rules back). Listing the open requests reads the log entries of that
window only (found by time, about log2(size) reads, as the anomaly watch does).
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import LogEntry
from healthcode.domain.duties import REFUSALS as DUTY_REFUSALS
from healthcode.domain.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from healthcode.domain.published import PublicEntry, parse_entry
from healthcode.services.auth import actor_of
from healthcode.services.context import ServiceContext
from healthcode.services.ports import StoredRuleSet, UnitOfWork
from healthcode.services.rule_dry_run import Spread, compare
from healthcode.services.rulebook import active_ruleset, parsed
from healthcode.services.rules import RULES_BASIS, Activation, activate_in, forget_gate_policy
from healthcode.services.staff import check_independent

REQUESTED = "ruleset.activation_requested"
REFUSED = "ruleset.activation_refused"
REQUEST_SECONDS = 24 * 3600
REQUESTERS = frozenset({Role.HEALTH_OFFICER, Role.AUTHORITY_ADMIN})
APPROVERS = frozenset({Role.AUTHORITY_ADMIN, Role.AUDITOR})  # an auditor: concentrated sets
BATCH = 5000
_MARK = f'"action":"{REQUESTED}"'


@dataclass(frozen=True, slots=True)
class ActivationRequest:
    seq: int  # the request's entry on the log: what an approver names
    set_id: str
    version: int
    requested_by: str  # "staff:<id>"
    requester_role: str
    requested_at: int
    expires_at: int


def _staff(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.kind != PrincipalKind.STAFF or principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(
            "only a %(names)s may %(what)s the activation of a rule set",
            params={"names": names, "what": what},
        )


def _published(uow: UnitOfWork, set_id: str, version: int) -> StoredRuleSet:
    stored = uow.rulesets.get(set_id, version)
    if stored is None:
        raise NotFound("no such rule set version", field="version")
    return stored


def _request(entry: PublicEntry) -> ActivationRequest | None:
    set_id, _, version = entry.object_ref.partition("@")
    if entry.action != REQUESTED or not entry.ok or not version.isdigit():
        return None
    return ActivationRequest(
        entry.seq,
        set_id,
        int(version),
        entry.actor_ref,
        entry.actor_role,
        entry.time,
        entry.time + REQUEST_SECONDS,
    )


def request_activation(
    ctx: ServiceContext, principal: Principal, set_id: str, version: int
) -> ActivationRequest:
    _staff(principal, REQUESTERS, "request")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        stored = _published(uow, set_id, version)
        active = uow.rulesets.active()
        if active is not None and (active.set_id, active.version) == (set_id, version):
            raise Conflict("this version is already the active rule set", field="version")
        actor = actor_of(uow, principal)
        entry = LogEntry(REQUESTED, actor, "ruleset", f"{set_id}@{version}", "rule_publication",
                         RULES_BASIS, details={"digest": stored.digest})  # fmt: skip
        seq = uow.log.append_sequenced(entry, now)
        uow.commit()
    return ActivationRequest(seq, set_id, version, actor.ref, actor.role, now,
                             now + REQUEST_SECONDS)  # fmt: skip


def _open(uow: UnitOfWork, request: ActivationRequest, now: int) -> str | None:
    """Why the request can no longer be approved, or None."""
    if now >= request.expires_at:
        return N_("the request has expired: ask again")
    active = uow.rulesets.active()
    if active is not None and (active.activated_at or 0) >= request.requested_at:
        return N_("a rule set was activated since the request was made: ask again")
    return None


def pending(ctx: ServiceContext) -> list[ActivationRequest]:
    """The requests that may still be approved, oldest first."""
    now = ctx.clock.now()
    found: list[ActivationRequest] = []
    with ctx.uow(read_only=True) as uow:
        start, end = uow.log.first_at(now - REQUEST_SECONDS), uow.log.size()
        for lo in range(start, end, BATCH):
            for seq, text, _ in uow.log.entries(lo, min(end, lo + BATCH)):
                if _MARK in text:
                    request = _request(parse_entry(seq, text))
                    if request is not None and _open(uow, request, now) is None:
                        found.append(request)
    return found


def approve_activation(ctx: ServiceContext, principal: Principal, request_seq: int) -> Activation:
    """A second person (an authority admin who did not ask, and is independent of whoever did:
    not their appointee, not a fellow appointee, past the cooling-off period) approves: the
    version is active."""
    _staff(principal, APPROVERS, "approve")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.log.lock()  # the check and the activation are one step: no approval races another
        request = _numbered(uow, request_seq)
        asker = request.requested_by.removeprefix("staff:")
        why = check_independent(ctx, uow, principal.ref, asker, now)
        if why is None:
            problem = _open(uow, request, now)
            if problem is not None:
                raise Conflict(problem, field="request")
            stored = _published(uow, request.set_id, request.version)
            spread = compare(ctx, uow, parsed(stored), active_ruleset(uow), now)[3]
            why = _concentration_refusal(principal, spread)
        if why is None:
            detail: dict[str, str | int] = {"request": request.seq,
                                            "requested_by": request.requested_by,
                                            **spread_details(spread)}  # fmt: skip
            done = activate_in(ctx, uow, stored, actor_of(uow, principal), now, detail)
            uow.commit()
            forget_gate_policy()
            return done
    _log_refusal(ctx, principal, request, now, why)
    raise Forbidden(REFUSALS_HERE.get(why) or DUTY_REFUSALS[why], field="request",
                    code="concentrated" if why in CONCENTRATION else "two_person_rule")  # fmt: skip


REFUSALS_HERE = {
    "same_person": N_(
        "the person who asked for an activation cannot approve it: a second person must"
    ),
    "concentrated": N_(
        "the colours this rule set would change concentrate on one venue, district "
        "or hour (see its dry run): an auditor must approve its activation"
    ),
    "not_concentrated": N_(
        "an authority admin approves this activation; an auditor approves only "
        "those whose colours concentrate on one venue, district or hour"
    ),
}


CONCENTRATION = frozenset({"concentrated", "not_concentrated"})


def _concentration_refusal(principal: Principal, spread: Spread) -> str | None:
    """A rule set that singles out one venue, district or hour needs an auditor; an auditor
    approves nothing else (the authority's admins run its rules)."""
    auditor = principal.role is Role.AUDITOR
    if spread.concentrated is not None and not auditor:
        return "concentrated"
    if spread.concentrated is None and auditor:
        return "not_concentrated"
    return None


def spread_details(spread: Spread) -> dict[str, str | int]:
    """What the log says of where an activation's new colours fall: counts, never a person."""
    found: dict[str, str | int] = {"coloured": spread.coloured}
    if spread.concentrated is not None:
        dimension, _, people = spread.concentrated
        found |= {"concentrated": dimension, "concentrated_people": people}
    return found


def _numbered(uow: UnitOfWork, seq: int) -> ActivationRequest:
    found = uow.log.entries(seq, seq + 1) if seq >= 0 else []
    request = _request(parse_entry(found[0][0], found[0][1])) if found else None
    if request is None:
        raise NotFound("no such activation request", field="request")
    return request


def _log_refusal(
    ctx: ServiceContext, principal: Principal, request: ActivationRequest, now: int, why: str
) -> None:
    """The refused attempt, on the log in its own transaction (nothing else was written)."""
    with ctx.uow() as uow:
        entry = LogEntry(
            REFUSED,
            actor_of(uow, principal),
            "ruleset",
            f"{request.set_id}@{request.version}",
            "rule_publication",
            RULES_BASIS,
            outcome=f"refused:{why}",
            details={"request": request.seq},
        )
        uow.log.append(entry, now)
        uow.commit()


def parse_request(text: str) -> int:
    """A request's number as typed into a form."""
    if not text.strip().isdigit() or len(text.strip()) > 18:
        raise InvalidInput("the number of an activation request", field="request")
    return int(text.strip())
