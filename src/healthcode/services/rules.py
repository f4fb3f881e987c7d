"""Publishing and activating rule sets (the colour criteria), on the log.

A rule set is loaded (checked, dry-run, stored under its id and version, never changed after) and
then activated by a separate, logged step: by two people (services/rule_approval.py), or, only
while no rule set is active yet, by the first start or the operator (`activate_first`).
Activation re-derives the colour of everyone it may concern, logging each change in the same
transaction. A version number is published once:
loading different content under a used version is refused.
"""

from __future__ import annotations

import hashlib
import json
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

from healthcode.domain.audit import SYSTEM, Actor, LogEntry
from healthcode.domain.errors import Conflict, InvalidInput, NotFound
from healthcode.domain.facts import FactKind
from healthcode.domain.rulesets import RuleSet, kinds_used, parse_ruleset, set_id_of
from healthcode.services.context import ServiceContext
from healthcode.services.ports import StoredRuleSet, UnitOfWork
from healthcode.services.rulebook import active_ruleset, dry_run, parsed
from healthcode.services.status import Change, refresh

RULES_BASIS = "public_health_emergency_act"
MAX_DOCUMENT = 200_000
GATE_CACHE_SECONDS = 5.0

# Per unit-of-work factory (one per database), dropped with it.
_gate_cache: weakref.WeakKeyDictionary[object, tuple[float, frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class RuleSetInfo:
    ruleset: RuleSet
    stored: StoredRuleSet
    active: bool


@dataclass(frozen=True, slots=True)
class Activation:
    info: RuleSetInfo
    changes: list[Change]


def next_version(ctx: ServiceContext, set_id: str) -> int:
    """The version a new document of `set_id` gets: the system numbers them, one after another."""
    with ctx.uow(read_only=True) as uow:
        return 1 + max((s.version for s in uow.rulesets.all() if s.set_id == set_id), default=0)


def check_document(ctx: ServiceContext, text: str) -> tuple[RuleSet, str, str]:
    """Parse, check and dry-run a rule-set document: (rule set, canonical JSON, digest). Its
    version is the next free one of its id (a document may state it, or an earlier version it
    re-publishes unchanged); its title is derived."""
    if len(text) > MAX_DOCUMENT:
        raise InvalidInput("a rule set is at most 200 kB", field="document", code="too_large")
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInput(
            "not JSON: %(exc)s", field="document", code="not_json", params={"exc": exc}
        ) from None
    ruleset = parse_ruleset(doc, next_version=next_version(ctx, set_id_of(doc)))
    doc["version"] = ruleset.version
    if not ctx.policy.vaccination_facts and FactKind.VACCINATION in kinds_used(ruleset):
        raise InvalidInput(
            "this city does not record vaccinations, so no rule may read them",
            field="$.rules",
            code="fact_not_recorded",
        )
    dry_run(ctx.rules, ruleset)
    canonical = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return ruleset, canonical, hashlib.sha256(canonical.encode()).hexdigest()


def load_ruleset(ctx: ServiceContext, text: str, actor: Actor) -> RuleSetInfo:
    ruleset, canonical, digest = check_document(ctx, text)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        existing = uow.rulesets.get(ruleset.set_id, ruleset.version)
        if existing is not None:
            if existing.digest != digest:
                raise Conflict(
                    "%(set_id)s version %(version)s is already published with other content: "
                    "publish a new version",
                    field="$.version",
                    code="version_taken",
                    params={"set_id": ruleset.set_id, "version": ruleset.version},
                )
            return _info(uow, existing)
        stored = StoredRuleSet(ruleset.set_id, ruleset.version, canonical, digest, now)
        uow.rulesets.add(stored)
        uow.log.append(
            LogEntry(
                "ruleset.loaded",
                actor,
                "ruleset",
                ruleset.ref().partition("#")[0],
                "rule_publication",
                RULES_BASIS,
                details={"digest": digest, "rules": len(ruleset.rules)},
            ),
            now,
        )
        uow.commit()
    return RuleSetInfo(ruleset, stored, active=False)


def activate_first(ctx: ServiceContext, set_id: str, version: int, actor: Actor) -> Activation:
    """Bootstrap only: activate a published version while no rule set is active yet (the first
    start, or the operator choosing the city's first rules). Once one is active, a change takes
    two people (services/rule_approval.py): refused here with `two_person_rule`. The check and
    the activation are one step under the log's lock, so two first activations cannot race."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.log.lock()
        stored = uow.rulesets.get(set_id, version)
        if stored is None:
            raise NotFound("no such rule set version", field="version")
        active = uow.rulesets.active()
        if active is not None:
            raise Conflict(
                "%(set_id)s@%(version)s is active: changing the rules takes two people (one "
                "asks for the activation, a different authority admin approves it)",
                field="version",
                code="two_person_rule",
                params={"set_id": active.set_id, "version": active.version},
            )
        done = activate_in(ctx, uow, stored, actor, now)
        uow.commit()
    forget_gate_policy()
    return done


def activate_in(
    ctx: ServiceContext,
    uow: UnitOfWork,
    stored: StoredRuleSet,
    actor: Actor,
    now: int,
    details: Mapping[str, str | int] | None = None,
) -> Activation:
    """Activate in the caller's transaction (which commits, then calls `forget_gate_policy`):
    the `ruleset.activated` entry (with `details`, e.g. the approved request) and the colours
    re-derived, each change logged."""
    set_id, version = stored.set_id, stored.version
    ruleset = parsed(stored)  # stored documents were checked on load
    uow.rulesets.activate(set_id, version, now)
    uow.log.append(
        LogEntry(
            "ruleset.activated",
            actor,
            "ruleset",
            f"{set_id}@{version}",
            "rule_publication",
            RULES_BASIS,
            details={"digest": stored.digest, **(details or {})},
        ),
        now,
    )
    concerned = set(uow.statuses.with_facts()) | set(uow.statuses.not_green())
    changes = refresh(ctx, uow, concerned, now, actor, "ruleset_activated")
    info = _info(uow, uow.rulesets.get(set_id, version) or stored)
    return Activation(RuleSetInfo(ruleset, info.stored, True), changes)


def forget_gate_policy() -> None:
    """After an activation commits: gates read the new rule set's refusals at once."""
    _gate_cache.clear()


def _info(uow: UnitOfWork, stored: StoredRuleSet) -> RuleSetInfo:
    active = uow.rulesets.active()
    is_active = active is not None and (active.set_id, active.version) == (
        stored.set_id,
        stored.version,
    )
    return RuleSetInfo(parsed(stored), stored, is_active)


def list_rulesets(ctx: ServiceContext) -> list[RuleSetInfo]:
    with ctx.uow(read_only=True) as uow:
        return [_info(uow, s) for s in uow.rulesets.all()]


def get_ruleset(ctx: ServiceContext, set_id: str, version: int | None = None) -> RuleSetInfo:
    """One version, or (version None) the active rule set."""
    with ctx.uow(read_only=True) as uow:
        stored = uow.rulesets.active() if version is None else uow.rulesets.get(set_id, version)
        if stored is None or (version is None and set_id not in ("active", stored.set_id)):
            raise NotFound("no such rule set", field="version" if version else "set_id")
        return _info(uow, stored)


def ensure_default_ruleset(ctx: ServiceContext, text: str) -> RuleSetInfo | None:
    """At first start: load and activate the shipped rule set, if none is active (logged)."""
    with ctx.uow(read_only=True) as uow:
        if uow.rulesets.active() is not None:
            return None
    info = load_ruleset(ctx, text, SYSTEM)
    return activate_first(ctx, info.ruleset.set_id, info.ruleset.version, SYSTEM).info


def gate_refusals(ctx: ServiceContext) -> frozenset[str]:
    """The colours gates refuse under the active rule set (cached for a few seconds)."""
    key = ctx.uow
    cached = _gate_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < GATE_CACHE_SECONDS:
        return cached[1]
    with ctx.uow(read_only=True) as uow:
        refused = active_ruleset(uow).refuse_at_gate
    _gate_cache[key] = (time.monotonic(), refused)
    return refused
