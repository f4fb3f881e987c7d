"""Signing in and out: staff by password and TOTP, residents by a one-time code to their phone,
venue devices by a revocable token (AUTHN-1, AUTHN-2).

Every sign-in and every refused attempt is a log entry (AUD-8), naming staff by their random id,
residents by their commitment, and never the username, phone number, password or code tried.
Refusals say the same thing whichever part was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from healthcode.domain.access import POLICY, Role
from healthcode.domain.accounts import (
    PUBLIC,
    Principal,
    PrincipalKind,
    SessionPolicy,
    new_otp,
    new_token,
    token_hash,
)
from healthcode.domain.audit import Actor, LogEntry, commitment
from healthcode.domain.errors import N_, Conflict, InvalidInput, TooMany, Unauthenticated
from healthcode.domain.identity import validate_mobile
from healthcode.services import enrolment
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.group_commit import group_commit
from healthcode.services.ports import OtpChallenge, StoredSession, UnitOfWork

AUTH_BASIS = "account_terms"
WRONG_CREDENTIALS = N_("wrong username, password or authenticator code")
WRONG_CODE = N_("wrong or expired code: ask for a new one")
TOUCH_EVERY = 60  # seconds: how stale `last_seen` may get before a request refreshes it
PUBLIC_ACTOR = Actor(PUBLIC.role.value, "anonymous")  # who fails to sign in


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str  # shown once; stored only as its hash
    principal: Principal
    idle_seconds: int
    absolute_seconds: int


def session_policy(ctx: ServiceContext, kind: str) -> SessionPolicy:
    a = ctx.access
    if kind == PrincipalKind.STAFF:
        return SessionPolicy(a.staff_idle_seconds, a.staff_absolute_seconds)
    return SessionPolicy(a.resident_idle_seconds, a.resident_absolute_seconds)


def actor_of(uow: UnitOfWork, principal: Principal) -> Actor:
    """How the log names whoever acts: staff and devices by id, residents by commitment."""
    if principal.kind == PrincipalKind.RESIDENT:
        identity = uow.vault.get(principal.ref)
        ref = commitment(identity.commit_key, principal.ref) if identity else "erased"
        return Actor(principal.role.value, ref)
    return Actor(principal.role.value, principal.pseudonym)


def actor_for(ctx: ServiceContext, principal: Principal) -> Actor:
    """`actor_of` for use cases that take an Actor: only a resident's commitment needs a read
    (in a transaction of its own); staff and devices are named without one."""
    if principal.kind != PrincipalKind.RESIDENT:
        return Actor(principal.role.value, principal.pseudonym)
    with ctx.uow(read_only=True) as uow:
        return actor_of(uow, principal)


def _log_auth(
    uow: UnitOfWork, action: str, actor: Actor, kind: str, ref: str, outcome: str, now: int
) -> None:
    uow.log.append(
        LogEntry(action, actor, kind, ref, "authentication", AUTH_BASIS, outcome=outcome), now
    )


def _start(
    ctx: ServiceContext, uow: UnitOfWork, principal: Principal, previous: str | None, now: int
) -> SignedIn:
    """A new session (rotation at sign-in); the browser's previous session, if any, ends."""
    if previous:
        uow.sessions.end(token_hash(previous), now)
    token = new_token()
    sid = token_hash(token)
    role = principal.role.value
    uow.sessions.add(
        StoredSession(sid, principal.kind, principal.ref, role, principal.venue_id, now, now)
    )
    policy = session_policy(ctx, principal.kind)
    signed = Principal(principal.kind, principal.ref, principal.role, principal.venue_id, sid)
    return SignedIn(token, signed, policy.idle_seconds, policy.absolute_seconds)


def sign_in_staff(
    ctx: ServiceContext,
    username: str,
    password: str,
    totp_code: str,
    previous: str | None = None,
) -> SignedIn:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        account = uow.staff.by_username(username.strip().lower())
        usable = account is not None and account.is_active  # not pending, not disabled
        stored_hash = account.password_hash if usable and account else None
        password_ok = ctx.credentials.verify_password(stored_hash, password)
        step = None
        if account is not None and password_ok:
            step = ctx.credentials.totp_step(account.totp_secret, totp_code.strip(), now)
        if account is None or not password_ok or step is None or step <= account.totp_last_step:
            ref = f"staff:{account.staff_id}" if account else "unknown"
            _log_auth(uow, "auth.refused", PUBLIC_ACTOR, "staff", ref, "refused:credentials", now)
            uow.commit()
            raise Unauthenticated(WRONG_CREDENTIALS)
        uow.staff.set_totp_step(account.staff_id, step)  # each code works once
        role = Role(account.role)
        principal = Principal(PrincipalKind.STAFF, account.staff_id, role, account.venue_id)
        signed = _start(ctx, uow, principal, previous, now)
        actor = Actor(role.value, principal.pseudonym)
        _log_auth(uow, "auth.signed_in", actor, "staff", principal.pseudonym, "ok", now)
        uow.commit()
        return signed


def _code_hash(tag: str, code: str) -> str:
    return hashlib.sha256(f"{tag}/{code}".encode()).hexdigest()


def send_code(ctx: ServiceContext, phone: str) -> int:
    """Send a one-time code to `phone`; returns how many seconds it stays valid. Asking again
    replaces the previous code, but not more often than once per `otp_resend_seconds`."""
    number = validate_mobile(phone)
    now = ctx.clock.now()
    a = ctx.access
    code = new_otp()
    with ctx.uow() as uow:
        require_emergency(uow)  # after the sunset no phone number is taken in, not even as a tag
        tag = ctx.keys.phone_tag(number)
        previous = uow.otp.get(tag)
        if previous is not None and now - previous.created_at < a.otp_resend_seconds:
            wait = a.otp_resend_seconds - (now - previous.created_at)
            raise TooMany(
                "a code was sent just now: ask again in %(wait)s s",
                retry_after=wait,
                params={"wait": wait},
            )
        uow.otp.put(OtpChallenge(tag, _code_hash(tag, code), now, now + a.otp_seconds, 0))
        uow.commit()
    ctx.sender.send(number, code, max(1, a.otp_seconds // 60))
    return a.otp_seconds


def sign_in_resident(
    ctx: ServiceContext, phone: str, code: str, previous: str | None = None
) -> SignedIn:
    """The code sent to `phone` signs its owner in: as the resident enrolled with that number,
    or, if there is none yet, as an applicant who may only enrol."""
    number = validate_mobile(phone)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        require_emergency(uow)
        tag = ctx.keys.phone_tag(number)
        challenge = uow.otp.get(tag)
        live = (
            challenge is not None
            and challenge.expires_at > now
            and challenge.attempts < ctx.access.otp_attempts
        )
        right = challenge is not None and hmac.compare_digest(
            challenge.code_hash, _code_hash(tag, code.strip())
        )
        if not (live and right):
            if challenge is not None:
                uow.otp.attempt(tag)
            _log_auth(uow, "auth.refused", PUBLIC_ACTOR, "phone", "unknown", "refused:code", now)
            uow.commit()
            raise Unauthenticated(WRONG_CODE, field="code")
        uow.otp.delete(tag)  # a code works once
        subject_id = _resident_with_phone(uow, number)
        if subject_id is not None:
            principal = Principal(PrincipalKind.RESIDENT, subject_id, Role.RESIDENT)
        else:
            principal = Principal(PrincipalKind.APPLICANT, tag, Role.APPLICANT)
        signed = _start(ctx, uow, principal, previous, now)
        actor = actor_of(uow, principal)
        _log_auth(uow, "auth.signed_in", actor, principal.kind, actor.ref, "ok", now)
        uow.commit()
        return signed


def _resident_with_phone(uow: UnitOfWork, phone: str) -> str | None:
    for subject_id in uow.vault.find_phone(phone):
        subject = uow.subjects.get(subject_id)
        if subject is not None and subject.kind == "resident" and subject.erased_at is None:
            return subject_id
    return None


def open_session(ctx: ServiceContext, principal: Principal) -> SignedIn:
    """A session for someone already proven by other means: the operator on the server (the
    demo city's accounts, test fixtures). Logged like any sign-in."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        signed = _start(ctx, uow, principal, None, now)
        actor = actor_of(uow, principal)
        _log_auth(uow, "auth.signed_in", actor, principal.kind, actor.ref, "ok", now)
        uow.commit()
        return signed


def authenticate(ctx: ServiceContext, token: str | None) -> Principal:
    """Whoever holds `token`: a live session or an unrevoked device; the public otherwise.
    A session's `last_seen` moves at most once a minute, so most requests write nothing."""
    if not token:
        return PUBLIC
    now = ctx.clock.now()
    digest = token_hash(token)
    with ctx.uow(read_only=True) as uow:
        session = uow.sessions.get(digest)
        if session is None:
            device = uow.devices.by_token(digest)
            if device is None or device.revoked_at is not None:
                raise Unauthenticated("this sign-in is not valid: sign in again")
            return Principal(
                PrincipalKind.DEVICE, device.device_id, Role.VENUE_DEVICE, device.venue_id
            )
        policy = session_policy(ctx, session.kind)
        last_seen = ctx.touches.last_seen(digest, session.last_seen)
        alive = session.ended_at is None and policy.alive(session.created_at, last_seen, now)
        if alive and session.kind == PrincipalKind.STAFF:
            account = uow.staff.get(session.ref)
            alive = account is not None and account.is_active
        if alive and session.kind == PrincipalKind.RESIDENT:
            subject = uow.subjects.get(session.ref)
            alive = subject is not None and subject.erased_at is None
    if not alive:
        raise Unauthenticated("this session has ended: sign in again")
    seen(ctx, digest, last_seen, now)
    return Principal(session.kind, session.ref, Role(session.role), session.venue_id, digest)


def live_resident(
    ctx: ServiceContext, session: StoredSession | None, alive: bool, now: int, action: str
) -> Principal | None:
    """The resident signed in with `session` (read by the caller, with whether its person
    exists and is not erased), if the session is a live resident's and residents may attempt
    `action`; None for anything else, which the caller then hands to `authenticate` (the
    general path, with its answers)."""
    if (
        session is None
        or not alive
        or session.kind != PrincipalKind.RESIDENT
        or session.role != Role.RESIDENT.value
        or session.ended_at is not None
        or Role.RESIDENT not in POLICY[action]
    ):
        return None
    digest = session.session_id
    last_seen = ctx.touches.last_seen(digest, session.last_seen)
    if not session_policy(ctx, session.kind).alive(session.created_at, last_seen, now):
        return None
    seen(ctx, digest, last_seen, now)
    return Principal(session.kind, session.ref, Role.RESIDENT, session.venue_id, digest)


def seen(ctx: ServiceContext, digest: str, last_seen: int, now: int) -> None:
    """A session was used now: its `last_seen` moves at most once a minute, and the moves of
    all sessions are written together at most once a second (context.Touches)."""
    if now - last_seen >= TOUCH_EVERY:
        ctx.touches.hold(digest, now)
    flush_touches(ctx)


def flush_touches(ctx: ServiceContext) -> None:
    """Write the held touches, if it is time, in one statement committed with the other small
    writes of the moment (services/group_commit.py), without waiting for it: a request that
    happens to find them due (on the event loop, for "show my code") is not held up."""
    due = ctx.touches.take_due()
    if due:
        group_commit(ctx.uow).submit(lambda uow: uow.sessions.touch_many(due))


def sign_out(ctx: ServiceContext, principal: Principal) -> None:
    """Server-side logout: the token stops working at once."""
    if principal.session_id is None:
        return
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.sessions.end(principal.session_id, now)
        actor = actor_of(uow, principal)
        _log_auth(uow, "auth.signed_out", actor, principal.kind, actor.ref, "ok", now)
        uow.commit()


def enrol_applicant(
    ctx: ServiceContext, principal: Principal, cmd: enrolment.EnrolResident
) -> enrolment.Enrolled | None:
    """An applicant enrols themselves, with the phone number they proved; their session then
    continues as the resident's. A document already enrolled is not an error the applicant
    sees (that would tell anyone with a phone whether a given ID number is enrolled): None,
    and the attempt goes in the record of the document's holder. Callers answer both alike."""
    if ctx.keys.phone_tag(validate_mobile(cmd.phone)) != principal.ref:
        raise InvalidInput("enrol with the phone number you signed in with", field="phone")
    try:
        done = enrolment.enrol_resident(ctx, cmd)
    except Conflict as exc:
        if exc.code != "already_enrolled":
            raise
        return None
    if principal.session_id is not None:
        with ctx.uow() as uow:
            uow.sessions.promote(
                principal.session_id, PrincipalKind.RESIDENT, done.subject_id, Role.RESIDENT.value
            )
            uow.commit()
    return done


def new_device_token() -> tuple[str, str]:
    """(token, its hash) for a venue device."""
    token = "dev_" + secrets.token_urlsafe(32)
    return token, token_hash(token)
