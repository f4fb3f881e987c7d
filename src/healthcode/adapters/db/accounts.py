"""Staff accounts, sessions, one-time sign-in codes, venue device tokens and case assignments.

Tokens and codes are stored only as hashes; phone numbers waiting for a code only as a keyed tag;
the resident a session is for only sealed under the subject-links key (adapters/db/sealing.py).
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from healthcode.adapters.db.repositories import as_row, from_row
from healthcode.adapters.db.sealing import LinkSeal
from healthcode.adapters.db.tables import (
    case_assignments,
    device_tokens,
    otp_challenges,
    sessions,
    staff_accounts,
    staff_changes,
)
from healthcode.domain.duties import Appointment, ChangeState, StaffChange
from healthcode.services.ports import DeviceToken, OtpChallenge, StaffAccount, StoredSession


class SqlStaff:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, account: StaffAccount) -> None:
        self.conn.execute(insert(staff_accounts).values(**as_row(account)))

    def get(self, staff_id: str) -> StaffAccount | None:
        row = self.conn.execute(
            select(staff_accounts).where(staff_accounts.c.staff_id == staff_id)
        ).first()
        return from_row(StaffAccount, row) if row else None

    def by_username(self, username: str) -> StaffAccount | None:
        row = self.conn.execute(
            select(staff_accounts).where(staff_accounts.c.username == username)
        ).first()
        return from_row(StaffAccount, row) if row else None

    def all(self) -> list[StaffAccount]:
        rows = self.conn.execute(select(staff_accounts).order_by(staff_accounts.c.username))
        return [from_row(StaffAccount, r) for r in rows]

    def _set(self, staff_id: str, **values: object) -> None:
        self.conn.execute(
            update(staff_accounts).where(staff_accounts.c.staff_id == staff_id).values(**values)
        )

    def set_totp_step(self, staff_id: str, step: int) -> None:
        self._set(staff_id, totp_last_step=step)

    def set_password(self, staff_id: str, password_hash: str) -> None:
        self._set(staff_id, password_hash=password_hash)

    def disable(self, staff_id: str, now: int) -> None:
        self._set(staff_id, disabled_at=now)

    def enable(self, staff_id: str) -> None:
        self._set(staff_id, disabled_at=None)

    def activate(self, staff_id: str, now: int) -> None:
        self._set(staff_id, activated_at=now)

    def set_role(self, staff_id: str, role: str) -> None:
        self._set(staff_id, role=role)


class SqlStaffChanges:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, change: StaffChange) -> None:
        self.conn.execute(insert(staff_changes).values(**as_row(change)))

    def get(self, change_id: str) -> StaffChange | None:
        row = self.conn.execute(
            select(staff_changes).where(staff_changes.c.change_id == change_id)
        ).first()
        return from_row(StaffChange, row) if row else None

    def decide(self, change: StaffChange) -> None:
        self.conn.execute(
            update(staff_changes)
            .where(staff_changes.c.change_id == change.change_id)
            .values(state=change.state, decided_by=change.decided_by, decided_at=change.decided_at)
        )

    def pending(self) -> list[StaffChange]:
        rows = self.conn.execute(
            select(staff_changes)
            .where(staff_changes.c.state == ChangeState.PENDING.value)
            .order_by(staff_changes.c.requested_at, staff_changes.c.change_id)
        )
        return [from_row(StaffChange, r) for r in rows]

    def appointments(self, staff_ids: list[str]) -> dict[str, list[Appointment]]:
        found: dict[str, list[Appointment]] = {s: [] for s in staff_ids}
        rows = self.conn.execute(
            select(staff_changes)
            .where(
                and_(
                    staff_changes.c.staff_id.in_(staff_ids),
                    staff_changes.c.state == ChangeState.APPROVED.value,
                )
            )
            .order_by(staff_changes.c.decided_at, staff_changes.c.change_id)
        )
        for row in rows:
            made = from_row(StaffChange, row).appointment()
            if made is not None:
                found[made.staff_id].append(made)
        return found


RESIDENT = "resident"  # the kind of session whose ref is a subject id


_SESSION = select(sessions).where(sessions.c.session_id == bindparam("session_id"))
_TOUCH = (
    update(sessions)
    .where(
        and_(sessions.c.session_id == bindparam("sid"), sessions.c.last_seen < bindparam("seen"))
    )
    .values(last_seen=bindparam("seen"))
)


# A session's columns, labelled, for a statement that reads it beside other tables (the hot
# paths' one-statement reads, code_sight.py and checkin_sight.py); `session_in` reads them back.
SESSION_COLUMNS = [c.label(f"session_{c.name}") for c in sessions.c]


def _opened_ref(kind: str, ref: str, links: LinkSeal) -> str | None:
    """Whom a session's ref names: a resident's sealed ref opened (None once the key is gone:
    nobody's), any other kind's as stored."""
    if kind != RESIDENT:
        return ref
    opened = links.open([ref])
    return opened[0] if opened else None


def opened_session(session: StoredSession, links: LinkSeal) -> StoredSession | None:
    """The session with a resident's sealed ref opened (None once the key is gone: nobody's)."""
    ref = _opened_ref(session.kind, session.ref, links)
    if ref is None:
        return None
    return session if ref == session.ref else replace(session, ref=ref)


_SESSION_FIELDS = [(f.name, f"session_{f.name}") for f in fields(StoredSession)]


def session_in(row: Any, links: LinkSeal) -> StoredSession | None:
    """The session read through SESSION_COLUMNS, if the row has one (a SQLAlchemy row or a
    prepared statement's: adapters/db/prepared.py)."""
    if row.session_session_id is None:
        return None
    values = {name: getattr(row, column) for name, column in _SESSION_FIELDS}
    ref = _opened_ref(values["kind"], values["ref"], links)  # the session built once, opened
    return None if ref is None else StoredSession(**(values | {"ref": ref}))


class SqlSessions:
    def __init__(self, conn: Connection, links: LinkSeal) -> None:
        self.conn = conn
        self.links = links

    def _ref(self, kind: str, ref: str) -> str:
        return self.links.seal([ref])[0] if kind == RESIDENT else ref

    def add(self, session: StoredSession) -> None:
        row = {**as_row(session), "ref": self._ref(session.kind, session.ref)}
        self.conn.execute(insert(sessions).values(**row))

    def get(self, session_id: str) -> StoredSession | None:
        row = self.conn.execute(_SESSION, {"session_id": session_id}).first()
        if row is None:
            return None
        return opened_session(from_row(StoredSession, row), self.links)

    def touch(self, session_id: str, now: int) -> None:
        self.touch_many({session_id: now})

    def touch_many(self, seen: dict[str, int]) -> None:
        """Move `last_seen` of many sessions in one statement (never back)."""
        if not seen:
            return
        self.conn.execute(_TOUCH, [{"sid": sid, "seen": at} for sid, at in sorted(seen.items())])

    def end(self, session_id: str, now: int) -> None:
        self.conn.execute(
            update(sessions)
            .where(and_(sessions.c.session_id == session_id, sessions.c.ended_at.is_(None)))
            .values(ended_at=now)
        )

    def promote(self, session_id: str, kind: str, ref: str, role: str) -> None:
        self.conn.execute(
            update(sessions)
            .where(sessions.c.session_id == session_id)
            .values(kind=kind, ref=self._ref(kind, ref), role=role)
        )

    def end_all(self, kind: str, ref: str, now: int) -> int:
        if kind == RESIDENT:
            sealed = self.links.find_one(ref)
            if sealed is None:
                return 0
            ref = sealed
        done = self.conn.execute(
            update(sessions)
            .where(
                and_(sessions.c.kind == kind, sessions.c.ref == ref, sessions.c.ended_at.is_(None))
            )
            .values(ended_at=now)
        )
        return done.rowcount


class SqlOtp:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def put(self, challenge: OtpChallenge) -> None:
        self.delete(challenge.phone_tag)
        self.conn.execute(insert(otp_challenges).values(**as_row(challenge)))

    def get(self, phone_tag: str) -> OtpChallenge | None:
        row = self.conn.execute(
            select(otp_challenges).where(otp_challenges.c.phone_tag == phone_tag)
        ).first()
        return from_row(OtpChallenge, row) if row else None

    def attempt(self, phone_tag: str) -> None:
        self.conn.execute(
            update(otp_challenges)
            .where(otp_challenges.c.phone_tag == phone_tag)
            .values(attempts=otp_challenges.c.attempts + 1)
        )

    def delete(self, phone_tag: str) -> None:
        self.conn.execute(delete(otp_challenges).where(otp_challenges.c.phone_tag == phone_tag))

    def delete_expired(self, now: int) -> int:
        done = self.conn.execute(delete(otp_challenges).where(otp_challenges.c.expires_at <= now))
        return done.rowcount


class SqlDevices:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, device: DeviceToken) -> None:
        self.conn.execute(insert(device_tokens).values(**as_row(device)))

    def get(self, device_id: str) -> DeviceToken | None:
        row = self.conn.execute(
            select(device_tokens).where(device_tokens.c.device_id == device_id)
        ).first()
        return from_row(DeviceToken, row) if row else None

    def by_token(self, token_hash: str) -> DeviceToken | None:
        row = self.conn.execute(
            select(device_tokens).where(device_tokens.c.token_hash == token_hash)
        ).first()
        return from_row(DeviceToken, row) if row else None

    def of_venue(self, venue_id: str) -> list[DeviceToken]:
        rows = self.conn.execute(
            select(device_tokens)
            .where(device_tokens.c.venue_id == venue_id)
            .order_by(device_tokens.c.created_at, device_tokens.c.device_id)
        )
        return [from_row(DeviceToken, r) for r in rows]

    def revoke(self, device_id: str, now: int) -> None:
        self.conn.execute(
            update(device_tokens)
            .where(
                and_(device_tokens.c.device_id == device_id, device_tokens.c.revoked_at.is_(None))
            )
            .values(revoked_at=now)
        )


class SqlAssignments:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, case_id: str, staff_id: str, assigned_by: str, now: int) -> None:
        if not self.is_assigned(case_id, staff_id):
            self.conn.execute(
                insert(case_assignments).values(
                    case_id=case_id, staff_id=staff_id, assigned_by=assigned_by, assigned_at=now
                )
            )

    def staff_of(self, case_id: str) -> list[str]:
        rows = self.conn.execute(
            select(case_assignments.c.staff_id).where(case_assignments.c.case_id == case_id)
        )
        return sorted(r.staff_id for r in rows)

    def cases_of(self, staff_id: str) -> list[str]:
        rows = self.conn.execute(
            select(case_assignments.c.case_id).where(case_assignments.c.staff_id == staff_id)
        )
        return sorted(r.case_id for r in rows)

    def is_assigned(self, case_id: str, staff_id: str) -> bool:
        found = self.conn.execute(
            select(case_assignments.c.case_id).where(
                and_(case_assignments.c.case_id == case_id, case_assignments.c.staff_id == staff_id)
            )
        ).first()
        return found is not None
