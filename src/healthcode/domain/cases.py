"""Lab results and cases.

A positive result opens a case, whose infectious window runs from N days before the sample (or
the symptom onset, if earlier) until isolation. Tracing looks for overlaps inside that window.
A later positive of a person with an open case joins that case instead of opening another.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

DAY = 86400


class TestResult(StrEnum):
    __test__ = False  # not a pytest test class, despite the name

    POSITIVE = "positive"
    NEGATIVE = "negative"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class LabResult:
    lab: str
    test_id: str
    subject_id: str
    sample_time: int
    result: TestResult
    imported_at: int


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    subject_id: str
    index_test: str  # "<lab>/<test id>" of the positive that opened it
    window_start: int
    window_end: int
    opened_at: int
    closed_at: int | None = None


def infectious_window(
    sample_time: int, isolation_at: int, days_before: int, onset: int | None = None
) -> tuple[int, int]:
    """[earliest of sample and onset − N days, isolation]: when the person could infect others."""
    start = min(sample_time, onset if onset is not None else sample_time) - days_before * DAY
    return start, max(isolation_at, sample_time)


def open_case(
    result: LabResult, days_before: int, isolation_at: int, onset: int | None = None
) -> Case:
    start, end = infectious_window(result.sample_time, isolation_at, days_before, onset)
    return Case(
        "k" + secrets.token_hex(8),
        result.subject_id,
        f"{result.lab}/{result.test_id}",
        start,
        end,
        isolation_at,
    )
