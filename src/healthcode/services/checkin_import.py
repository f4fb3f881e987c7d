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
from operator import add

from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.checkins import MAX_DWELL_SECONDS, CheckInBatch, CheckInSource
from healthcode.domain.errors import InvalidInput
from healthcode.domain.venues import VenueType
from healthcode.services import retention
from healthcode.services.checkins import CLIENT_ID, UPLOAD_BASIS
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.labs import ImportRefused, RowError, parse_time
from healthcode.services.ports import UnitOfWork

COLUMNS = ("venue_id", "subject_id", "time_in", "time_out", "client_id")
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
            "CSV header lacks %(join)s; expected %(join2)s",
            field="header",
            code="csv_header",
            params={"join": ", ".join(missing), "join2": ", ".join(COLUMNS)},
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
            errors.append(
                RowError(number, "row", "expected %(count)s fields", {"count": len(header)})
            )
            continue
        venue, subject, time_in, time_out, client = (raw[i].strip() for i in at)
        try:
            start = parse_time(time_in)
        except ValueError as exc:
            errors.append(
                RowError(number, "time_in", "cannot be read: %(reason)s", {"reason": str(exc)})
            )
            continue
        try:
            end = parse_time(time_out) if time_out else None
        except ValueError as exc:
            errors.append(
                RowError(number, "time_out", "cannot be read: %(reason)s", {"reason": str(exc)})
            )
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
    """What checking the rows found: the check-ins to write (as columns), the line of each, the
    duplicates, the errors."""

    batch: CheckInBatch
    lines: Sequence[int]  # line of each fresh check-in
    duplicates: int
    errors: list[RowError]


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
            0,
            "time_out",
            "stay longer than a %(venue_type)s's %(hours)s h maximum",
            {"venue_type": venue_type.value, "hours": longest // 3600},
        )
    return RowError(0, "client_id", "8 to 64 letters, digits, '-' or '_'")


def _batch(
    venue_ids: list[str],
    subject_ids: list[str],
    times_in: list[int],
    closes_at: list[int],
    times_out: list[int | None],
    client_ids: list[str | None],
) -> CheckInBatch:
    # The ids new_checkin draws ("c" and 16 hex digits), drawn in one call and cut apart in C.
    drawn = secrets.token_bytes(8 * len(venue_ids)).hex(" ", 8)
    checkin_ids = ("c" + drawn).replace(" ", " c").split(" ") if venue_ids else []
    return CheckInBatch(
        CheckInSource.DEVICE_BATCH,
        venue_ids,
        checkin_ids,
        subject_ids,
        times_in,
        closes_at,
        times_out,
        client_ids,
    )


def _check(ctx: ServiceContext, uow: UnitOfWork, rows: Sequence[CheckInRow], now: int) -> _Checked:
    """Every row checked; the good ones laid out as columns. A bulk import holds millions of
    rows, so nothing here makes an object per row, and a batch that is all good (the usual
    case) is checked column by column, each check one pass in C (_all_good); any other batch
    goes row by row (_each), which names what is wrong with each bad row."""
    venue_ids = [row.venue_id for row in rows]
    types = uow.venues.types(set(venue_ids))
    dwell = {venue: MAX_DWELL_SECONDS[kind] for venue, kind in types.items()}
    client_ids = [row.client_id for row in rows]
    pairs = [(v, c) for v, c in zip(venue_ids, client_ids, strict=True) if c is not None]
    known = uow.checkins.stored_client_ids(pairs) if pairs else set()
    latest = now + ctx.policy.clock_skew_seconds
    good = None if known else _all_good(rows, venue_ids, client_ids, pairs, dwell, latest)
    return good or _each(rows, types, dwell, known, latest)


def _all_good(
    rows: Sequence[CheckInRow],
    venue_ids: list[str],
    client_ids: list[str | None],
    pairs: list[tuple[str, str]],
    dwell: dict[str, int],
    latest: int,
) -> _Checked | None:
    """The rows as one batch if every row passes every check of _each and none repeats a
    (venue, client id) pair; None if any fails."""
    if len(set(pairs)) != len(pairs) or not all(map(CLIENT_ID.match, [c for _, c in pairs])):
        return None
    longest = list(map(dwell.get, venue_ids))
    if None in longest:  # no such venue
        return None
    subject_ids = [row.subject_id for row in rows]
    times_in = [row.time_in for row in rows]
    if not all(subject_ids) or min(times_in) <= 0 or max(times_in) > latest:
        return None
    closes_at = list(map(add, times_in, longest))  # no None in longest: above
    times_out = [row.time_out for row in rows]
    if any(
        time_out is not None and not time_in <= time_out <= closes
        for time_in, time_out, closes in zip(times_in, times_out, closes_at, strict=True)
    ):
        return None
    batch = _batch(venue_ids, subject_ids, times_in, closes_at, times_out, client_ids)
    return _Checked(batch, range(FIRST_LINE, FIRST_LINE + len(rows)), 0, [])


def _each(
    rows: Sequence[CheckInRow],
    types: dict[str, VenueType],
    dwell: dict[str, int],
    known: set[tuple[str, str]],
    latest: int,
) -> _Checked:
    """Every row checked on its own: an error for each bad one, duplicates counted and left
    out, the rest as columns."""
    valid_client = CLIENT_ID.match
    venue_ids: list[str] = []
    subject_ids: list[str] = []
    times_in: list[int] = []
    closes_at: list[int] = []
    times_out: list[int | None] = []
    client_ids: list[str | None] = []
    lines: list[int] = []
    errors: list[RowError] = []
    duplicates = 0
    seen: dict[tuple[str, str], int] = {}  # (venue, client id) -> its first line in the batch
    for line, row in enumerate(rows, start=FIRST_LINE):
        venue_id, subject_id, time_in, time_out, client = (
            row.venue_id,
            row.subject_id,
            row.time_in,
            row.time_out,
            row.client_id,
        )
        longest = dwell.get(venue_id)
        if (
            longest is None
            or not subject_id
            or not 0 < time_in <= latest
            or (time_out is not None and not time_in <= time_out <= time_in + longest)
            or (client is not None and not valid_client(client))
        ):
            error = _row_error(row, types.get(venue_id), latest)
            errors.append(RowError(line, error.field, error.template, error.params))
            continue
        if client is not None:
            key = (venue_id, client)
            if key in seen:
                errors.append(
                    RowError(
                        line,
                        "client_id",
                        "same venue and client_id as line %(line)s",
                        {"line": seen[key]},
                    )
                )
                continue
            seen[key] = line
            if key in known:
                duplicates += 1
                continue
        venue_ids.append(venue_id)
        subject_ids.append(subject_id)
        times_in.append(time_in)
        closes_at.append(time_in + longest)
        times_out.append(time_out)
        client_ids.append(client)
        lines.append(line)
    batch = _batch(venue_ids, subject_ids, times_in, closes_at, times_out, client_ids)
    return _Checked(batch, lines, duplicates, errors)


def _not_live(checked: _Checked, gone: set[str]) -> list[RowError]:
    """An error for each line whose resident is unknown or erased."""
    return [
        RowError(line, "subject_id", "no such resident")
        for line, subject_id in zip(checked.lines, checked.batch.subject_ids, strict=True)
        if subject_id in gone
    ]


class _Progress:
    """The caller's progress: the duplicates once the rows have passed every check (as the
    first check-ins are written, or at the end if there are none), then each part written."""

    def __init__(self, progress: Callable[[int], None], duplicates: int) -> None:
        self.progress = progress
        self.duplicates: int | None = duplicates  # None once reported

    def done(self) -> None:
        if self.duplicates is not None:
            self.progress(self.duplicates)  # nothing to write
            self.duplicates = None

    def __call__(self, written: int) -> None:
        self.done()
        self.progress(written)


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
    duplicates, then each part of the check-ins as it is written. The daily cap does not apply
    (see the module docstring).

    The residents are checked once, in the write transaction, by the repository that writes
    them: it refuses the batch if anyone is unknown or erased, and holds the answer until the
    commit, so the check-ins of someone erased meanwhile are never stored."""
    if not rows:
        raise InvalidInput("no rows to import", field="rows", code="empty")
    now = ctx.clock.now()
    retention.prepare_days_of(ctx, [row.time_in for row in rows])  # Conflict after the sunset
    with ctx.uow() as uow:
        require_emergency(uow)
        checked = _check(ctx, uow, rows, now)
        if checked.errors:  # refused already: name the unknown and erased residents too
            gone = uow.checkins.add_batch(checked.batch, dry_run=True)
            errors = sorted([*checked.errors, *_not_live(checked, gone)], key=lambda e: e.line)
            raise ImportRefused(errors)
        report = _Progress(progress, len(rows) - len(checked.batch)) if progress else None
        gone = uow.checkins.add_batch(checked.batch, progress=report)
        if gone:  # nothing was written
            raise ImportRefused(_not_live(checked, gone))
        if report is not None:
            report.done()
        uow.log.append(
            LogEntry(
                "checkins.imported",
                actor,
                "checkins",
                "batch",
                "contact_tracing",
                UPLOAD_BASIS,
                details={"imported": len(checked.batch), "duplicates": checked.duplicates},
            ),
            now,
        )
        uow.commit()
    return BulkReport(len(checked.batch), checked.duplicates)
