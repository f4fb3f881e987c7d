"""Labs and their results (AUTHZ-8, domain/labs.py): a lab is registered by two people with its
own public key, and only a lab submits results (CSV rows, JSON rows or an HL7 FHIR R4 Bundle:
adapters/fhir.py), each submission signed with its key. Positives open cases.

Every row is checked before anything is written; one bad row refuses the whole import, with
every bad row reported by line (REL-4). Results and the cases they open are written in one
transaction with their log entries: the import as counts (per lab: results, positives, and the
positives that answer no test request or have no epidemiological link), each opened case with
the subject's commitment (never the lab's test id, which the lab could link back to the person).
A sample the lab has only *registered* (result `registered`) is a test request, kept until
retention ends.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import Actor, LogEntry, commitment
from healthcode.domain.cases import DAY, Case, LabResult, TestResult, open_case
from healthcode.domain.errors import N_, DomainError, Forbidden, InvalidInput, parse_choice
from healthcode.domain.facts import FactKind
from healthcode.domain.identity import date_of, validate_document
from healthcode.domain.labs import LINK_DAYS, Lab, LabSample
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.ports import UnitOfWork
from healthcode.services.status import refresh

COLUMNS = ("test_id", "doc_type", "doc_number", "sample_time", "result")  # and "lab", optional
REGISTERED = "registered"  # a sample received, its result still to come: the test request
TOKEN = re.compile(r"^[A-Za-z0-9._/-]{1,64}$")
LAB_BASIS = "infectious_disease_reporting"
MAX_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class LabRow:
    line: int
    test_id: str
    doc_type: str
    doc_number: str
    sample_time: str
    result: str
    lab: str


@dataclass(frozen=True, slots=True)
class RowError:
    """A bad row: what is wrong, as a template with its parameters (see domain/errors.py)."""

    line: int
    field: str
    template: str
    params: Mapping[str, object] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template


class ImportRefused(InvalidInput):
    """At least one row is bad: nothing was imported; `errors` lists every bad row."""

    def __init__(self, errors: list[RowError]) -> None:
        first = errors[0]
        super().__init__(
            N_(
                "%(count)s bad row(s), nothing imported; first: line %(line)s: %(field)s: "
                "%(problem)s"
            ),
            field="rows",
            code="bad_rows",
            params={
                "count": len(errors),
                "line": first.line,
                "field": first.field,
                "problem": first.message,
            },
        )
        self.errors = errors


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    cases_opened: list[str] = field(default_factory=list)
    colour_changes: int = 0
    registered: int = 0  # samples registered (test requests), no result yet
    positives: int = 0
    unrequested: int = 0  # positives with no earlier registration of their sample
    unlinked: int = 0  # positives with no exposure and no symptoms in the 14 days before


def parse_csv(text: str) -> list[LabRow]:
    """The rows of a lab's CSV file; a file that is not CSV at all is refused with the line."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _rows(reader)
    except csv.Error as exc:
        raise InvalidInput(
            "not valid CSV after line %(line_num)s: %(exc)s",
            field="file",
            code="csv_format",
            params={"line_num": reader.line_num, "exc": exc},
        ) from None


def _rows(reader: csv.DictReader[str]) -> list[LabRow]:
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            "CSV header lacks %(join)s; expected %(join2)s",
            field="header",
            code="csv_header",
            params={"join": ", ".join(missing), "join2": ", ".join(COLUMNS)},
        )
    rows: list[LabRow] = []
    for number, raw in enumerate(reader, start=2):  # line 1 is the header
        if len(rows) >= MAX_ROWS:
            raise InvalidInput(
                "at most %(max_rows)s rows per file",
                field="rows",
                code="too_many",
                params={"max_rows": MAX_ROWS},
            )
        values = [(raw.get(c) or "").strip() for c in (*COLUMNS, "lab")]
        rows.append(LabRow(number, *values))
    return rows


def parse_time(text: str) -> int:
    """Epoch seconds, or ISO 8601 with an explicit offset (a lab's local time is ambiguous)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected ISO 8601 like 2026-11-20T08:30:00+08:00") from None
    if moment.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. +08:00")
    return int(moment.timestamp())


@dataclass(frozen=True, slots=True)
class _Checked:
    row: LabRow
    subject_id: str
    sample_time: int
    result: TestResult | None  # None: a registered sample


def _check_row(ctx: ServiceContext, uow: UnitOfWork, row: LabRow, lab: Lab, now: int) -> _Checked:
    if not TOKEN.match(row.test_id):
        raise InvalidInput("1 to 64 letters, digits, '.', '_', '/' or '-'", field="test_id")
    if row.lab and row.lab != lab.code:
        raise InvalidInput(
            "a lab submits its own results only: this is %(code)s",
            field="lab",
            code="lab",
            params={"code": lab.code},
        )
    text = row.result.lower()
    result = (
        None
        if text == REGISTERED
        else parse_choice(TestResult, text, field="result", code="result", what="result")
    )
    try:
        sample_time = parse_time(row.sample_time)
    except ValueError as exc:
        raise InvalidInput(
            "the sample time cannot be read: %(reason)s",
            field="sample_time",
            params={"reason": str(exc)},
        ) from None
    if sample_time > now + ctx.policy.clock_skew_seconds:
        raise InvalidInput("sample time is in the future", field="sample_time")
    doc_type, doc_number = validate_document(row.doc_type, row.doc_number, date_of(now))
    subject_id = uow.vault.find_document(doc_type, doc_number)
    if subject_id is None:
        raise InvalidInput("no enrolled resident holds this document", field="doc_number")
    return _Checked(row, subject_id, sample_time, result)


def _check_all(
    ctx: ServiceContext, uow: UnitOfWork, rows: Sequence[LabRow], lab: Lab, now: int
) -> list[_Checked]:
    errors: list[RowError] = []
    checked: list[_Checked] = []
    seen: dict[tuple[str, bool], int] = {}
    for row in rows:
        key = (row.test_id, row.result.lower() == REGISTERED)
        if key in seen:
            errors.append(
                RowError(
                    row.line,
                    "test_id",
                    "same lab and test id as line %(line)s",
                    {"line": seen[key]},
                )
            )
            continue
        seen[key] = row.line
        try:
            checked.append(_check_row(ctx, uow, row, lab, now))
        except DomainError as exc:
            errors.append(RowError(row.line, exc.field or "row", exc.template, exc.params))
    if errors:
        raise ImportRefused(errors)
    return checked


def lab_principal(lab: Lab) -> Principal:
    """The principal a lab acts as once its signature is checked."""
    return Principal(PrincipalKind.LAB, lab.lab_id, Role.LAB)


def _active_lab(uow: UnitOfWork, lab: Principal) -> Lab:
    found = uow.labs.get(lab.ref) if lab.kind == PrincipalKind.LAB else None
    if found is None or found.state != "active":
        raise Forbidden("results come from registered labs only, signed with their key",
                        code="not_a_lab")  # fmt: skip
    return found


def _linked(uow: UnitOfWork, results: list[LabResult]) -> set[str]:
    """The people among positives with an epidemiological link: an exposure found by tracing,
    or symptoms they reported, in the 14 days before their sample."""
    people = sorted({r.subject_id for r in results})
    sample = {r.subject_id: r.sample_time for r in results}
    window = LINK_DAYS * DAY
    linked: set[str] = set()
    for who, found in uow.exposures.of_subjects(people).items():
        if any(e.withdrawn_at is None and 0 <= sample[who] - e.start <= window for e in found):
            linked.add(who)
    for who, facts in uow.health_facts.of_subjects(people).items():
        if any(f.kind is FactKind.SYMPTOMS and f.withdrawn_at is None
               and 0 <= sample[who] - f.time <= window for f in facts):  # fmt: skip
            linked.add(who)
    return linked


def import_results(ctx: ServiceContext, rows: Sequence[LabRow], lab: Principal) -> ImportReport:
    """A registered lab's results (and sample registrations), signed by it: `lab` is the
    principal its signature proved (services/auth.authenticate_lab)."""
    if not rows:
        raise InvalidInput("no rows to import", field="rows", code="empty")
    now = ctx.clock.now()
    report = ImportReport()
    with ctx.uow() as uow:
        require_emergency(uow)
        source = _active_lab(uow, lab)
        checked = _check_all(ctx, uow, rows, source, now)
        samples = [
            LabSample(source.code, c.row.test_id, c.subject_id, c.sample_time, now)
            for c in checked
            if c.result is None
        ]
        report.registered = uow.labs.register_samples(samples)
        finals = [c for c in checked if c.result is not None]
        known = uow.cases.known_tests([(source.code, c.row.test_id) for c in finals])
        fresh = [c for c in finals if (source.code, c.row.test_id) not in known]
        report.duplicates = len(finals) - len(fresh)
        results = [
            LabResult(source.code, c.row.test_id, c.subject_id, c.sample_time, c.result, now)
            for c in fresh
            if c.result is not None
        ]
        uow.cases.add_results(results)
        report.imported = len(results)
        positives = [r for r in results if r.result is TestResult.POSITIVE]
        report.positives = len(positives)
        requested = uow.labs.registered([(r.lab, r.test_id) for r in positives])
        report.unrequested = sum(1 for r in positives if (r.lab, r.test_id) not in requested)
        linked = _linked(uow, positives)
        report.unlinked = sum(1 for r in positives if r.subject_id not in linked)
        actor = Actor("lab", f"lab:{source.lab_id}")
        for result in sorted(positives, key=lambda r: r.sample_time):
            case = _open_case_once(ctx, uow, result, now, actor)
            if case is not None:
                report.cases_opened.append(case.case_id)
        changes = refresh(ctx, uow, {r.subject_id for r in results}, now, actor, "lab_result")
        report.colour_changes = len(changes)
        uow.log.append(
            LogEntry(
                "lab_results.imported",
                actor,
                "lab",
                f"lab:{source.lab_id}",
                "case_finding",
                LAB_BASIS,
                details={
                    "lab": source.code.lower(),  # a token, as every detail
                    "imported": report.imported,
                    "duplicates": report.duplicates,
                    "registered": report.registered,
                    "positives": report.positives,
                    "unrequested": report.unrequested,
                    "unlinked": report.unlinked,
                    "cases_opened": len(report.cases_opened),
                    "colour_changes": report.colour_changes,
                },
            ),
            now,
        )
        uow.commit()
    return report


def _open_case_once(
    ctx: ServiceContext, uow: UnitOfWork, result: LabResult, now: int, actor: Actor
) -> Case | None:
    """A positive opens a case, unless the person already has an open one."""
    if uow.cases.open_case_of(result.subject_id) is not None:
        return None
    case = open_case(result, ctx.policy.infectious_days_before, isolation_at=now)
    uow.cases.add_case(case)
    identity = uow.vault.get(result.subject_id)
    subject_ref = commitment(identity.commit_key, result.subject_id) if identity else "erased"
    uow.log.append(
        LogEntry(
            "case.opened",
            actor,
            "case",
            case.case_id,
            "case_finding",
            LAB_BASIS,
            details={"subject": subject_ref},
        ),
        now,
    )
    return case


def open_cases(ctx: ServiceContext) -> list[Case]:
    with ctx.uow(read_only=True) as uow:
        return uow.cases.open_cases()


@dataclass(frozen=True, slots=True)
class CaseState:
    """What the cases list shows of a case beside its id: who works on it, how far tracing got
    (counts only: the contacts themselves are behind the case's own page and its gate)."""

    officers: list[str]  # the usernames of the staff it is assigned to
    close: int  # close contacts found so far
    secondary: int
    traced: bool  # traced, and a contact found (an exposure not withdrawn)


def case_states(ctx: ServiceContext, case_ids: list[str]) -> dict[str, CaseState]:
    """Every case's state in one read of the people their exposures name (not every exposure:
    a case of 2,000 contacts has some 20,000)."""
    with ctx.uow(read_only=True) as uow:
        people = uow.exposures.people_of_cases(case_ids)
        found = {}
        for case_id in case_ids:
            names = [a.username for s in uow.assignments.staff_of(case_id)
                     if (a := uow.staff.get(s)) is not None]  # fmt: skip
            close = sum(1 for p in people[case_id] if p.best.level == "close")
            found[case_id] = CaseState(
                names, close, len(people[case_id]) - close, bool(people[case_id])
            )
        return found
