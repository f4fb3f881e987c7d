"""Request and response models for rules, colours, notices and recorded health facts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from healthcode.entrypoints.web.schemas import Strict


class TextOut(BaseModel):
    zh: str
    en: str


class RuleOut(BaseModel):
    id: str
    ref: str  # rule set@version#rule, as on codes
    colour: str
    fact: str
    lasts_days: int
    description: TextOut
    advice: TextOut
    logic: Any = Field(description="The CertLogic condition, as published")


class RuleSetOut(BaseModel):
    ruleset: str
    version: int
    ref: str
    title: TextOut
    description: TextOut
    refuse_at_gate: list[str]
    active: bool
    digest: str
    loaded_at: int
    activated_at: int | None
    rules: list[RuleOut]


class ActivationRequestOut(BaseModel):
    """A request to activate a version: an entry on the public log, approved by its number."""

    seq: int = Field(description="The request's entry on the log: what the approver names")
    ruleset: str
    version: int
    ref: str
    requested_by: str
    requester_role: str
    requested_at: int
    expires_at: int


class ActivationOut(BaseModel):
    ruleset: RuleSetOut
    colour_changes: int
    request: int = Field(description="The approved request's entry on the log")


class ShiftOut(BaseModel):
    before: str
    after: str
    rule_ref: str
    people: int


class RuleProblemOut(BaseModel):
    rule_ref: str
    people: int


class CountOut(BaseModel):
    value: str
    people: int


class SpreadOut(BaseModel):
    """Where the people who would turn yellow or red are: the largest groups by venue,
    district, UTC day and UTC hour of the evidence their new colour rests on."""

    coloured: int
    venues: list[CountOut]
    districts: list[CountOut]
    days: list[CountOut] = Field(description="UTC day starts (epoch seconds)")
    hours: list[CountOut] = Field(description="UTC hour starts (epoch seconds)")
    concentrated: CountOut | None = Field(
        description="One venue, district or hour (value: 'venue:<id>', 'district:<name>', "
        "'hour:<epoch>') holding at least the published share: an auditor must approve."
    )


class DryRunOut(BaseModel):
    """How many colours would change if the candidate were activated now (counts only)."""

    candidate: str
    active: str
    at: int
    people: int = Field(description="Everyone considered")
    changed: int = Field(description="Of whom this many would change colour")
    shifts: list[ShiftOut]
    problems: list[RuleProblemOut]
    spread: SpreadOut


class EvidenceOut(BaseModel):
    fact_id: str
    kind: str
    time: int
    summary: dict[str, str | int]


class FindingOut(BaseModel):
    rule_ref: str
    colour: str
    fact_id: str
    until: int


class StatusOut(BaseModel):
    """A colour with its provenance: the rule (in words) and the facts behind it."""

    subject_id: str
    colour: str
    rule_ref: str
    since: int | None
    until: int | None = Field(description="When the colour runs out unless new facts arrive")
    ruleset: str
    ruleset_title: TextOut
    rule: RuleOut | None = Field(description="The rule behind the colour; none when green")
    evidence: list[EvidenceOut]
    also_applies: list[FindingOut]
    problems: list[str]


class HypotheticalFactIn(Strict):
    kind: str = Field(max_length=16, examples=["test"])
    time: int = Field(ge=0, le=2**40)
    result: str | None = Field(None, max_length=16, examples=["negative"])
    level: str | None = Field(None, max_length=16)
    minutes: int | None = Field(None, ge=0, le=1440)
    symptoms: list[str] | None = Field(None, max_length=8)
    days: int | None = Field(None, ge=0, le=365)
    dose: int | None = Field(None, ge=0, le=100)
    product: str | None = Field(None, max_length=24)

    def attrs(self) -> dict[str, object]:
        return self.model_dump(exclude={"kind", "time"}, exclude_none=True)


class WhatIfIn(Strict):
    facts: list[HypotheticalFactIn] = Field(max_length=20)
    at: int | None = Field(None, ge=0, le=2**40, description="When to evaluate (default now)")


class NoticeOut(BaseModel):
    """An exposure notice: where, which day, the rule and what to do — never who the case is."""

    notice_id: str
    kind: str
    venue_id: str
    venue_name: str | None = Field(description="In Chinese where the venue has a Chinese name")
    venue_name_en: str | None = Field(description="In English where it has an English name")
    day: int = Field(description="Start (UTC) of the day of the exposure")
    level: str
    colour: str
    rule_ref: str
    rule: TextOut | None
    advice: TextOut | None
    created_at: int


class SymptomsIn(Strict):
    symptoms: list[str] = Field(min_length=1, max_length=8, examples=[["fever", "cough"]])
    onset: int = Field(ge=0, le=2**40)


class QuarantineIn(Strict):
    completed_at: int = Field(ge=0, le=2**40)
    days: int = Field(ge=1, le=365)


class VaccinationIn(Strict):
    dose: int = Field(ge=1, le=100)
    product: str = Field(max_length=24, examples=["inactivated"])
    given_at: int = Field(ge=0, le=2**40)


class RecordedOut(BaseModel):
    fact_id: str
    kind: str
    time: int
    colour_changes: int


class SweepOut(BaseModel):
    colour_changes: int
