"""The closed, health-only fact vocabulary that colour rules may read.

A colour may depend on these facts and on nothing else: test results, cases, exposures found by
tracing, reported symptoms, completed quarantine and (where the city enables it) vaccination.
There is no attribute for where a person lives, works, travels, protests or banks, so no rule
can be written over one: the rule-set validator refuses any variable outside this vocabulary.

Each fact has an opaque id (the evidence a colour cites), a kind, a time, and typed attributes.

One kind is not for rules: a manual health order (`ORDER`, domain/orders.py), approved by two
officers under a published legal basis. Status derivation turns it into a colour by itself,
citing the order; no rule may read it or apply to it (`RULE_KINDS`, the vocabulary rules see).
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from healthcode.domain.errors import InvalidInput, parse_choice


class FactKind(StrEnum):
    TEST = "test"  # a lab result: positive, negative or inconclusive
    CASE = "case"  # a confirmed case the person is (their infectious window)
    EXPOSURE = "exposure"  # found by tracing: close or secondary contact of a case
    SYMPTOMS = "symptoms"  # reported by the person (or their guardian)
    QUARANTINE = "quarantine"  # a completed quarantine, recorded by a health officer
    VACCINATION = "vaccination"  # a vaccine dose; only where the city enables it
    ORDER = "order"  # a manual health order in force (never read by rules: see RULE_KINDS)


# The kinds a rule may apply to and read: everything but manual orders, which are not evidence.
RULE_KINDS: tuple[FactKind, ...] = tuple(k for k in FactKind if k is not FactKind.ORDER)


class Symptom(StrEnum):
    FEVER = "fever"
    COUGH = "cough"
    SORE_THROAT = "sore_throat"
    LOSS_OF_SMELL = "loss_of_smell"
    SHORTNESS_OF_BREATH = "shortness_of_breath"
    FATIGUE = "fatigue"


# The attributes each kind carries besides its kind and time, with their JSON type. A rule reads a
# fact as {"kind", "time", ...these}; times are ISO 8601 UTC strings, as CertLogic expects. A
# fact's id is not there: no identifier of a fact, a person, a venue or a place is anything a
# rule could read, so no rule can single anybody out.
ATTRIBUTES: Mapping[FactKind, Mapping[str, type]] = {
    FactKind.TEST: {"result": str},
    FactKind.CASE: {"window_start": str, "window_end": str, "closed": bool},
    FactKind.EXPOSURE: {"level": str, "minutes": int},
    FactKind.SYMPTOMS: {"symptoms": list},
    FactKind.QUARANTINE: {"days": int},
    FactKind.VACCINATION: {"dose": int, "product": str},
}
COMMON = ("kind", "time")

# Where rules find all of a person's facts of one kind: {"facts": {"tests": [...], ...}}.
LISTS: Mapping[str, FactKind] = {
    "tests": FactKind.TEST,
    "cases": FactKind.CASE,
    "exposures": FactKind.EXPOSURE,
    "symptoms": FactKind.SYMPTOMS,
    "quarantines": FactKind.QUARANTINE,
    "vaccinations": FactKind.VACCINATION,
}
LIST_OF = {kind: name for name, kind in LISTS.items()}

# Closed value sets, also used to build sample facts when a rule set is validated.
VALUES: Mapping[tuple[FactKind, str], tuple[str, ...]] = {
    (FactKind.TEST, "result"): ("positive", "negative", "inconclusive"),
    (FactKind.EXPOSURE, "level"): ("close", "secondary"),
    (FactKind.VACCINATION, "product"): ("inactivated", "mrna", "vector", "protein"),
}

MAX_QUARANTINE_DAYS = 28
MAX_DOSE = 6


@dataclass(frozen=True, slots=True)
class Fact:
    fact_id: str
    kind: FactKind
    time: int  # epoch seconds: sample, case opening, exposure start, onset, end, dose
    attrs: Mapping[str, str | int | bool | Sequence[str]] = field(default_factory=dict)


@functools.lru_cache(maxsize=65536)
def iso(epoch: int) -> str:
    """Epoch seconds as the UTC date-time text CertLogic reads (cached: the same few times recur
    across a person's facts and across the people traced together)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_data(fact: Fact) -> dict[str, object]:
    """The fact as a rule sees it."""
    data: dict[str, object] = {"kind": fact.kind.value, "time": iso(fact.time)}
    for name, value in fact.attrs.items():
        data[name] = list(value) if isinstance(value, list | tuple) else value
    return data


def facts_data(
    facts: Sequence[Fact], seen: dict[str, dict[str, object]] | None = None
) -> dict[str, list[dict[str, object]]]:
    """All of a person's facts, by list, oldest first. Each fact's data is also left in `seen`
    (by fact id), if given, for the rules that look at one fact (domain/status.py: derive)."""
    lists: dict[str, list[dict[str, object]]] = {name: [] for name in LISTS}
    for fact in sorted(facts, key=lambda f: (f.time, f.fact_id)):
        name = LIST_OF.get(fact.kind)
        if name is not None:  # manual orders are in no list: rules never see them
            data = as_data(fact)
            lists[name].append(data)
            if seen is not None:
                seen[fact.fact_id] = data
    return lists


def new_fact_id(kind: FactKind) -> str:
    return new_fact_ids(kind, 1)[0]


def new_fact_ids(kind: FactKind, count: int) -> list[str]:
    """`count` new ids (the kind's letter and 64 random bits each), from one read of the system's
    randomness, not one each (a trace stores thousands of exposures)."""
    random = secrets.token_bytes(8 * count).hex()
    return [kind.value[0] + random[at : at + 16] for at in range(0, 16 * count, 16)]


# -- facts a person or an officer records (the others come from labs and tracing) ---------------


@dataclass(frozen=True, slots=True)
class RecordedFact:
    """A symptom report, a completed quarantine or a vaccination, as stored."""

    fact_id: str
    subject_id: str
    kind: FactKind
    time: int
    detail: str  # symptoms: "fever,cough"; quarantine: "14"; vaccination: "2:mrna"
    recorded_at: int
    recorded_by: str  # the role that recorded it: resident, guardian, health_officer
    withdrawn_at: int | None = None  # an appeal against it was granted: no colour rests on it
    withdrawn_by_appeal: str | None = None

    def as_fact(self) -> Fact:
        if self.kind is FactKind.SYMPTOMS:
            return Fact(self.fact_id, self.kind, self.time, {"symptoms": self.detail.split(",")})
        if self.kind is FactKind.QUARANTINE:
            return Fact(self.fact_id, self.kind, self.time, {"days": int(self.detail)})
        dose, _, product = self.detail.partition(":")
        return Fact(self.fact_id, self.kind, self.time, {"dose": int(dose), "product": product})


RECORDABLE = (FactKind.SYMPTOMS, FactKind.QUARANTINE, FactKind.VACCINATION)


def symptoms_detail(values: Sequence[str]) -> str:
    if not values:
        raise InvalidInput("name at least one symptom", field="symptoms", code="empty")
    chosen = {
        parse_choice(Symptom, v, field="symptoms", code="unknown_symptom", what="symptom")
        for v in values
    }
    return ",".join(sorted(s.value for s in chosen))


def quarantine_detail(days: int) -> str:
    if not 1 <= days <= MAX_QUARANTINE_DAYS:
        raise InvalidInput(
            "a quarantine lasts 1 to %(max_quarantine_days)s days",
            field="days",
            code="out_of_range",
            params={"max_quarantine_days": MAX_QUARANTINE_DAYS},
        )
    return str(days)


def vaccination_detail(dose: int, product: str) -> str:
    if not 1 <= dose <= MAX_DOSE:
        raise InvalidInput(
            "dose is 1 to %(max_dose)s",
            field="dose",
            code="out_of_range",
            params={"max_dose": MAX_DOSE},
        )
    if product not in VALUES[(FactKind.VACCINATION, "product")]:
        choices = ", ".join(VALUES[(FactKind.VACCINATION, "product")])
        raise InvalidInput(
            "vaccine product must be one of %(choices)s",
            field="product",
            code="unknown_product",
            params={"choices": choices},
        )
    return f"{dose}:{product}"


def hypothetical(index: int, kind: str, time: int, attrs: Mapping[str, object]) -> Fact:
    """A fact someone asks "what if" about: same vocabulary and checks as a real one."""
    where = f"facts[{index}]"
    chosen = parse_choice(FactKind, kind, field=f"{where}.kind", code="unknown_fact", what="fact")
    if chosen is FactKind.CASE:
        raise InvalidInput(
            "a case is opened by a positive test: ask about a positive test instead",
            field=f"{where}.kind",
            code="unknown_fact",
        )
    if chosen is FactKind.ORDER:
        raise InvalidInput(
            "a manual order is not a health fact to ask about: see your orders instead",
            field=f"{where}.kind",
            code="unknown_fact",
        )
    extra = sorted(set(attrs) - set(ATTRIBUTES[chosen]))
    if extra:
        raise InvalidInput(
            "a %(value)s fact has no %(extra)s",
            field=f"{where}.{extra[0]}",
            params={"value": chosen.value, "extra": repr(extra[0])},
        )
    values: dict[str, str | int | bool | Sequence[str]] = {}
    for name, wanted in ATTRIBUTES[chosen].items():
        value = attrs.get(name)
        closed = VALUES.get((chosen, name))
        ok = (isinstance(value, wanted) and not isinstance(value, bool)) or wanted is bool
        if value is None or not ok or (closed and value not in closed):
            expected = f"one of {', '.join(closed)}" if closed else f"a {wanted.__name__}"
            raise InvalidInput(
                "needs %(name)s: %(expected)s",
                field=f"{where}.{name}",
                params={"name": name, "expected": expected},
            )
        values[name] = value  # type: ignore[assignment]
    try:
        _check_detail(chosen, values)
    except InvalidInput as exc:
        raise InvalidInput(
            exc.template, field=f"{where}.{exc.field}", code=exc.code, params=exc.params
        ) from None
    return Fact(f"h{index}", chosen, time, values)


def _check_detail(kind: FactKind, values: dict[str, str | int | bool | Sequence[str]]) -> None:
    if kind is FactKind.SYMPTOMS:
        symptoms = values["symptoms"]
        values["symptoms"] = symptoms_detail(list(symptoms)).split(",")  # type: ignore[arg-type]
    elif kind is FactKind.QUARANTINE:
        quarantine_detail(int(values["days"]))  # type: ignore[arg-type]
    elif kind is FactKind.VACCINATION:
        vaccination_detail(int(values["dose"]), str(values["product"]))  # type: ignore[arg-type]
    elif kind is FactKind.EXPOSURE and not 0 <= int(values["minutes"]) <= 1440:  # type: ignore[arg-type]
        raise InvalidInput("minutes is 0 to 1440", field="minutes")
