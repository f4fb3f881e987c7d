"""AUTHN-1, AUTHN-2, AUD-8: staff by Argon2id password and TOTP, residents by one-time code,
devices by revocable token; sessions with idle and absolute timeouts, rotation and logout; every
sign-in and every refusal on the log, with nobody's username, phone number or code in it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.crypto.passwords import totp_code
from healthcode.adapters.otp_sender import ConsoleSender
from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.domain.accounts import PrincipalKind
from healthcode.domain.errors import Conflict, InvalidInput, NotFound, TooMany, Unauthenticated
from healthcode.services import audit, auth, enrolment, staff, venues
from healthcode.services.labs import parse_csv
from healthcode.services.staff import OPERATOR
from tests.support.labs import import_results as lab_import
from tests.support.staff import PASSWORD as STAFF_PASSWORD
from tests.support.staff import appoint, founders

PASSWORD = STAFF_PASSWORD  # every test account has it (tests/support/staff.py)
PHONE = "13812345678"
DOC = "11010519491231002X"


def log_text(app: App) -> str:
    return "\n".join(json.loads(line)["entry"] for line in audit.export_lines(app.ctx))


def actions(app: App) -> list[dict[str, object]]:
    return [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]


def new_staff(app: App, username: str, role: str, venue_id: str | None = None) -> staff.NewStaff:
    return appoint(app, role, venue_id, username=username)


def code_now(app: App, made: staff.NewStaff, ahead: int = 0) -> str:
    return totp_code(made.account.totp_secret, app.ctx.clock.now() + ahead)


def sign_in(app: App, made: staff.NewStaff, clock: FixedClock) -> auth.SignedIn:
    clock.advance(30)  # a fresh TOTP step: each code works once
    return auth.sign_in_staff(app.ctx, made.account.username, PASSWORD, code_now(app, made))


def a_venue(app: App) -> str:
    cmd = venues.RegisterVenue("一号店", "Shop One", "一号路1号", "天河区", "shop", "一号公司")
    return venues.register_venue(app.ctx, cmd, OPERATOR).venue.venue_id


def test_staff_sign_in_with_password_and_totp(app: App, clock: FixedClock) -> None:
    made = new_staff(app, "li.tracer", "tracer")
    assert made.totp_uri.startswith("otpauth://totp/")
    signed = sign_in(app, made, clock)
    principal = auth.authenticate(app.ctx, signed.token)
    assert (principal.kind, principal.ref, principal.role) == (
        PrincipalKind.STAFF,
        made.account.staff_id,
        Role.TRACER,
    )
    text = log_text(app)
    assert "auth.signed_in" in text
    assert "staff.created" in text
    for secret in ("li.tracer", PASSWORD, signed.token):
        assert secret not in text


@pytest.mark.parametrize("wrong", ["password", "code", "user", "replay"])
def test_every_wrong_credential_is_refused_alike_and_logged(
    app: App, clock: FixedClock, wrong: str
) -> None:
    made = new_staff(app, "wang.officer", "health_officer")
    clock.advance(30)
    username, password, code = "wang.officer", PASSWORD, code_now(app, made)
    if wrong == "replay":
        auth.sign_in_staff(app.ctx, username, password, code)  # the code is now spent
    elif wrong == "password":
        password = "not the password at all"
    elif wrong == "code":
        code = f"{(int(code) + 1) % 1_000_000:06d}"
    else:
        username = "nobody.here"
    with pytest.raises(Unauthenticated) as refused:
        auth.sign_in_staff(app.ctx, username, password, code)
    assert refused.value.message == auth.WRONG_CREDENTIALS
    (entry,) = [e for e in actions(app) if e["action"] == "auth.refused"]
    assert entry["outcome"] == "refused:credentials"
    assert "nobody.here" not in log_text(app)


def test_unknown_users_cost_the_same_argon2_work(app: App, clock: FixedClock) -> None:
    """AUTHN-1: the password hash is checked whether or not the user exists."""
    made = new_staff(app, "zhao.admin", "authority_admin")
    calls: list[str | None] = []
    real = app.ctx.credentials

    class Spy:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def verify_password(self, stored: str | None, password: str) -> bool:
            calls.append(stored)
            return real.verify_password(stored, password)

    ctx = dataclasses.replace(app.ctx, credentials=Spy())  # type: ignore[arg-type]
    clock.advance(30)
    for username in ("zhao.admin", "ghost.user"):
        with pytest.raises(Unauthenticated):
            auth.sign_in_staff(ctx, username, "wrong password here", code_now(app, made))
    assert calls == [made.account.password_hash, None]  # None: checked against the dummy


def test_sessions_end_when_idle_too_old_or_signed_out(app: App, clock: FixedClock) -> None:
    made = new_staff(app, "chen.tracer", "tracer")
    idle = app.ctx.access.staff_idle_seconds
    absolute = app.ctx.access.staff_absolute_seconds
    first = sign_in(app, made, clock)
    clock.advance(idle + 1)
    with pytest.raises(Unauthenticated):
        auth.authenticate(app.ctx, first.token)
    second = sign_in(app, made, clock)
    for _ in range(absolute // (idle - 60) + 2):  # kept busy, still ends at the absolute limit
        clock.advance(idle - 60)
        try:
            auth.authenticate(app.ctx, second.token)
        except Unauthenticated:
            break
    else:
        pytest.fail("the session outlived its absolute timeout")
    third = sign_in(app, made, clock)
    principal = auth.authenticate(app.ctx, third.token)
    auth.sign_out(app.ctx, principal)
    with pytest.raises(Unauthenticated):
        auth.authenticate(app.ctx, third.token)


def test_signing_in_rotates_the_session(app: App, clock: FixedClock) -> None:
    made = new_staff(app, "sun.tracer", "tracer")
    first = sign_in(app, made, clock)
    clock.advance(30)
    second = auth.sign_in_staff(
        app.ctx, "sun.tracer", PASSWORD, code_now(app, made), previous=first.token
    )
    assert second.token != first.token
    with pytest.raises(Unauthenticated):
        auth.authenticate(app.ctx, first.token)
    assert auth.authenticate(app.ctx, second.token).ref == made.account.staff_id


def test_a_disabled_account_stops_at_once(app: App, clock: FixedClock) -> None:
    made = new_staff(app, "qian.officer", "health_officer")
    signed = sign_in(app, made, clock)
    staff.operator_disable(app.ctx, made.account.staff_id)
    with pytest.raises(Unauthenticated):
        auth.authenticate(app.ctx, signed.token)
    with pytest.raises(Unauthenticated):
        sign_in(app, made, clock)


def test_no_admin_disables_themselves_or_the_last_admin(app: App) -> None:
    first, second = founders(app).admins
    with pytest.raises(Conflict) as own:
        staff.disable_staff(app.ctx, first, first.ref)
    assert own.value.code == "self"
    staff.disable_staff(app.ctx, first, second.ref)
    with pytest.raises(Conflict) as last:
        staff.operator_disable(app.ctx, first.ref)  # not even the operator: one must remain
    assert last.value.code == "last_admin"
    active = [a for a in staff.list_staff(app.ctx) if a.is_active]
    assert [a.staff_id for a in active if a.role == "authority_admin"] == [first.ref]


def test_staff_accounts_are_validated_and_unique(app: App) -> None:
    with pytest.raises(InvalidInput) as bad:
        staff.request_staff(app.ctx, founders(app).admins[0], "ok.name", "resident", PASSWORD)
    assert bad.value.field == "role"
    with pytest.raises(InvalidInput) as short:
        staff.request_staff(app.ctx, founders(app).admins[0], "ok.name", "tracer", "short")
    assert short.value.field == "password"
    with pytest.raises(InvalidInput) as venue:
        staff.request_staff(app.ctx, founders(app).admins[0], "ok.name", "venue_staff", PASSWORD)
    assert venue.value.field == "venue_id"
    new_staff(app, "ok.name", "tracer")
    known = [a.username for a in staff.list_staff(app.ctx)]
    with pytest.raises(Conflict):
        new_staff(app, "OK.Name", "auditor")
    assert [a.username for a in staff.list_staff(app.ctx)] == known
    assert known.count("ok.name") == 1


def sent_code(app: App) -> str:
    sender = app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    return sender.sent[-1][1]


def test_a_resident_signs_in_with_a_one_time_code(app: App, clock: FixedClock) -> None:
    enrolled = enrolment.enrol_resident(
        app.ctx, enrolment.EnrolResident("冯三", "prc_id", DOC, PHONE)
    )
    assert auth.send_code(app.ctx, "+86 138 1234 5678") == app.ctx.access.otp_seconds
    code = sent_code(app)
    signed = auth.sign_in_resident(app.ctx, PHONE, code)
    principal = auth.authenticate(app.ctx, signed.token)
    assert (principal.kind, principal.ref) == (PrincipalKind.RESIDENT, enrolled.subject_id)
    with pytest.raises(Unauthenticated):  # a code works once
        auth.sign_in_resident(app.ctx, PHONE, code)
    text = log_text(app)
    for secret in (PHONE, code, enrolled.subject_id):
        assert secret not in text


def test_a_new_phone_signs_in_as_an_applicant(app: App) -> None:
    auth.send_code(app.ctx, "13900001111")
    signed = auth.sign_in_resident(app.ctx, "13900001111", sent_code(app))
    assert signed.principal.role is Role.APPLICANT
    assert "13900001111" not in signed.principal.ref


def test_one_time_codes_resist_guessing_and_expire(app: App, clock: FixedClock) -> None:
    auth.send_code(app.ctx, PHONE)
    code = sent_code(app)
    with pytest.raises(TooMany) as soon:
        auth.send_code(app.ctx, PHONE)
    assert soon.value.retry_after > 0
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(app.ctx.access.otp_attempts):
        with pytest.raises(Unauthenticated):
            auth.sign_in_resident(app.ctx, PHONE, wrong)
    with pytest.raises(Unauthenticated):  # too many wrong guesses: even the right code fails
        auth.sign_in_resident(app.ctx, PHONE, code)
    clock.advance(app.ctx.access.otp_resend_seconds)
    auth.send_code(app.ctx, PHONE)
    fresh = sent_code(app)
    clock.advance(app.ctx.access.otp_seconds)
    with pytest.raises(Unauthenticated):  # expired
        auth.sign_in_resident(app.ctx, PHONE, fresh)
    with pytest.raises(InvalidInput) as bad:
        auth.send_code(app.ctx, "12345")
    assert bad.value.field == "phone"


def test_venue_devices_have_revocable_tokens(app: App, clock: FixedClock) -> None:
    venue_id, other = a_venue(app), a_venue(app)
    admin = new_staff(app, "he.venue", "venue_admin", venue_id)
    principal = auth.authenticate(app.ctx, sign_in(app, admin, clock).token)
    device = staff.register_device(app.ctx, principal, venue_id, "north gate")
    seen = auth.authenticate(app.ctx, device.token)
    assert (seen.kind, seen.role, seen.venue_id) == ("device", Role.VENUE_DEVICE, venue_id)
    with pytest.raises(NotFound):  # another venue's admin: as if the venue did not exist
        staff.register_device(app.ctx, principal, other, "side door")
    staff.revoke_device(app.ctx, principal, venue_id, device.device.device_id)
    with pytest.raises(Unauthenticated):
        auth.authenticate(app.ctx, device.token)
    assert device.token not in log_text(app)


def test_only_officers_are_assigned_to_open_cases(app: App, clock: FixedClock) -> None:
    enrolment.enrol_resident(app.ctx, enrolment.EnrolResident("冯三", "prc_id", DOC, PHONE))
    rows = parse_csv(
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-1,prc_id,{DOC},{clock.now() - 3600},positive,LAB1\n"
    )
    (case_id,) = lab_import(app, rows).cases_opened
    officer = new_staff(app, "ma.officer", "health_officer")
    tracer = new_staff(app, "niu.tracer", "tracer")
    auditor = new_staff(app, "yang.auditor", "auditor")
    boss = auth.authenticate(app.ctx, sign_in(app, officer, clock).token)
    staff.assign_case(app.ctx, boss, case_id, tracer.account.staff_id)
    with pytest.raises(InvalidInput):
        staff.assign_case(app.ctx, boss, case_id, auditor.account.staff_id)
    with pytest.raises(NotFound):
        staff.assign_case(app.ctx, boss, "no-such-case", tracer.account.staff_id)
    with app.ctx.uow(read_only=True) as uow:
        assert uow.assignments.staff_of(case_id) == [tracer.account.staff_id]
    (entry,) = [e for e in actions(app) if e["action"] == "case.assigned"]
    assert entry["details"] == {"officer": f"staff:{tracer.account.staff_id}"}
