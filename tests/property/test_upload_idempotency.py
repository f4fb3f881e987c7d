"""Offline uploads are idempotent under retries and reordering (SQLite, real queries).

A venue device that lost its connection uploads its scans again and again, in overlapping
batches and in any order. Whatever the plan, the stored check-ins are those of uploading each
scan once: every client id exactly once, with the person and time of its scan. Each upload
reports a scan already stored as a duplicate, and a bad scan as rejected every time.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.checkins import CheckInSource
from healthcode.domain.identity import mod11_2_check_char
from healthcode.services import checkins, codes, enrolment, venues
from healthcode.services.checkins import UploadItem
from tests.conftest import sqlite_app

ADMIN = Actor("authority_admin", "officer-1")
PEOPLE = 2
JUNK = "HCODE1:NONSENSE"
_documents = itertools.count()


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[App]:
    app = sqlite_app(tmp_path_factory.mktemp("uploads"), sqlite_template)
    yield app
    app.close()


def fresh_document() -> str:
    """A valid PRC id number nobody has enrolled with yet."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=next(_documents))
    body = f"110105{born:%Y%m%d}001"
    return body + mod11_2_check_char(body)


@dataclass(frozen=True)
class Scan:
    person: int
    junk: bool  # an unreadable code: rejected on every upload
    after: int  # seconds after the previous scan


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Scan], list[tuple[list[int], int]], list[int]]:
    """Scans, then upload batches (indices into the scans, repeats allowed, with how many
    times each batch is retried), then a final upload of everything in some order."""
    scans = draw(
        st.lists(
            st.builds(
                Scan,
                st.integers(0, PEOPLE - 1),
                st.sampled_from([False] * 5 + [True]),
                st.integers(1, 600),
            ),
            min_size=1,
            max_size=8,
        )
    )
    index = st.integers(0, len(scans) - 1)
    batches = draw(
        st.lists(st.tuples(st.lists(index, max_size=2 * len(scans)), st.integers(1, 3)), max_size=5)
    )
    final = draw(st.permutations(range(len(scans))))
    return scans, batches, final


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans())
def test_any_plan_of_retried_overlapping_uploads_stores_each_scan_once(
    device: App, plan: tuple[list[Scan], list[tuple[list[int], int]], list[int]]
) -> None:
    scans, batches, final = plan
    ctx, clock = device.ctx, device.ctx.clock
    assert isinstance(clock, FixedClock)
    # Fresh people and venue per example: the daily cap counts a person's check-ins everywhere.
    people = [
        enrolment.enrol_resident(
            ctx, enrolment.EnrolResident("吴一", "prc_id", fresh_document(), "13812345678")
        ).subject_id
        for _ in range(PEOPLE)
    ]
    cmd = venues.RegisterVenue("面馆", None, "1 Main St", "Yuexiu", "restaurant", "Wang Ltd")
    venue_id = venues.register_venue(ctx, cmd, ADMIN).venue.venue_id
    items = []
    for number, scan in enumerate(scans):
        clock.advance(scan.after)  # the code is shown and scanned at once: valid when scanned
        code = JUNK if scan.junk else codes.issue_health_code(ctx, people[scan.person]).text
        items.append(UploadItem(f"dev-{venue_id}-{number:04d}", code, clock.now()))
    clock.advance(3600)  # the device comes back online later

    stored: set[str] = set()
    for batch, tries in [*batches, (final, 1)]:
        for _ in range(tries):
            sent = [items[i] for i in batch]
            report = checkins.upload_scans(ctx, venue_id, sent)
            accepted, duplicates, rejected = [], [], []
            for item in sorted(sent, key=lambda i: i.scanned_at):
                if item.client_id in stored:
                    duplicates.append(item.client_id)
                elif item.code == JUNK:
                    rejected.append(item.client_id)
                else:
                    accepted.append(item.client_id)
                    stored.add(item.client_id)
            assert sorted(report.accepted) == sorted(accepted)
            assert sorted(report.duplicates) == sorted(duplicates)
            assert sorted(r.client_id for r in report.rejected) == sorted(rejected)

    # The same check-ins as uploading each good scan once: same person, time and source.
    found = [c for person in people for c in checkins.my_checkins(ctx, person)]
    assert all(c.venue_id == venue_id and c.source is CheckInSource.DEVICE_BATCH for c in found)
    by_client = sorted((c.client_id, c.subject_id, c.time_in) for c in found)
    expected = sorted(
        (item.client_id, people[scan.person], item.scanned_at)
        for item, scan in zip(items, scans, strict=True)
        if not scan.junk
    )
    assert by_client == expected  # every client id exactly once
