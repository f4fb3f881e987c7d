"""The contact archive: closed days of check-ins as Parquet files, searched with DuckDB.

An outbreak's batch of cases asks the check-ins thousands of questions ("who was at this venue
between these times?"). The database answers each with an index search; DuckDB answers a whole
round of them with one join over columnar files, which at city scale is several times faster
(../shared/SCALE.md: 10,000 cases at 10 M check-ins, DuckDB over daily Parquet 1.4-2.0 s against
10-14 s in PostgreSQL, identical contacts). So each closed day of check-ins is exported once, and
a batch trace (services/trace.py: trace_outbreak) reads the archived days from the files and the
others from the database, with the same answers (tests/property/test_contact_archive.py).

- **What a file holds:** a day's check-ins as stored: venue, check-in id, the subject sealed
  under that day's key (never in clear: opening it needs the day's key, as for the database's
  rows), time in and end of visit; sorted by venue and time, zstd-compressed.
- **Closed days only:** a day is exported once every visit begun on it has ended
  (`day + DAY + LONGEST_DWELL` has passed): its visits' ends no longer change (a later check-out
  records the auto-close, which the file already holds).
- **Never stale:** offline devices and imports may still add visits to a closed day. A day's
  rows are only ever added (a day goes as a whole, when purged; check-ins are not erased one by
  one), so a file is current exactly while it holds as many rows as the database has for its
  day: each search counts the archived days' rows in the database (one pass, the (venue_id,
  time_in) index covers it), and a day whose count differs is read from the database and
  written again at the next export.
- **Deleted with the day:** the retention purge deletes the files of the days it purges, the
  day it cuts through included (which is never archived), and destroys their keys; the sunset
  deletes every file. A search whose file was deleted under it asks the database instead.
  Files are written to a temporary name and renamed, so a reader never sees half a file (a
  failed write's temporary file is deleted, and swept by the purge). DuckDB runs in memory
  with no spill directory.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthcode.adapters.db.checkins import SubjectCipher
from healthcode.domain.checkins import DAY, LONGEST_DWELL
from healthcode.domain.tracing import Overlapping, Visit
from healthcode.services.ports import ArchiveExport, CheckInRepository, UnitOfWork, VisitAsk

if TYPE_CHECKING:  # DuckDB and numpy load when an archive is used, not with every process
    import duckdb

FILE = re.compile(r"^checkins-(\d+)\.parquet$")
COLUMNS = ("venue_id", "checkin_id", "subject", "time_in", "ends_at")


def _day(instant: int) -> int:
    return instant - instant % DAY


def _in_order(found: list[Visit]) -> list[Visit]:
    return sorted(found, key=lambda v: (v.start, v.venue_id, v.checkin_id))


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _duck() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never writes a temporary file (what it holds is ciphertext,
    but no copy of it should outlive the search)."""
    import duckdb

    con = duckdb.connect(":memory:", config={"threads": 2})
    con.execute("SET temp_directory = ''")
    return con


class DuckArchive:
    def __init__(self, directory: Path, cipher: SubjectCipher) -> None:
        self.directory = directory
        self.cipher = cipher
        self._counted: dict[Path, tuple[int, int]] = {}  # file -> (mtime_ns, rows)
        self._lock = threading.Lock()

    def _path(self, day: int) -> Path:
        return self.directory / f"checkins-{day}.parquet"

    def files(self) -> dict[int, Path]:
        """Day -> its file, for every day archived."""
        if not self.directory.is_dir():
            return {}
        found = {}
        for entry in os.scandir(self.directory):
            matched = FILE.match(entry.name)
            if matched:
                found[int(matched.group(1))] = Path(entry.path)
        return found

    def rows_in(self, path: Path) -> int:
        """The rows of a file (from its footer; remembered while the file is unchanged)."""
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return -1  # deleted meanwhile (the purge): current for no day
        with self._lock:
            held = self._counted.get(path)
        if held is not None and held[0] == stamp:
            return held[1]
        con = _duck()
        try:
            query = "SELECT sum(num_rows) FROM parquet_file_metadata(?)"
            (rows,) = con.execute(query, [str(path)]).fetchone() or (0,)
        finally:
            con.close()
        with self._lock:
            self._counted[path] = (stamp, int(rows or 0))
        return int(rows or 0)

    def current(self, checkins: CheckInRepository) -> dict[int, Path]:
        """The files that hold exactly what the database holds for their day."""
        files = self.files()
        counts = checkins.day_counts(sorted(files))
        return {day: path for day, path in files.items() if counts[day] == self.rows_in(path)}

    # --- writing ---------------------------------------------------------------------------

    def export(self, uow: UnitOfWork, now: int, keep_days: int) -> ArchiveExport:
        last_closed = _day(now - LONGEST_DWELL) - DAY
        # The purge deletes what began before now - keep_days: the day it cuts through is
        # never archived (its rows are not only ever added: some are taken away).
        first = _day(now - keep_days * DAY) + DAY
        days = list(range(first, last_closed + 1, DAY))
        counts = uow.checkins.day_counts(days)
        files = self.files()
        written = rows = kept = 0
        for day in days:
            path = files.get(day)
            if counts[day] == 0:
                if path is not None:
                    path.unlink(missing_ok=True)
                continue
            if path is not None and self.rows_in(path) == counts[day]:
                kept += 1
                continue
            rows += self._write(day, uow.checkins)
            written += 1
        return ArchiveExport(written, rows, kept)

    def _write(self, day: int, checkins: CheckInRepository) -> int:
        import numpy as np

        got = checkins.day_rows(day)
        columns: dict[str, Any] = {
            "venue_id": np.array(got.venue_ids, dtype=object),
            "checkin_id": np.array(got.checkin_ids, dtype=object),
            "subject": np.array(got.sealed_subjects, dtype=object),
            "time_in": np.array(got.times_in, dtype=np.int64),
            "ends_at": np.array(got.ends_at, dtype=np.int64),
        }
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self._path(day)
        temporary = self.directory / f".{final.name}.{secrets.token_hex(6)}.tmp"
        con = _duck()
        try:
            con.register("day_rows", columns)
            target = _quoted(temporary)
            copy = f"COPY (SELECT * FROM day_rows ORDER BY venue_id, time_in) TO {target}"  # noqa: S608
            con.execute(copy + " (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)")
            with temporary.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        finally:
            con.close()
            temporary.unlink(missing_ok=True)  # left only by a failure: never a half file
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return len(got.checkin_ids)

    def forget_before(self, instant: int) -> int:
        """Every file of a day that began before `instant` (a day the purge cut through
        included), and any temporary file a failed export left."""
        gone = 0
        for day, path in self.files().items():
            if day < instant:
                path.unlink(missing_ok=True)
                gone += 1
        if self.directory.is_dir():
            for entry in os.scandir(self.directory):
                if entry.name.startswith(".checkins-") and entry.name.endswith(".tmp"):
                    Path(entry.path).unlink(missing_ok=True)
        return gone

    def forget_all(self) -> int:
        return self.forget_before(2**62)

    # --- reading ---------------------------------------------------------------------------

    def reader(self, uow: UnitOfWork) -> ArchiveReader:
        return ArchiveReader(self.current(uow.checkins), uow.checkins, self.cipher)


_OF_SUBJECTS = (
    "SELECT a.i, v.venue_id, v.checkin_id, v.time_in, v.ends_at FROM asks a "
    "JOIN visits v ON v.subject = a.subject AND v.time_in BETWEEN a.lo AND a.hi"
)
_OVERLAPPING = (
    "SELECT a.i, v.venue_id, v.checkin_id, v.subject, v.time_in, v.ends_at FROM asks a "
    "JOIN visits v ON v.venue_id = a.venue_id AND v.time_in BETWEEN a.lo AND a.hi "
    "AND v.ends_at >= a.end_by AND v.ends_at - v.time_in >= a.stay"
)


def _runs(first: int, last: int, archived: set[int]) -> list[tuple[int, int, bool]]:
    """[first, last] cut at day boundaries into runs of archived and other days."""
    runs: list[tuple[int, int, bool]] = []
    day = _day(first)
    while day <= last:
        lo, hi, inside = max(first, day), min(last, day + DAY - 1), day in archived
        if runs and runs[-1][2] == inside:
            runs[-1] = (runs[-1][0], hi, inside)
        else:
            runs.append((lo, hi, inside))
        day += DAY
    return runs


class ArchiveReader:
    """ports.VisitReader over the current files (DuckDB, one join per round) and the database
    (the days without a current file, one question at a time). Only the rows that meet a
    question's bounds are decrypted, as from the database."""

    def __init__(
        self, files: dict[int, Path], checkins: CheckInRepository, cipher: SubjectCipher
    ) -> None:
        self.archived = set(files)
        self.checkins = checkins
        self.cipher = cipher
        self.con = _duck()
        listed = ", ".join(_quoted(files[day]) for day in sorted(files))
        source = f"read_parquet([{listed}])" if files else (
            "(SELECT ''::VARCHAR AS venue_id, ''::VARCHAR AS checkin_id, ''::VARCHAR AS subject,"
            " 0::BIGINT AS time_in, 0::BIGINT AS ends_at WHERE false)"
        )  # fmt: skip
        view = f"CREATE VIEW visits AS SELECT * FROM {source}"  # noqa: S608 - our own paths
        self.con.execute(view)

    def close(self) -> None:
        self.con.close()

    def of_subjects_between(self, asks: Sequence[VisitAsk]) -> list[list[Visit]]:
        found: list[list[Visit]] = [[] for _ in asks]
        asked: list[tuple[int, str, int, int]] = []  # (ask, sealed subject, lo, hi) per day
        for i, (subject, first, last) in enumerate(asks):
            for lo, hi, inside in _runs(first, last, self.archived):
                if not inside:
                    found[i] += [
                        Visit(c.venue_id, c.checkin_id, subject, c.time_in, c.ends_at)
                        for c in self.checkins.of_subject_between(subject, lo, hi)
                    ]
                    continue
                for day, form in self.cipher.pseudonyms(subject, lo, hi).items():
                    asked.append((i, form, max(lo, day), min(hi, day + DAY - 1)))
        if asked:
            rows = self._join(("i", "subject", "lo", "hi"), asked, _OF_SUBJECTS)
            if rows is None:
                return self.of_subjects_between(asks)
            for i, venue_id, checkin_id, time_in, ends_at in rows:
                found[i].append(Visit(venue_id, checkin_id, asks[i][0], time_in, ends_at))
        return [_in_order(visits) for visits in found]

    def overlapping(self, asks: Sequence[Overlapping]) -> list[list[Visit]]:
        found: list[list[Visit]] = [[] for _ in asks]
        asked: list[tuple[int, str, int, int, int, int]] = []
        for i, ask in enumerate(asks):
            for lo, hi, inside in _runs(ask.first_start, ask.last_start, self.archived):
                if not inside:
                    part = replace(ask, first_start=lo, last_start=hi)
                    found[i] += [
                        Visit(c.venue_id, c.checkin_id, c.subject_id, c.time_in, c.ends_at)
                        for c in self.checkins.overlapping(part)
                    ]
                    continue
                asked.append((i, ask.venue_id, lo, hi, ask.earliest_end, ask.shortest))
        if asked:
            names = ("i", "venue_id", "lo", "hi", "end_by", "stay")
            rows = self._join(names, asked, _OVERLAPPING)
            if rows is None:
                return self.overlapping(asks)
            self._opened(rows, found)
        return [_in_order(visits) for visits in found]

    def _join(
        self, names: tuple[str, ...], asked: list[tuple[Any, ...]], sql: str
    ) -> list[tuple[Any, ...]] | None:
        """The rows of `sql`, which joins the files' visits with the questions (`asks`, columns
        `names`); None if a file could not be read (the purge deleted it meanwhile): then the
        database answers every question from here on."""
        import duckdb
        import numpy as np

        columns = {
            name: np.array(values, dtype=object if isinstance(values[0], str) else np.int64)
            for name, values in zip(names, zip(*asked, strict=True), strict=True)
        }
        self.con.register("asks", columns)
        try:
            return list(self.con.execute(sql).fetchall())
        except (duckdb.Error, OSError):
            self.archived = set()
            return None
        finally:
            self.con.unregister("asks")

    def _opened(self, rows: list[tuple[Any, ...]], found: list[list[Visit]]) -> None:
        """Rows with their subjects opened, each day's in one call; a day whose key is gone
        is nobody's any more (past retention) and is left out, as the database's reads do."""
        by_day: dict[int, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_day.setdefault(_day(row[4]), []).append(row)
        for day, day_rows in by_day.items():
            subjects = self.cipher.open(day, [row[3] for row in day_rows])
            if subjects is None:
                continue
            for (i, venue_id, checkin_id, _, time_in, ends_at), subject in zip(
                day_rows, subjects, strict=True
            ):
                found[i].append(Visit(venue_id, checkin_id, subject, time_in, ends_at))
