"""Appeals: a resident (or their guardian) contests what their colour rests on.

What can be contested:
- a manual order that names them (`order`);
- a piece of evidence behind their rule-derived colour: an exposure found by tracing
  (`exposure`) or a fact someone recorded (`health_fact`: symptoms, quarantine, vaccination).
  Lab results and cases are not contested here: a wrong result is corrected by its lab.

The reason (10 to 1000 characters) is personal data: stored for the deciding officer, never
logged. A health officer decides before the deadline: `upheld` (it stays) or `granted` (the order
stops applying to that person, or the evidence is withdrawn), and the colour is derived again. A
contested order that is not upheld before the deadline lapses for that person by itself.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from healthcode.domain.access import Role
from healthcode.domain.errors import InvalidInput

REASON_MIN, REASON_MAX = 10, 1000
DECIDERS = frozenset({Role.HEALTH_OFFICER})


class AppealState(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"  # what was contested stays
    GRANTED = "granted"  # the order stops applying / the evidence is withdrawn
    LAPSED = "lapsed"  # a contested order, not upheld in time: it no longer applies


class Target(StrEnum):
    ORDER = "order"
    EXPOSURE = "exposure"
    HEALTH_FACT = "health_fact"


OUTCOMES = (AppealState.UPHELD, AppealState.GRANTED)


@dataclass(frozen=True, slots=True)
class Appeal:
    appeal_id: str
    subject_id: str
    target_kind: str  # Target
    target_id: str  # an order id, an exposure id or a recorded fact id
    reason: str  # personal data: never logged
    filed_by: str  # resident | guardian
    filed_at: int
    deadline: int
    state: str  # AppealState
    decided_by: str | None = None  # staff id of the deciding officer
    decided_at: int | None = None


def new_appeal_id() -> str:
    return "a" + secrets.token_hex(8)


def check_reason(reason: str) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not REASON_MIN <= len(text) <= REASON_MAX:
        raise InvalidInput(
            "say why in %(reason_min)s to %(reason_max)s characters: the deciding officer reads it",
            field="reason",
            params={"reason_min": REASON_MIN, "reason_max": REASON_MAX},
        )
    return text


def parse_outcome(value: str) -> AppealState:
    if value not in {o.value for o in OUTCOMES}:
        raise InvalidInput("an appeal is decided 'upheld' or 'granted'", field="outcome")
    return AppealState(value)
