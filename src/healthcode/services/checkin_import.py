"""Bulk import of check-ins by the authority (a venue operator's export, another system's data).

Every row is checked before anything is written; one bad row refuses the whole batch, with every
bad row reported by line, in the same form as a refused lab import (REL-4). The check-ins and one
log entry of counts are written in one transaction. The daily cap on check-ins per person
(DAILY_CAP) guards the public check-in paths against floods; it does not apply here: an
authority's import is a deliberate act, logged as such, and may well hold many days of visits.

Row numbers in errors count like a CSV file: the header is line 1, so rows[i] is line i + 2.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.checkins import MAX_DWELL_SECONDS, CheckIn, CheckInSource
from healthcode.domain.errors import InvalidInput
from healthcode.domain.venues import VenueType
from healthcode.services.checkins import CLIENT_ID, UPLOAD_BASIS
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.labs import ImportRefused, RowError, parse_time
from healthcode.services.ports import UnitOfWork

COLUMNS = ("venue_id", "subject_id", "time_in", "time_out", "client_id")
CHUNK = 200_000  # check-ins per write (and per progress report)
FIRST_LINE = 2  # rows[0] is line 2 of a CSV file: line 1 is the header


@dataclass(frozen=True, slots=True)
class CheckInRow:
    venue_id: str
    subject_id: str
    time_in: int  # epoch seconds
    time_out: int | None  # None = closes after the venue type's max dwell
    client_id: str | None = None


@dataclass
class BulkReport:
    imported: int
    duplicates: int  # rows whose (venue_id, client_id) already exists (idempotent re-import)


def _line(index: int) -> int:
    return index + FIRST_LINE


def parse_csv(text: str) -> list[CheckInRow]:
    """Rows of a CSV with the header venue_id,subject_id,time_in,time_out,client_id (any column
    order). Times are epoch seconds or ISO 8601 with an offset; time_out and client_id may be
    empty. Every unreadable line is reported at once (ImportRefused); a blank line inside the
    data is one, so that rows[i] stays line i + 2."""
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput(
            f"CSV header lacks {', '.join(missing)}; expected {', '.join(COLUMNS)}",
            field="header",
            code="csv_header",
        )
    at = [header.index(c) for c in COLUMNS]
    width = max(at) + 1
    rows: list[CheckInRow] = []
    errors: list[RowError] = []
    blank: list[int] = []  # blank lines, an error unless only trailing ones follow
    strings: dict[str, str] = {}  # one copy of each repeated id: a big file repeats them a lot
    for number, raw in enumerate(reader, start=FIRST_LINE):
        if not any(cell.strip() for cell in raw):
            blank.append(number)
            continue
        if blank:
            errors += [RowError(n, "row", "blank line") for n in blank]
            blank = []
        if len(raw) < width:
            errors.append(RowError(number, "row", f"expected {len(header)} fields"))
            continue
        venue, subject, time_in, time_out, client = (raw[i].strip() for i in at)
        try:
            start = parse_time(time_in)
        except ValueError as exc:
            errors.append(RowError(number, "time_in", str(exc)))
            continue
        try:
            end = parse_time(time_out) if time_out else None
        except ValueError as exc:
            errors.append(RowError(number, "time_out", str(exc)))
            continue
        rows.append(
            CheckInRow(
                strings.setdefault(venue, venue),
                strings.setdefault(subject, subject),
                start,
                end,
                client or None,
            )
        )
    if errors:
        raise ImportRefused(errors)
    return rows


@dataclass
class _Checked:
    """What checking the rows found: the check-ins to write, the duplicates, the errors."""

    fresh: list[CheckIn]
    lines: list[int]  # line of each fresh check-in
    duplicates: int
    errors: list[RowError]


def _venue_types(uow: UnitOfWork, rows: Sequence[CheckInRow]) -> dict[str, VenueType | None]:
    """Each venue named by the rows, read once: its type, or None if there is no such venue."""
    types: dict[str, VenueType | None] = {}
    for venue_id in dict.fromkeys(row.venue_id for row in rows):
        venue = uow.venues.get(venue_id) if venue_id else None
        types[venue_id] = venue.draft.venue_type if venue else None
    return types


def _row_error(row: CheckInRow, venue_type: VenueType | None, latest: int) -> RowError:
    """What is wrong with a row that failed the quick check (line 0: the caller fills it in)."""
    if venue_type is None:
        return RowError(0, "venue_id", "no such venue")
    if not row.subject_id:
        return RowError(0, "subject_id", "required")
    if row.time_in <= 0:
        return RowError(0, "time_in", "expected epoch seconds")
    if row.time_in > latest:
        return RowError(0, "time_in", "check-in time is in the future")
    if row.time_out is not None and row.time_out < row.time_in:
        return RowError(0, "time_out", "check-out before check-in")
    if row.time_out is not None:
        longest = MAX_DWELL_SECONDS[venue_type]
        return RowError(
            0, "time_out", f"stay longer than a {venue_type.value}'s {longest // 3600} h maximum"
        )
    return RowError(0, "client_id", "8 to 64 letters, digits, '-' or '_'")


def _known_client_ids(uow: UnitOfWork, rows: Sequence[CheckInRow]) -> set[tuple[str, str]]:
    """(venue_id, client_id) pairs of these rows that are already stored."""
    by_venue: dict[str, list[str]] = {}
    for row in rows:
        if row.client_id is not None:
            by_venue.setdefault(row.venue_id, []).append(row.client_id)
    return {
        (venue_id, client_id)
        for venue_id, client_ids in by_venue.items()
        for client_id in uow.checkins.client_ids(venue_id, client_ids)
    }


def _check(ctx: ServiceContext, uow: UnitOfWork, rows: Sequence[CheckInRow], now: int) -> _Checked:
    types = _venue_types(uow, rows)
    dwell = {venue: MAX_DWELL_SECONDS[kind] for venue, kind in types.items() if kind is not None}
    known = _known_client_ids(uow, rows)
    latest = now + ctx.policy.clock_skew_seconds
    ids = secrets.token_hex(8 * len(rows))  # the ids new_checkin draws, in one call
    source = CheckInSource.DEVICE_BATCH
    valid_client = CLIENT_ID.match
    checked = _Checked([], [], 0, [])
    fresh, lines = checked.fresh, checked.lines
    seen: dict[tuple[str, str], int] = {}  # (venue, client id) -> its first line in the batch
    for index, row in enumerate(rows):
        venue_id, time_in, time_out, client = row.venue_id, row.time_in, row.time_out, row.client_id
        longest = dwell.get(venue_id)
        if (
            longest is None
            or not row.subject_id
            or not 0 < time_in <= latest
            or (time_out is not None and not time_in <= time_out <= time_in + longest)
            or (client is not None and not valid_client(client))
        ):
            error = _row_error(row, types.get(venue_id), latest)
            checked.errors.append(RowError(_line(index), error.field, error.message))
            continue
        if client is not None:
            key = (venue_id, client)
            if key in seen:
                message = f"same venue and client_id as line {seen[key]}"
                checked.errors.append(RowError(_line(index), "client_id", message))
                continue
            seen[key] = _line(index)
            if key in known:
                checked.duplicates += 1
                continue
        fresh.append(
            CheckIn(
                venue_id,
                "c" + ids[16 * index : 16 * index + 16],
                row.subject_id,
                time_in,
                time_in + longest,
                source,
                time_out,
                client,
            )
        )
        lines.append(index + FIRST_LINE)
    return checked


def _check_subjects(uow: UnitOfWork, checked: _Checked) -> None:
    """Every check-in must name a live resident: unknown and erased ones are errors."""
    gone = uow.checkins.add_many(checked.fresh, dry_run=True)
    if gone:
        checked.errors += [
            RowError(line, "subject_id", "no such resident")
            for line, checkin in zip(checked.lines, checked.fresh, strict=True)
            if checkin.subject_id in gone
        ]
        checked.errors.sort(key=lambda e: e.line)


def import_checkins(
    ctx: ServiceContext,
    rows: Sequence[CheckInRow],
    actor: Actor,
    progress: Callable[[int], None] | None = None,
) -> BulkReport:
    """Import check-ins (source: device batch). Idempotent by (venue_id, client_id): a row
    whose pair is already stored counts as a duplicate and is skipped. Any bad row refuses the
    whole batch (ImportRefused lists every one) and nothing is written. Once every row is
    checked, `progress(n)` reports rows done, n at a time, adding up to len(rows): first the
    duplicates, then each chunk of check-ins written. The daily cap does not apply (see the
    module docstring)."""
    if not rows:
        raise InvalidInput("no rows to import", field="rows", code="empty")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        require_emergency(uow)
        checked = _check(ctx, uow, rows, now)
        _check_subjects(uow, checked)
        if checked.errors:
            raise ImportRefused(checked.errors)
        if progress is not None:
            progress(len(rows) - len(checked.fresh))  # duplicates: nothing to write
        for start in range(0, len(checked.fresh), CHUNK):
            chunk = checked.fresh[start : start + CHUNK]
            gone = uow.checkins.add_many(chunk)
            if gone:  # erased by someone else since the check (PostgreSQL): refuse, roll back
                lines = checked.lines[start : start + CHUNK]
                raise ImportRefused(
                    [
                        RowError(line, "subject_id", "no such resident")
                        for line, checkin in zip(lines, chunk, strict=True)
                        if checkin.subject_id in gone
                    ]
                )
            if progress is not None:
                progress(len(chunk))
        uow.log.append(
            LogEntry(
                "checkins.imported",
                actor,
                "checkins",
                "batch",
                "contact_tracing",
                UPLOAD_BASIS,
                details={"imported": len(checked.fresh), "duplicates": checked.duplicates},
            ),
            now,
        )
        uow.commit()
    return BulkReport(len(checked.fresh), checked.duplicates)
