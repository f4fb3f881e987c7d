"""SIG-7: private keys are encrypted at rest, never stored in the database, and a missing key
means no code (503), not an unsigned or differently signed one."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from healthcode.adapters.crypto.keyring import KeyRing
from healthcode.adapters.crypto.keystore import KeyStore, KeyStoreError
from healthcode.adapters.crypto.signer import load_private_key
from healthcode.bootstrap import App
from healthcode.domain.keys import KeyUse
from healthcode.entrypoints.web.app import create_app
from healthcode.services import enrolment, keys
from tests.conftest import resident_headers

RESIDENT = enrolment.EnrolResident("赵六", "prc_id", "11010519491231002X", "13612345678")


def private_scalars(app: App) -> list[bytes]:
    found = []
    for key in keys.list_keys(app.ctx):
        private = load_private_key(app.keyring.store.get(f"{key.use.value}-{key.kid}"))
        if isinstance(private, ec.EllipticCurvePrivateKey):
            found.append(private.private_numbers().private_value.to_bytes(32, "big"))
    return found


def test_key_files_are_encrypted_and_bound_to_the_passphrase(app: App) -> None:
    secrets = private_scalars(app)
    assert secrets
    for path in Path(app.settings.keys_dir).glob("*.key"):
        raw = path.read_bytes()
        assert b"PRIVATE KEY" not in raw
        assert not any(secret in raw for secret in secrets)
    wrong = KeyStore(Path(app.settings.keys_dir), "another-passphrase-entirely")
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        wrong.unlock()


def test_no_private_key_bytes_anywhere_in_the_sqlite_file(app: App) -> None:
    if app.engine.dialect.name != "sqlite":
        pytest.skip("raw file check is for the embedded database")
    enrolment.enrol_resident(app.ctx, RESIDENT)
    app.engine.dispose()  # checkpoint the WAL into the main file
    database = Path(app.engine.url.database or "")
    raw = database.read_bytes() + (
        Path(f"{database}-wal").read_bytes() if Path(f"{database}-wal").exists() else b""
    )
    for secret in private_scalars(app):
        assert secret not in raw


def test_missing_signing_key_means_503_and_no_code(app: App) -> None:
    subject = enrolment.enrol_resident(app.ctx, RESIDENT).subject_id
    me = resident_headers(app, subject)
    kid = next(k.kid for k in keys.list_keys(app.ctx) if k.use is KeyUse.HEALTH)
    fresh = KeyRing(app.keyring.store, app.keyring.log_origin)
    app.keyring.store.destroy(f"health-{kid}")
    object.__setattr__(app.ctx, "keys", fresh)  # a restarted server: no cached signer
    with TestClient(create_app(built=app)) as client:
        response = client.post(f"/residents/{subject}/code", headers=me)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert "code" not in response.json()
