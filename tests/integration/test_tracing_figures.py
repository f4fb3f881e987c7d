"""The figures tracing is judged by (services/tracing_figures.py), on the office dashboard: cases
opened per day, close contacts found per case, hours from a case's sample to its contacts'
notices (median, 90th percentile), by the city's calendar. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.audit import SYSTEM
from healthcode.entrypoints.web.app import create_app
from healthcode.services import checkins, enrolment, trace, venues
from healthcode.services.labs import parse_csv
from healthcode.services.tracing_figures import percentile, tracing_figures
from tests.conftest import staff_headers
from tests.support.labs import import_results

ZONE = "Asia/Shanghai"
HOUR = 3600


def test_the_days_figures_follow_a_traced_case(app: App, clock: FixedClock) -> None:
    made = venues.register_venue(
        app.ctx, venues.RegisterVenue("老街餐厅", "Old Street", "1 Road", "Tianhe", "restaurant",
                                      "Op Co"), SYSTEM)  # fmt: skip
    people = [
        enrolment.enrol_resident(
            app.ctx, enrolment.EnrolResident("张三", "passport", f"E{n:08d}", f"139{n:08d}")
        ).subject_id
        for n in range(4)
    ]
    for who in people:
        checkins.check_in_at_place(app.ctx, who, made.poster.payload)
    clock.advance(HOUR)
    sampled = clock.now()
    rows = parse_csv("test_id,doc_type,doc_number,sample_time,result,lab\n"
                     f"T-1,passport,E00000000,{sampled},positive,LAB1\n")  # fmt: skip
    (case_id,) = import_results(app, rows).cases_opened
    clock.advance(5 * HOUR)  # the trace, and its notices, five hours after the sample
    trace.trace_case(app.ctx, case_id, SYSTEM, depth=1)

    days = tracing_figures(app.ctx, ZONE)
    assert len(days) == 14
    today = datetime.fromtimestamp(clock.now(), ZoneInfo(ZONE)).date()
    assert days[-1].day == today
    opened = datetime.fromtimestamp(sampled, ZoneInfo(ZONE)).date()  # a city day, not UTC's
    assert [d.cases for d in days] == [int(d.day == opened) for d in days]
    (that_day,) = [d for d in days if d.cases]
    assert that_day.contacts_per_case == 3
    told = [d for d in days if d.notices]
    assert sum(d.notices for d in told) == 3
    assert told[-1].sample_to_notice_median_h == 5
    assert told[-1].sample_to_notice_p90_h == 5

    with TestClient(create_app(built=app)) as client:
        page = client.get("/office", headers=staff_headers(app, "health_officer"))
    assert page.status_code == 200
    assert 'data-testid="tracing-figures"' in page.text
    assert "从采样到发出通知的小时数" in page.text
    assert ZONE in page.text


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.9) == 9
    assert percentile(values, 0.5) == 5
    assert percentile([7.0], 0.9) == 7
