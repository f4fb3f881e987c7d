"""A log entry holds tokens only (AUD-7: free text is where personal data would creep in), and
the check says the same the first time and every time after (it is remembered per word)."""

from __future__ import annotations

import pytest

from healthcode.domain.audit import SYSTEM, LogEntry
from healthcode.domain.published import as_token


def entry(**changes: object) -> LogEntry:
    fields: dict[str, object] = {
        "action": "case.visits_read",
        "actor": SYSTEM,
        "object_kind": "subject",
        "object_ref": "c:0123",
        "purpose": "contact_tracing",
        "basis": "infectious_disease_control",
    }
    fields.update(changes)
    return LogEntry(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"action": "Case.Traced"},
        {"action": "case.traced\n"},  # a line break after a token is not a token
        {"purpose": "contact tracing"},
        {"basis": ""},
        {"outcome": "refused:" + "x" * 100},
        {"details": {"Name": 1}},
        {"details": {"name": "张三"}},
        {"details": {"case": "k1\n"}},
    ],
)
def test_anything_but_a_token_is_refused_every_time(changes: dict[str, object]) -> None:
    for _ in range(2):  # the second time from what was remembered
        with pytest.raises(ValueError, match="token"):
            entry(**changes)


def test_tokens_and_integers_are_taken() -> None:
    for _ in range(2):
        made = entry(details={"case": "k1", "visits": 3, "via": "c:ab12"})
        assert made.details["visits"] == 3


def test_a_published_text_with_a_line_break_is_written_as_bytes() -> None:
    assert as_token("east") == "east"
    assert as_token("east\n") == "u:" + b"east\n".hex()
