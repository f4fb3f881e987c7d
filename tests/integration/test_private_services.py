"""scripts/test on a fresh machine: where no PostgreSQL or Redis answers, private ones from the
installed binaries serve the run and are gone after it (tests/support/private_services.py); CI's
HEALTHCODE_TEST_SERVICES=required fails instead."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import private_services
from tests.support.pg_cluster import binaries

CLOSED = {
    "HEALTHCODE_TEST_PG_URL": "postgresql+psycopg://postgres@127.0.0.1:9/postgres",
    "HEALTHCODE_TEST_REDIS_URL": "redis://127.0.0.1:9/0",
}
SHOW = (
    "import json, os, sys; json.dump({k: os.environ.get(k) for k in sys.argv[2:]},"
    " open(sys.argv[1], 'w'))"
)


def _port_open(url: str) -> bool:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname or "", parts.port or 0)) == 0


@pytest.mark.skipif(binaries() is None, reason="PostgreSQL's server binaries are not installed")
def test_private_servers_serve_the_run_and_are_gone_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in CLOSED.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HEALTHCODE_TEST_SERVICES", raising=False)
    seen = tmp_path / "seen.json"
    code = private_services.main([sys.executable, "-c", SHOW, str(seen), *CLOSED])
    assert code == 0
    given = json.loads(seen.read_text())
    for key, closed in CLOSED.items():
        assert given[key] != closed  # a private server's address
        assert not _port_open(given[key])  # stopped after the run


def test_ci_fails_rather_than_start_or_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in CLOSED.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HEALTHCODE_TEST_SERVICES", "required")
    assert private_services.main([sys.executable, "-c", "pass"]) == 2
