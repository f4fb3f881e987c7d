"""What `healthcode serve` writes to its own output: that it started, never the requests. An
access log would be a record of every path asked for (many hold a resident's id: their code,
their status, their check-ins) outside the public log and its retention."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from tests.e2e.test_crash_drill import open_app, serving

SUBJECT = "0123456789abcdef0123456789abcdef"
ASKED = [
    ("POST", f"/residents/{SUBJECT}/code", 401),  # nobody signed in
    ("GET", f"/residents/{SUBJECT}/status", 401),
    ("GET", "/health", 200),
]


@pytest.mark.parametrize("uvicorn", [False, True], ids=["healthcode serve", "uvicorn"])
def test_the_server_writes_no_request_to_its_output(
    tmp_path: Path, database_url: str, uvicorn: bool
) -> None:
    data_dir = tmp_path / "data"
    open_app(data_dir, database_url).close()  # the city's keys and schema
    output = tmp_path / "server.out"
    with serving(data_dir, database_url, output=output, uvicorn=uvicorn) as (_, port):
        for method, path, status in ASKED:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(method, path)
            assert conn.getresponse().status == status
            conn.close()
    written = output.read_text(errors="replace")
    assert f"127.0.0.1:{port}" in written  # the output is this server's
    assert SUBJECT not in written
    assert "/residents/" not in written
    assert "/health" not in written
