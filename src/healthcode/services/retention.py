"""Retention and sunset: personal data expires by itself, and all of it ends with the emergency.

`purge` (every hour in the server, or `healthcode retention purge`) deletes check-ins, exposures,
exposure notices and short-lived health facts older than the retention period, and ended
sessions and expired one-time codes, then destroys the per-day check-in keys of the days wholly
past retention, which crypto-shreds those days in every copy of the database (RET-1). It is
idempotent, logs one `retention.purged` entry with counts only, and fails loudly: it raises,
logs at ERROR and records the failure, which `purge_health` reports (RET-2).

`sunset` ends the emergency: it deletes every piece of personal data, the identity vault and its
commitment keys with it, and destroys every key that sealed personal data (the per-day keys,
the subject-links key, the vault key, the phone-tag key, the key of subject references in
codes), so that a backup taken before names nobody after; it keeps only counts, refuses new
personal data from then on (services/emergency.py), and appends a signed deletion attestation
to the log (RET-3).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from healthcode.domain.audit import SYSTEM, LogEntry
from healthcode.domain.errors import Conflict, Unavailable
from healthcode.domain.facts import FactKind
from healthcode.services import audit
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import SUNSET_CODE, require_emergency
from healthcode.services.ports import MaintenanceRun, UnitOfWork

log = logging.getLogger("healthcode.retention")
PARTITION_WAIT_MS = 2000  # an import waits this long at most to attach its days' partitions

DAY = 86400
RETENTION_BASIS = "retention_policy"
SUNSET_BASIS = "end_of_emergency"
# Facts that matter only for days: a colour from symptoms lasts 3 days, a completed quarantine
# ends a 7-day one. Tests, cases and vaccinations stay until sunset (or erasure).
SHORT_LIVED_FACTS = (FactKind.SYMPTOMS.value, FactKind.QUARANTINE.value)
STALE_SECONDS = 3 * 3600  # the server purges hourly: three missed runs in a row is degraded


class PurgeFailed(RuntimeError):
    """A purge did not complete. Its failure is recorded and reported by `purge_health`."""


@dataclass(frozen=True, slots=True)
class PurgeReport:
    cutoff: int  # everything that started before this instant is gone
    counts: dict[str, int]  # table -> rows deleted (and check-in partitions dropped)


@dataclass(frozen=True, slots=True)
class PurgeHealth:
    """The state of retention for the /health endpoint: degraded when the last purge failed or
    no purge has succeeded for STALE_SECONDS."""

    status: str  # ok | failed | stale | never
    degraded: bool
    last_run_at: int | None
    last_ok_at: int | None
    counts: dict[str, int] = field(default_factory=dict)  # of the last run
    error: str | None = None  # the failure's type name


@dataclass(frozen=True, slots=True)
class Attestation:
    """The signed deletion attestation of a sunset: published by the operator, and checkable
    against the log (its entry at `log_index`, under the signed checkpoint `checkpoint`)."""

    city: str
    ended_at: int
    log_index: int
    deleted: dict[str, int]  # table -> rows deleted or erased
    final_colours: dict[str, int]  # how many people had each colour at the end
    checkpoint_size: int
    checkpoint_root: str  # hex
    checkpoint: str  # the signed note (C2SP signed-note format)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)


def _run_id() -> str:
    return "m" + secrets.token_hex(8)


def _today(now: int) -> int:
    return now - now % DAY


def _days_ahead(ctx: ServiceContext, today: int) -> range:
    """Today and the next partition_days_ahead days (day starts)."""
    return range(today, today + ctx.retention.partition_days_ahead * DAY + 1, DAY)


def prepare(ctx: ServiceContext) -> int:
    """Make the check-in partitions of today and the next days (PostgreSQL); at start-up."""
    today = _today(ctx.clock.now())
    with ctx.uow() as uow:
        made = uow.retention.ensure_checkin_days(_days_ahead(ctx, today))
        uow.commit()
    return made


def prepare_days_of(ctx: ServiceContext, times: Sequence[int]) -> int:
    """The check-in partitions of the days these instants fall on (PostgreSQL), for check-ins
    about to be imported, in a short transaction of their own: an import of past days then
    puts each day's rows in that day's partition, which expiry drops whole, instead of in the
    default one, whose rows a purge deletes one by one and whose pages keep them until a
    vacuum reuses them; and the import's long transaction never locks the table's layout.
    Only days that have rows, from the oldest still kept to today: a file cannot make
    partitions without end (rows outside those days are refused by the import, or expire at
    the next purge). Refused after the sunset (Conflict). Attaching a partition locks the
    default one: if that waits longer than PARTITION_WAIT_MS (another import writing into it,
    a long read), nothing is made and the import goes on, its rows in the default partition as
    before (logged). An import refused after this step (a bad row, an unknown resident) leaves
    its days' partitions empty, as the days ahead are made empty; expiry drops them with their
    day."""
    if not times:
        return 0
    today = _today(ctx.clock.now())
    first = today - ctx.retention.days * DAY
    days = {_today(at) for at in times if first <= at < today + DAY}
    try:
        with ctx.uow() as uow:
            require_emergency(uow)
            made = uow.retention.ensure_checkin_days(days, lock_wait_ms=PARTITION_WAIT_MS)
            uow.commit()
    except Unavailable as exc:  # the partitions only spare the purge work: the import goes on
        log.warning("the partitions of an import's days were not made (%s)", exc.message)
        return 0
    return made


def purge(ctx: ServiceContext) -> PurgeReport:
    """Delete what is past retention. Raises PurgeFailed (after logging and recording it)."""
    started = ctx.clock.now()
    try:
        return _purge(ctx, started)
    except Exception as exc:
        # The type only: a database error's message can quote the values it failed on.
        log.error("retention purge FAILED (%s): personal data past retention remains", _name(exc))
        _record_failure(ctx, started, exc)
        raise PurgeFailed(f"retention purge failed: {_name(exc)}") from exc


def _name(exc: BaseException) -> str:
    return type(exc).__name__[:64]


def _purge(ctx: ServiceContext, now: int) -> PurgeReport:
    cutoff = now - ctx.retention.days * DAY
    access = ctx.access
    with ctx.uow() as uow:
        checkins = uow.retention.purge_checkins(cutoff)
        counts = {
            "checkins": checkins.rows,
            "checkin_partitions": checkins.partitions,
            "exposures": uow.retention.purge_exposures(cutoff),
            "notices": uow.retention.purge_notices(cutoff),
            "health_facts": uow.retention.purge_health_facts(cutoff, SHORT_LIVED_FACTS),
            "lab_samples": uow.labs.purge_samples(cutoff),
            "sessions": uow.retention.purge_sessions(
                cutoff,
                max(access.staff_idle_seconds, access.resident_idle_seconds),
                max(access.staff_absolute_seconds, access.resident_absolute_seconds),
            ),
            "otp_challenges": uow.otp.delete_expired(now),
        }
        # The rows are deleted; now the keys of the days wholly past retention go too, so that
        # no copy of those rows (a backup, a replica, a stolen disk) names anyone any more.
        # Before the commit: if it fails, the expired rows stay without their keys, and the next
        # run deletes them.
        counts["checkin_keys"] = ctx.keys.destroy_checkin_keys(cutoff)
        if ctx.archive is not None:  # and the contact archive's files of those days
            counts["archive_files"] = ctx.archive.forget_before(cutoff)
        today = _today(now)
        uow.retention.ensure_checkin_days(_days_ahead(ctx, today))
        uow.log.append(
            LogEntry(
                "retention.purged",
                SYSTEM,
                "retention",
                "personal_data",
                "retention",
                RETENTION_BASIS,
                details={"retention_days": ctx.retention.days, **counts},
            ),
            now,
        )
        _record(uow, "purge", now, ctx.clock.now(), "ok", counts)
        uow.commit()
        uow.retention.reclaim()
    log.info("retention purge: %s", json.dumps(counts, sort_keys=True))
    return PurgeReport(cutoff, counts)


def _record(
    uow: UnitOfWork,
    kind: str,
    started: int,
    finished: int,
    outcome: str,
    counts: dict[str, int],
    error: str | None = None,
) -> None:
    uow.maintenance.record(
        MaintenanceRun(
            _run_id(), kind, started, finished, outcome, json.dumps(counts, sort_keys=True), error
        )
    )


def _record_failure(ctx: ServiceContext, started: int, exc: Exception) -> None:
    try:
        with ctx.uow() as uow:
            _record(uow, "purge", started, ctx.clock.now(), "failed", {}, _name(exc))
            uow.commit()
    except Exception as second:  # the database itself may be what failed
        log.error("retention purge failure could not be recorded (%s)", _name(second))


def purge_health(ctx: ServiceContext) -> PurgeHealth:
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        last = uow.maintenance.last("purge")
        last_ok = uow.maintenance.last("purge", "ok")
    if last is None:
        return PurgeHealth("never", False, None, None)
    ok_at = last_ok.finished_at if last_ok else None
    if last.outcome != "ok":
        status = "failed"
    elif ok_at is None or now - ok_at > STALE_SECONDS:
        status = "stale"
    else:
        status = "ok"
    counts = {k: int(v) for k, v in json.loads(last.counts).items()}
    return PurgeHealth(status, status != "ok", last.finished_at, ok_at, counts, last.error)


def sunset_at(ctx: ServiceContext) -> int | None:
    """When the emergency ended, or None while it goes on."""
    with ctx.uow(read_only=True) as uow:
        found = uow.maintenance.last("sunset", "ok")
    return found.finished_at if found else None


def sunset(ctx: ServiceContext) -> Attestation:
    """End the emergency: delete all personal data, keep counts, attest it on the log."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.maintenance.hold_for_sunset()  # writers of personal data finish first
        if uow.maintenance.sunset_at() is not None:
            raise Conflict("the emergency has already ended", code=SUNSET_CODE)
        colours = uow.statuses.counts()
        deleted = uow.retention.erase_personal(now)
        deleted["vault_identities"] = uow.vault.erase_all()  # and the commitment keys with it
        # Every key that seals personal data: from now on no copy of the database taken before
        # (a backup, a replica) names anyone, whoever holds the key store.
        deleted |= ctx.keys.destroy_sunset_keys()
        if ctx.archive is not None:
            deleted["archive_files"] = ctx.archive.forget_all()
        if ctx.status_view is not None:  # the colours code display read (the cluster)
            deleted["status_view_entries"] = ctx.status_view.forget_all()
        final = {f"final_{colour}": n for colour, n in sorted(colours.items())}
        index = uow.log.append_sequenced(
            LogEntry(
                "sunset.attested",
                SYSTEM,
                "emergency",
                ctx.policy.city.lower(),
                "sunset",
                SUNSET_BASIS,
                details={**deleted, **final},
            ),
            now,
        )
        _record(uow, "sunset", now, now, "ok", deleted)
        uow.commit()
        uow.retention.reclaim()
    if ctx.status_view is not None:  # and what a code display read before the commit put back
        ctx.status_view.forget_all()
    checkpoint = audit.checkpoint_now(ctx, force=True) or audit.latest_checkpoint(
        ctx, primary=True
    )  # never a replica's: it may not hold the attestation yet
    assert checkpoint is not None  # noqa: S101 - forced above
    assert checkpoint.size > index  # noqa: S101
    log.warning("sunset: all personal data deleted; attestation at log index %d", index)
    return Attestation(
        ctx.policy.city,
        now,
        index,
        deleted,
        dict(sorted(colours.items())),
        checkpoint.size,
        checkpoint.root.hex(),
        checkpoint.note,
    )
