"""Settings are validated at start: placeholder secrets only in the dev profile, with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from healthcode.config import DEV_PASSPHRASE, Settings

GOOD = {"key_passphrase": "a-real-passphrase-123"}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **{**GOOD, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["key_passphrase"])
@pytest.mark.parametrize("value", ["", "changeme", "secret", "short-but-real"])
def test_production_refuses_missing_or_placeholder_secrets(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field.upper()):
        settings(**{field: value})


def test_dev_profile_substitutes_development_secrets_and_warns() -> None:
    with pytest.warns(UserWarning, match="dev profile"):
        dev = settings(profile="dev", key_passphrase="")
    assert dev.key_passphrase.get_secret_value() == DEV_PASSPHRASE


def test_there_is_no_shared_admin_token() -> None:
    """Administration is by named staff accounts only: a shared token is nobody's action."""
    assert "admin_token" not in Settings.model_fields


def test_real_secrets_are_kept_and_never_shown() -> None:
    s = settings()
    assert s.key_passphrase.get_secret_value() == GOOD["key_passphrase"]
    assert GOOD["key_passphrase"] not in repr(s)


def test_code_lifetime_cannot_exceed_the_maximum() -> None:
    with pytest.raises(ValidationError, match="exceeds"):
        settings(code_lifetime_seconds=4000, max_code_lifetime_seconds=3600)


@pytest.mark.parametrize(
    ("field", "value"),
    [("city", "guangzhou"), ("port", 0), ("code_lifetime_seconds", 5), ("code_algorithm", "RS256")],
)
def test_out_of_range_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        settings(**{field: value})


def test_embedded_default_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    s = settings(data_dir=tmp_path)
    assert s.sqlalchemy_url == f"sqlite:///{tmp_path / 'healthcode.db'}"
    assert s.keys_dir == tmp_path / "keys"


def test_redis_replicas_need_their_primary_and_redis_urls() -> None:
    with pytest.raises(ValidationError, match="replicas of redis_url"):
        settings(redis_replica_urls="redis://127.0.0.1:6380/0")
    with pytest.raises(ValidationError, match="redis_replica_urls"):
        settings(redis_url="redis://127.0.0.1:6379/0", redis_replica_urls="http://x, redis://y")
    both = settings(
        redis_url="redis://127.0.0.1:6379/0",
        redis_replica_urls=" redis://127.0.0.1:6380/0 ,redis://127.0.0.1:6381/0",
    )
    assert both.redis_replica_urls == "redis://127.0.0.1:6380/0,redis://127.0.0.1:6381/0"
