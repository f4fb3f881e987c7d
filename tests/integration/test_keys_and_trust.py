"""Key rotation and withdrawal, PS256, trust-list import, and what the log guarantees about them.

Runs on SQLite and PostgreSQL (the `app` and `database_url` fixtures). The second city of the
import tests lives on its own SQLite file, as another city's server would.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.crypto.signer import raw_es256
from healthcode.adapters.db import log_store
from healthcode.bootstrap import App, build, initialise
from healthcode.domain.audit import Actor
from healthcode.domain.errors import Conflict, InvalidInput, NotFound
from healthcode.domain.identity import mod11_2_check_char
from healthcode.domain.keys import KeyState, KeyUse, SigningKey
from healthcode.services import audit, codes, enrolment, keys, venues, verify
from healthcode.verifier.audit import verify_log_copy
from healthcode.verifier.merkle import leaf_hash
from healthcode.verifier.trustlist import FORMAT, canonical_json, fingerprint, spki_der
from healthcode.verifier.verify import Decision, Reason, Verdict
from tests.conftest import make_settings

ADMIN = Actor("authority_admin", "officer-1")
OTHER_CITY = "CN-OTHR"


# --- helpers -------------------------------------------------------------------------------


def prc_id(n: int) -> str:
    body = f"1101051949123{n:04d}"
    return body + mod11_2_check_char(body)


def enrol(app: App, n: int = 1) -> str:
    cmd = enrolment.EnrolResident("张三", "prc_id", prc_id(n), "13812345678")
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def check(app: App, code: str) -> Verdict:
    return verify.verify_text(app.ctx, code)


def outcome(app: App, code: str) -> tuple[Decision, Reason]:
    verdict = check(app, code)
    return verdict.decision, verdict.reason


def cose_kid(code: str) -> str:
    """The kid in the code's protected header, read without our verifier."""
    cose = zlib.decompress(base45.b45decode(code.split(":", 1)[1]))
    kid: bytes = cbor2.loads(cbor2.loads(cose).value[0])[4]
    return kid.hex()


def cose_alg(code: str) -> int:
    cose = zlib.decompress(base45.b45decode(code.split(":", 1)[1]))
    alg: int = cbor2.loads(cbor2.loads(cose).value[0])[1]
    return alg


def key(app: App, kid: str) -> SigningKey:
    found = [k for k in keys.list_keys(app.ctx) if k.kid == kid]
    assert len(found) == 1
    return found[0]


def listed(app: App) -> dict[str, dict[str, Any]]:
    """Our latest published trust list, by kid (hex)."""
    body = json.loads(keys.our_trust_list(app.ctx).document)["trust_list"]
    return {base64.b64decode(k["kid"]).hex(): k for k in body["keys"]}


def log(app: App) -> list[dict[str, Any]]:
    return [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]


def actions(app: App) -> list[str]:
    return [entry["action"] for entry in log(app)]


def count(app: App, table: str, where: str = "") -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar_one())  # noqa: S608


# --- rotation ------------------------------------------------------------------------------


def test_rotation_keeps_old_codes_until_they_expire(app: App, clock: FixedClock) -> None:
    subject = enrol(app)
    before = codes.issue_health_code(app.ctx, subject)
    old_kid = before.kid
    assert cose_kid(before.text) == old_kid
    clock.advance(60)
    rotated_at = clock.now()
    log_before = actions(app)

    new_kid = keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN)

    assert new_kid != old_kid
    assert actions(app) == [*log_before, "key.rotated", "trust_list.published"]
    entry = log(app)[-2]
    assert entry["object"] == {"kind": "signing_key", "ref": new_kid}
    assert entry["details"] == {"retired": old_kid, "use": "health"}
    assert entry["actor"] == {"role": "authority_admin", "ref": "officer-1"}

    old, new = key(app, old_kid), key(app, new_kid)
    assert old.state is KeyState.RETIRED
    assert old.retired_at == rotated_at
    assert not old.can_sign(rotated_at)
    assert old.not_after <= rotated_at + app.settings.max_code_lifetime_seconds
    assert new.state is KeyState.ACTIVE
    assert new.can_sign(rotated_at)
    # the published list carries both, with the old key's shortened validity
    published = listed(app)
    assert published[old_kid]["not_after"] == old.not_after
    assert published[new_kid]["not_before"] == rotated_at

    assert outcome(app, before.text) == (Decision.ADMIT, Reason.OK)
    for _ in range(3):
        after = codes.issue_health_code(app.ctx, subject)
        assert after.kid == new_kid
        assert cose_kid(after.text) == new_kid
        assert check(app, after.text).kid == new_kid

    clock.set(before.expires_at - 1)
    assert outcome(app, before.text) == (Decision.ADMIT, Reason.OK)
    clock.advance(1)  # at exp, with no clock-skew allowance after it (SIG-9)
    assert outcome(app, before.text) == (Decision.INVALID, Reason.EXPIRED)


def test_a_retired_key_leaves_the_list_once_its_codes_are_gone(app: App, clock: FixedClock) -> None:
    old_kid = codes.issue_health_code(app.ctx, enrol(app)).kid
    keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN)
    assert old_kid in listed(app)
    clock.set(key(app, old_kid).not_after)
    keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN)
    assert old_kid not in listed(app)


def test_rotation_refuses_an_unknown_algorithm_and_writes_nothing(app: App) -> None:
    size = len(actions(app))
    with pytest.raises(InvalidInput) as raised:
        keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN, alg="HS256")
    assert raised.value.code == "algorithm"
    assert len(actions(app)) == size
    assert count(app, "signing_keys") == 2


# --- withdrawal ----------------------------------------------------------------------------


def test_withdrawal_invalidates_old_codes_at_once_and_a_replacement_signs(
    app: App, clock: FixedClock
) -> None:
    subject = enrol(app)
    code = codes.issue_health_code(app.ctx, subject)
    assert outcome(app, code.text) == (Decision.ADMIT, Reason.OK)
    clock.advance(5)
    log_before = actions(app)

    replacement = keys.withdraw_key(app.ctx, code.kid, ADMIN, "key_compromise")

    assert replacement is not None
    assert replacement != code.kid
    # no clock advance: the very next verification refuses the code
    assert outcome(app, code.text) == (Decision.INVALID, Reason.KEY_WITHDRAWN)
    fresh = codes.issue_health_code(app.ctx, subject)
    assert fresh.kid == replacement == cose_kid(fresh.text)
    assert outcome(app, fresh.text) == (Decision.ADMIT, Reason.OK)
    assert key(app, replacement).alg == key(app, code.kid).alg
    assert key(app, code.kid).withdrawn_at == clock.now()
    assert listed(app)[code.kid]["withdrawn_at"] == clock.now()

    assert actions(app) == [*log_before, "key.withdrawn", "trust_list.published"]
    entry = log(app)[-2]
    assert entry["object"] == {"kind": "signing_key", "ref": code.kid}
    assert entry["basis"] == "key_compromise"
    assert entry["details"] == {"replacement": replacement}

    with pytest.raises(Conflict):
        keys.withdraw_key(app.ctx, code.kid, ADMIN, "key_compromise")
    with pytest.raises(NotFound):
        keys.withdraw_key(app.ctx, "00" * 8, ADMIN, "key_compromise")
    assert actions(app) == [*log_before, "key.withdrawn", "trust_list.published"]


def test_withdrawing_a_retired_key_needs_no_replacement(app: App) -> None:
    subject = enrol(app)
    old = codes.issue_health_code(app.ctx, subject)
    new_kid = keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN)
    assert outcome(app, old.text) == (Decision.ADMIT, Reason.OK)
    assert keys.withdraw_key(app.ctx, old.kid, ADMIN, "key_compromise") is None
    assert outcome(app, old.text) == (Decision.INVALID, Reason.KEY_WITHDRAWN)
    assert codes.issue_health_code(app.ctx, subject).kid == new_kid


# --- PS256 ---------------------------------------------------------------------------------


def test_ps256_is_selected_by_settings_and_its_codes_verify(ps256_app: App) -> None:
    app = ps256_app
    code = codes.issue_health_code(app.ctx, enrol(app))
    assert cose_alg(code.text) == -37
    assert key(app, code.kid).alg == "PS256"
    assert listed(app)[code.kid]["alg"] == "PS256"
    place = [k for k in keys.list_keys(app.ctx) if k.use is KeyUse.PLACE]
    assert [k.alg for k in place] == ["ES256"]  # posters stay ES256
    assert outcome(app, code.text) == (Decision.ADMIT, Reason.OK)
    # rotation keeps the configured algorithm unless told otherwise
    rotated = keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN)
    assert key(app, rotated).alg == "PS256"
    switched = keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN, alg="ES256")
    es_code = codes.issue_health_code(app.ctx, enrol(app, 2))
    assert es_code.kid == switched
    assert cose_alg(es_code.text) == -7
    assert outcome(app, es_code.text) == (Decision.ADMIT, Reason.OK)
    assert outcome(app, code.text) == (Decision.ADMIT, Reason.OK)


# --- trust-list import ---------------------------------------------------------------------


@pytest.fixture
def other(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    settings = make_settings(
        tmp_path / "other", f"sqlite:///{tmp_path / 'other.db'}", city=OTHER_CITY
    )
    built = build(settings, clock=clock)
    initialise(built)
    yield built
    built.close()


def stored_lists(app: App, city: str) -> list[int]:
    with app.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT version FROM trust_lists WHERE city = :c ORDER BY version"), {"c": city}
        )
        return [int(r[0]) for r in rows]


def test_import_lets_us_verify_the_other_citys_codes(app: App, other: App) -> None:
    foreign_code = codes.issue_health_code(other.ctx, enrol(other))
    assert outcome(app, foreign_code.text) == (Decision.INVALID, Reason.UNKNOWN_KEY)
    exported = keys.our_trust_list(other.ctx)
    log_before = actions(app)

    parsed = keys.import_trust_list(app.ctx, exported.document, exported.anchor_fingerprint, ADMIN)

    assert parsed.city == OTHER_CITY
    assert parsed.version == 1
    verdict = check(app, foreign_code.text)
    assert (verdict.decision, verdict.reason, verdict.issuer) == (
        Decision.ADMIT,
        Reason.OK,
        OTHER_CITY,
    )
    assert stored_lists(app, OTHER_CITY) == [1]
    assert actions(app) == [*log_before, "trust_list.imported"]
    entry = log(app)[-1]
    assert entry["object"] == {"kind": "trust_list", "ref": "cn-othr@1"}
    assert entry["purpose"] == "interoperability"
    # our own codes still verify next to theirs
    ours = codes.issue_health_code(app.ctx, enrol(app))
    assert outcome(app, ours.text) == (Decision.ADMIT, Reason.OK)


def test_import_with_a_wrong_fingerprint_is_refused_and_stores_nothing(
    app: App, other: App
) -> None:
    exported = keys.our_trust_list(other.ctx)
    wrong = keys.our_trust_list(app.ctx).anchor_fingerprint  # a real fingerprint, not theirs
    log_before = actions(app)
    for pin in (wrong, "0" * 64, ""):
        with pytest.raises(InvalidInput) as raised:
            keys.import_trust_list(app.ctx, exported.document, pin, ADMIN)
        assert raised.value.code == "trust_list"
    assert stored_lists(app, OTHER_CITY) == []
    assert actions(app) == log_before
    foreign_code = codes.issue_health_code(other.ctx, enrol(other))
    assert outcome(app, foreign_code.text) == (Decision.INVALID, Reason.UNKNOWN_KEY)


def test_import_of_an_edited_list_is_refused(app: App, other: App) -> None:
    exported = keys.our_trust_list(other.ctx)
    outer = json.loads(exported.document)
    outer["trust_list"]["keys"][0]["not_after"] += 86400
    with pytest.raises(InvalidInput, match="signature"):
        keys.import_trust_list(app.ctx, json.dumps(outer), exported.anchor_fingerprint, ADMIN)
    assert stored_lists(app, OTHER_CITY) == []


def test_reimporting_the_same_or_an_older_version_is_refused(app: App, other: App) -> None:
    v1 = keys.our_trust_list(other.ctx)
    keys.import_trust_list(app.ctx, v1.document, v1.anchor_fingerprint, ADMIN)
    log_after_v1 = actions(app)
    with pytest.raises(Conflict) as same:
        keys.import_trust_list(app.ctx, v1.document, v1.anchor_fingerprint, ADMIN)
    assert same.value.code == "rollback"

    keys.rotate_key(other.ctx, KeyUse.HEALTH, ADMIN)
    v2 = keys.our_trust_list(other.ctx)
    assert v2.version == 2
    keys.import_trust_list(app.ctx, v2.document, v2.anchor_fingerprint, ADMIN)
    with pytest.raises(Conflict) as older:
        keys.import_trust_list(app.ctx, v1.document, v1.anchor_fingerprint, ADMIN)
    assert older.value.code == "rollback"

    assert stored_lists(app, OTHER_CITY) == [1, 2]
    assert actions(app) == [*log_after_v1, "trust_list.imported"]
    assert log(app)[-1]["object"]["ref"] == "cn-othr@2"


def test_a_withdrawal_in_the_other_city_reaches_us_with_its_next_list(app: App, other: App) -> None:
    foreign_code = codes.issue_health_code(other.ctx, enrol(other))
    v1 = keys.our_trust_list(other.ctx)
    keys.import_trust_list(app.ctx, v1.document, v1.anchor_fingerprint, ADMIN)
    assert outcome(app, foreign_code.text) == (Decision.ADMIT, Reason.OK)
    keys.withdraw_key(other.ctx, foreign_code.kid, ADMIN, "key_compromise")
    assert outcome(app, foreign_code.text) == (Decision.ADMIT, Reason.OK)  # we don't know yet
    v2 = keys.our_trust_list(other.ctx)
    keys.import_trust_list(app.ctx, v2.document, v2.anchor_fingerprint, ADMIN)
    assert outcome(app, foreign_code.text) == (Decision.INVALID, Reason.KEY_WITHDRAWN)


def test_importing_our_own_list_is_refused(app: App) -> None:
    ours = keys.our_trust_list(app.ctx)
    log_before = actions(app)
    with pytest.raises(InvalidInput) as raised:
        keys.import_trust_list(app.ctx, ours.document, ours.anchor_fingerprint, ADMIN)
    assert raised.value.code == "own_city"
    assert stored_lists(app, app.settings.city) == [ours.version]
    assert actions(app) == log_before


def _list_copying(app: App, city: str, kid: str) -> tuple[str, str]:
    """A list for `city`, signed by a fresh anchor, that lists our key `kid` as its own."""
    anchor = ec.generate_private_key(ec.SECP256R1())
    body = {
        "format": FORMAT,
        "city": city,
        "city_name": {"en": "Copycat"},
        "version": 1,
        "issued_at": app.ctx.clock.now(),
        "anchor": {
            "alg": "ES256",
            "public_key": base64.b64encode(spki_der(anchor.public_key())).decode(),
        },
        "keys": [listed(app)[kid]],
    }
    signature = base64.b64encode(raw_es256(anchor, canonical_json(body))).decode()
    document = json.dumps({"trust_list": body, "signature": signature})
    return document, fingerprint(anchor.public_key())


def _import_copy_then_verify(app: App, city: str) -> tuple[Decision, Reason]:
    code = codes.issue_health_code(app.ctx, enrol(app))
    assert outcome(app, code.text) == (Decision.ADMIT, Reason.OK)
    document, pin = _list_copying(app, city, code.kid)
    keys.import_trust_list(app.ctx, document, pin, ADMIN)  # a city we recognise
    assert stored_lists(app, city) == [1]
    return outcome(app, code.text)


def test_a_list_naming_our_key_after_us_does_not_break_our_codes(app: App) -> None:
    assert _import_copy_then_verify(app, "CN-ZZZZ") == (Decision.ADMIT, Reason.OK)


def test_a_list_naming_our_key_before_us_does_not_break_our_codes(app: App) -> None:
    """Lists are held in city order: a copy on a list that sorts first must not win either
    (it did: the first verifying key's city was compared with the issuer)."""
    assert _import_copy_then_verify(app, "CN-AAAA") == (Decision.ADMIT, Reason.OK)


def test_a_list_under_a_new_anchor_for_a_known_city_is_refused(
    app: App, other: App, tmp_path: Path, clock: FixedClock
) -> None:
    v1 = keys.our_trust_list(other.ctx)
    keys.import_trust_list(app.ctx, v1.document, v1.anchor_fingerprint, ADMIN)
    impostor = build(
        make_settings(tmp_path / "imp", f"sqlite:///{tmp_path / 'imp.db'}", city=OTHER_CITY),
        clock=clock,
    )
    try:
        initialise(impostor)
        keys.rotate_key(impostor.ctx, KeyUse.HEALTH, ADMIN)  # version 2, above ours
        forged = keys.our_trust_list(impostor.ctx)
        with pytest.raises(Conflict) as raised:
            keys.import_trust_list(app.ctx, forged.document, forged.anchor_fingerprint, ADMIN)
        assert raised.value.code == "anchor_changed"
        assert stored_lists(app, OTHER_CITY) == [1]
    finally:
        impostor.close()


# --- a failed log write leaves no state ----------------------------------------------------


@pytest.fixture
def broken_log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []

    def refuse(self: log_store.SqlAuditLog, entry: Any, now: int) -> int:
        attempts.append(entry.action)
        raise RuntimeError("log store unavailable")

    monkeypatch.setattr(log_store.SqlAuditLog, "append", refuse)
    return attempts


def test_failed_log_write_leaves_no_enrolment_and_no_venue(
    app: App, broken_log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log_size = count(app, "log_entries")
    with pytest.raises(RuntimeError, match="log store unavailable"):
        enrol(app)
    cmd = venues.RegisterVenue(None, "Gym", "2 Side St", "Tianhe", "gym", "Fit Co")
    with pytest.raises(RuntimeError, match="log store unavailable"):
        venues.register_venue(app.ctx, cmd, ADMIN)
    assert broken_log == ["resident.enrolled", "venue.registered"]  # both got that far
    for table in ("subjects", "vault_identities", "venues", "posters"):
        assert count(app, table) == 0, table
    assert count(app, "log_entries") == log_size

    monkeypatch.undo()
    # the same document enrols now: no half-written vault row blocks it
    subject = enrol(app)
    assert count(app, "subjects") == 1
    assert count(app, "vault_identities") == 1
    assert codes.issue_health_code(app.ctx, subject).text.startswith("HCODE1:")


def test_failed_log_write_leaves_no_key_change(app: App, broken_log: list[str]) -> None:
    before_keys = keys.list_keys(app.ctx)
    before_list = keys.our_trust_list(app.ctx)
    active = next(k for k in before_keys if k.use is KeyUse.HEALTH)
    with pytest.raises(RuntimeError):
        keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN)
    with pytest.raises(RuntimeError):
        keys.withdraw_key(app.ctx, active.kid, ADMIN, "key_compromise")
    assert broken_log == ["key.rotated", "key.withdrawn"]
    assert keys.list_keys(app.ctx) == before_keys
    assert keys.our_trust_list(app.ctx) == before_list


def test_failed_log_write_leaves_no_private_key_behind(app: App, broken_log: list[str]) -> None:
    """The private key file is written before the transaction commits; a failed transaction
    must take it away again (it used to stay, on no list and in no table)."""
    key_files = sorted(p.name for p in app.settings.keys_dir.iterdir())
    active = next(k for k in keys.list_keys(app.ctx) if k.use is KeyUse.HEALTH)
    with pytest.raises(RuntimeError):
        keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN)
    with pytest.raises(RuntimeError):
        keys.withdraw_key(app.ctx, active.kid, ADMIN, "key_compromise")  # would replace it
    assert broken_log == ["key.rotated", "key.withdrawn"]
    assert sorted(p.name for p in app.settings.keys_dir.iterdir()) == key_files


# --- the log is append-only, and tampering behind its back is caught -----------------------


def _busy_log(app: App, clock: FixedClock) -> tuple[list[str], list[str]]:
    """A few actions, a forced checkpoint; returns (export, published checkpoint notes)."""
    for n in range(1, 4):
        enrol(app, n)
        clock.advance(10)
    venues.register_venue(
        app.ctx, venues.RegisterVenue(None, "Gym", "2 Side St", "Tianhe", "gym", "Fit Co"), ADMIN
    )
    keys.rotate_key(app.ctx, KeyUse.HEALTH, ADMIN)
    enrol(app, 4)
    clock.advance(10)
    audit.checkpoint_now(app.ctx, force=True)
    lines = list(audit.export_lines(app.ctx))
    notes = [cp.note for cp in audit.checkpoints(app.ctx)]
    assert len(lines) == 12  # 4 keys and the default rule set at start, then 6 actions
    assert audit.latest_checkpoint(app.ctx).size == len(lines)  # type: ignore[union-attr]
    report = verify_log_copy(lines, notes, app.keyring.log_vkey())
    assert report.ok, report.problem
    return lines, notes


def _drop_guards(app: App) -> None:
    """The attacker with database access: owner (SQLite file) or superuser (PostgreSQL)."""
    with app.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER log_entries_no_update")
            conn.exec_driver_sql("DROP TRIGGER log_entries_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE log_entries DISABLE TRIGGER ALL")


def _entry(app: App, seq: int) -> str:
    with app.engine.connect() as conn:
        return str(
            conn.execute(text("SELECT entry FROM log_entries WHERE seq = :s"), {"s": seq}).scalar()
        )


def _set_entry(app: App, seq: int, entry: str, leaf: bytes | None = None) -> None:
    with app.engine.begin() as conn:
        if leaf is None:
            conn.execute(
                text("UPDATE log_entries SET entry = :e WHERE seq = :s"), {"e": entry, "s": seq}
            )
        else:
            conn.execute(
                text("UPDATE log_entries SET entry = :e, leaf_hash = :h WHERE seq = :s"),
                {"e": entry, "h": leaf, "s": seq},
            )


@pytest.mark.parametrize("attack", ["edit", "delete", "swap"])
def test_tampering_with_the_stored_log_is_caught(app: App, clock: FixedClock, attack: str) -> None:
    _, notes = _busy_log(app, clock)
    _drop_guards(app)
    if attack == "edit":  # a resident's enrolment made to look refused
        target = 7
        original = _entry(app, target)
        assert '"action":"resident.enrolled"' in original
        _set_entry(app, target, original.replace('"outcome":"ok"', '"outcome":"refused:x"'))
    elif attack == "delete":
        target = 8
        with app.engine.begin() as conn:
            conn.execute(text("DELETE FROM log_entries WHERE seq = :s"), {"s": target})
    else:
        target = 5
        first, second = _entry(app, 5), _entry(app, 9)
        _set_entry(app, 5, second)
        _set_entry(app, 9, first)

    lines = list(audit.export_lines(app.ctx))
    report = verify_log_copy(lines, notes, app.keyring.log_vkey())

    assert not report.ok
    assert report.first_bad_seq == target, report.problem
    assert f"seq {target}" in (report.problem or "")


def test_an_edit_that_also_rewrites_the_leaf_hash_is_caught_by_the_signed_root(
    app: App, clock: FixedClock
) -> None:
    _, notes = _busy_log(app, clock)
    checkpoint_sizes = sorted({cp.size for cp in audit.checkpoints(app.ctx)})
    _drop_guards(app)
    target = 7
    edited = _entry(app, target).replace('"outcome":"ok"', '"outcome":"refused:x"')
    _set_entry(app, target, edited, leaf_hash(edited.encode()))

    report = verify_log_copy(list(audit.export_lines(app.ctx)), notes, app.keyring.log_vkey())

    assert not report.ok
    # blamed on the range between the last checkpoint it reproduces and the first it doesn't
    below = max(s for s in checkpoint_sizes if s <= target)
    assert report.first_bad_seq == below, report.problem
    assert report.first_bad_seq is not None
    assert report.first_bad_seq <= target


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE log_entries SET entry = 'x' WHERE seq = 1",
        "DELETE FROM log_entries WHERE seq = 1",
        "DELETE FROM log_entries",
        "UPDATE log_hashes SET hash = hash",
        "DELETE FROM log_hashes",
        "UPDATE log_checkpoints SET note = 'x'",
        "DELETE FROM log_checkpoints",
    ],
)
def test_the_database_refuses_to_change_the_log(app: App, statement: str) -> None:
    audit.checkpoint_now(app.ctx, force=True)
    before = list(audit.export_lines(app.ctx))
    checkpoints_before = audit.checkpoints(app.ctx)
    with pytest.raises(DBAPIError, match="append-only"), app.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert list(audit.export_lines(app.ctx)) == before
    assert audit.checkpoints(app.ctx) == checkpoints_before


def test_postgresql_refuses_truncate_of_the_log(app: App) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    for table in ("log_entries", "log_hashes", "log_checkpoints"):
        with pytest.raises(DBAPIError, match="append-only"), app.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {table}")
    assert count(app, "log_entries") == 5  # keys, trust list, default rule set loaded + activated
