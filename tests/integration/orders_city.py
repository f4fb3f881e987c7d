"""A small city for the manual-order and appeal tests: residents, officers of every role, and a
traced case whose contacts are coloured by the published rules."""

from __future__ import annotations

import json
from pathlib import Path

from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import SYSTEM
from healthcode.domain.documents import mod11_2_check_char
from healthcode.services import audit, enrolment, status
from healthcode.services.labs import parse_csv
from healthcode.services.ports import StoredExposure
from tests.conftest import make_settings
from tests.support.labs import import_results as lab_import
from tests.support.staff import appoint, principal_of

PASSWORD = "correct horse battery staple"
REASON = "在封控区内多次聚集，需居家观察"  # the officer's words: shown to the resident only
BASIS = "idcl2013_art41"
NAMES = ("冯一", "冯二", "冯三", "冯四", "冯五", "冯六", "冯七", "冯八", "冯九")


def order_settings(tmp_path: Path, database_url: str) -> Settings:
    """Small limits, so quotas and the freeze threshold are reached with a few residents."""
    return make_settings(
        tmp_path / "data",
        database_url,
        order_freeze_threshold=2,
        order_quota_per_officer_day=3,
        order_subjects_per_officer_day=5,
    )


def doc_number(i: int) -> str:
    body = f"11010519900101{i:03d}"
    return body + mod11_2_check_char(body)


def resident(app: App, i: int) -> str:
    cmd = enrolment.EnrolResident(NAMES[i], "prc_id", doc_number(i), f"1381234{i:04d}")
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def officer(app: App, username: str, role: Role) -> Principal:
    return principal_of(appoint(app, role.value, username=username))


def as_resident(subject_id: str) -> Principal:
    return Principal(PrincipalKind.RESIDENT, subject_id, Role.RESIDENT)


def entries(app: App, action: str | None = None) -> list[dict[str, object]]:
    found = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    return [e for e in found if action is None or e["action"] == action]


def log_text(app: App) -> str:
    return "\n".join(json.loads(line)["entry"] for line in audit.export_lines(app.ctx))


def colour(app: App, subject_id: str) -> tuple[str, str, tuple[str, ...]]:
    s = status.status_of(app.ctx, subject_id).status
    return s.colour, s.rule_ref, s.evidence


def exposed(app: App, subject_id: str, level: str, exposure_id: str = "x1") -> None:
    """`subject_id` met a confirmed case (a close or secondary contact), coloured by the rules."""
    now = app.ctx.clock.now()
    case_doc = doc_number(99)
    enrolment.enrol_resident(
        app.ctx, enrolment.EnrolResident("冯例", "prc_id", case_doc, "13900000099")
    )
    rows = parse_csv(
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-1,prc_id,{case_doc},{now - 3600},positive,LAB1\n"
    )
    (case_id,) = lab_import(app, rows).cases_opened
    with app.ctx.uow() as uow:
        exposure = StoredExposure(
            exposure_id, subject_id, case_id, level, "v1", now - 7200, now - 3600,
            "c1", "c0", None, now,
        )  # fmt: skip
        uow.exposures.add_new([exposure])
        status.refresh(app.ctx, uow, [subject_id], now, SYSTEM, "traced")
        uow.commit()
