"""Manual health orders: the only way a person is coloured without a rule-derived basis.

An order names its people (1 to `MAX_SUBJECTS`), a colour (yellow or red, never green: an order
cannot clear anybody), one legal basis from the published closed list, a reason of 10 to 500
characters that the people concerned are shown (it is never written to the transparency log),
and a duration of 1 to the city's maximum number of days.

Its life:

    proposed ─approve─► active ──(its days run out)──► expired
       │          └───► frozen (more people than the threshold) ─release─► active
       │                   └─refuse release─► rejected
       └─reject─► rejected           active / frozen ─revoke─► revoked

A tracer or a health officer proposes; an officer of a *different role* approves (tracer ↔
health officer, or an authority admin), never the proposer (the two-person rule). For each
person an order also ends by appeal: granted (`lifted`) or not decided before its deadline
(`lapsed`). Only an active order colours anybody, from its start until its end.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from healthcode.domain.access import Role
from healthcode.domain.errors import N_, InvalidInput
from healthcode.domain.facts import Fact, FactKind

DAY = 86400
ORDER_COLOURS = ("yellow", "red")
REASON_MIN, REASON_MAX = 10, 500
MAX_SUBJECTS = 10_000  # a hard cap on one order; the daily quota is usually far lower
ORDER_PREFIX = "order:"  # rule references of colours that come from an order
ORDER_ID_LENGTH = 10  # "order:" + the id fits the 16 characters of a rule reference on a code
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case: a log token
_BASIS_ID = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

PROPOSERS = frozenset({Role.TRACER, Role.HEALTH_OFFICER})
APPROVERS = frozenset({Role.TRACER, Role.HEALTH_OFFICER, Role.AUTHORITY_ADMIN})
REVOKERS = APPROVERS
RELEASERS = frozenset({Role.AUDITOR})


class OrderState(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    FROZEN = "frozen"  # approved, but covers more people than the threshold: waits for an auditor
    REJECTED = "rejected"  # by the second officer, or release refused by an auditor
    REVOKED = "revoked"
    EXPIRED = "expired"


class SubjectState(StrEnum):
    """Whether an order still applies to one of its people."""

    APPLIES = "applies"
    LIFTED = "lifted"  # their appeal was granted
    LAPSED = "lapsed"  # their appeal was not decided before its deadline


OPEN = frozenset({OrderState.PROPOSED, OrderState.FROZEN})  # still waiting for a decision


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """One entry of the published list of legal bases an order may cite."""

    basis_id: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class OrderDraft:
    subject_ids: tuple[str, ...]
    colour: str
    legal_basis: str
    reason: str
    days: int


@dataclass(frozen=True, slots=True)
class ManualOrder:
    order_id: str
    colour: str
    legal_basis: str
    reason: str  # shown to the people it names; never logged
    days: int
    subject_count: int
    state: str
    proposed_by: str  # staff id
    proposer_role: str
    proposed_at: int
    decided_by: str | None = None  # the second officer (approval or rejection)
    decided_role: str | None = None
    decided_at: int | None = None
    released_by: str | None = None  # the auditor who released or refused a frozen order
    released_at: int | None = None
    starts_at: int | None = None  # set when it becomes active
    ends_at: int | None = None
    ended_by: str | None = None  # who revoked it
    ended_at: int | None = None  # revoked, rejected or expired

    def effective_state(self, now: int) -> OrderState:
        """The state as of `now`: an active order whose days have run out is expired, whether
        or not the sweep has marked it yet."""
        if self.state == OrderState.ACTIVE and self.ends_at is not None and self.ends_at <= now:
            return OrderState.EXPIRED
        return OrderState(self.state)

    def in_force(self, now: int) -> bool:
        return self.effective_state(now) is OrderState.ACTIVE


@dataclass(frozen=True, slots=True)
class OrderSubject:
    order_id: str
    subject_id: str
    state: str  # SubjectState
    ended_at: int | None = None
    appeal_id: str | None = None  # the appeal that lifted it or lapsed it


# -- the published legal bases --------------------------------------------------------------------


def parse_legal_bases(doc: object) -> tuple[LegalBasis, ...]:
    """The published list: {"legal_bases": [{"id", "zh", "en"}, ...]} with unique token ids."""
    items = doc.get("legal_bases") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError("legal bases: a non-empty list under 'legal_bases'")
    found: dict[str, LegalBasis] = {}
    for item in items:
        basis_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(basis_id, str) or not basis_id or not set(basis_id) <= _BASIS_ID:
            raise ValueError(f"legal basis id {basis_id!r}: lowercase letters, digits and _")
        texts = [item.get(lang) for lang in ("zh", "en")]
        if not all(isinstance(t, str) and t.strip() for t in texts) or basis_id in found:
            raise ValueError(f"legal basis {basis_id!r}: unique, with zh and en citations")
        found[basis_id] = LegalBasis(basis_id, str(texts[0]).strip(), str(texts[1]).strip())
    return tuple(found.values())


# -- checking a proposal --------------------------------------------------------------------------


def _subject_ids(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not 1 <= len(values) <= MAX_SUBJECTS:
        raise InvalidInput(
            "an order names 1 to %(max_subjects)s residents",
            field="subject_ids",
            code="count",
            params={"max_subjects": MAX_SUBJECTS},
        )
    seen: set[str] = set()
    for value in values:
        ok = isinstance(value, str) and len(value) == 32 and set(value) <= set("0123456789abcdef")
        if not ok:
            raise InvalidInput("a resident is named by their subject id", field="subject_ids")
        if value in seen:
            raise InvalidInput("a resident is listed twice", field="subject_ids", code="duplicate")
        seen.add(value)
    return tuple(values)


def check_reason(reason: str, low: int, high: int) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not low <= len(text) <= high:
        raise InvalidInput(
            "a reason of %(low)s to %(high)s characters: the resident reads it",
            field="reason",
            params={"low": low, "high": high},
        )
    return text


def check_order(
    subject_ids: Sequence[str],
    colour: str,
    legal_basis: str,
    reason: str,
    days: int,
    *,
    bases: Mapping[str, LegalBasis],
    max_days: int,
) -> OrderDraft:
    """A proposal, checked in full before anything is stored (InvalidInput names the field)."""
    if colour not in ORDER_COLOURS:
        raise InvalidInput(
            "an order colours yellow or red (it can never clear anybody)", field="colour"
        )
    if legal_basis not in bases:
        names = ", ".join(sorted(bases)) or "none published"
        raise InvalidInput(
            "cite one of the published legal bases: %(names)s",
            field="legal_basis",
            code="unknown",
            params={"names": names},
        )
    text = check_reason(reason, REASON_MIN, REASON_MAX)
    if type(days) is not int or not 1 <= days <= max_days:
        raise InvalidInput(
            "an order lasts 1 to %(max_days)s days", field="days", params={"max_days": max_days}
        )
    return OrderDraft(_subject_ids(subject_ids), colour, legal_basis, text, days)


# -- who may decide -------------------------------------------------------------------------------


def approval_refusal(order: ManualOrder, staff_id: str, role: Role) -> str | None:
    """Why this officer may not approve (or reject) the order, as a token; None if they may.
    The second officer is never the proposer and never holds the proposer's role."""
    if role not in APPROVERS:
        return "role"
    if staff_id == order.proposed_by:
        return "proposer"
    if role.value == order.proposer_role:
        return "same_role"
    return None


REFUSALS = {
    "role": N_("only a tracer, a health officer or an authority admin decides on an order"),
    "proposer": N_("the officer who proposed an order cannot also approve or reject it"),
    "same_role": N_(
        "a second officer of a different role must decide on this order "
        "(a tracer's order goes to a health officer and the other way round, or to an admin)"
    ),
}


# -- orders as colours ----------------------------------------------------------------------------


def new_order_id() -> str:
    """'o' + 9 random base32 characters (45 bits): short enough for a code's rule reference."""
    return "o" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(ORDER_ID_LENGTH - 1))


def order_ref(order_id: str) -> str:
    return ORDER_PREFIX + order_id


def is_order_ref(rule_ref: str) -> bool:
    return rule_ref.startswith(ORDER_PREFIX)


def order_fact(order: ManualOrder) -> Fact:
    """An active order as the fact status derivation reads (and no rule ever does)."""
    if order.starts_at is None or order.ends_at is None:
        raise ValueError("only an order that became active is a fact")
    attrs: dict[str, str | int] = {
        "colour": order.colour,
        "until": order.ends_at,
        "basis": order.legal_basis,
    }
    return Fact(order.order_id, FactKind.ORDER, order.starts_at, attrs)
