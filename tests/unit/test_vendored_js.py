"""Vendored JavaScript is exactly what scripts/vendor-js fetched: each file matches the SHA-256
in static/vendor/MANIFEST.json, carries its licence, and no page loads a script that is neither
ours nor in the manifest."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path

WEB = Path(str(resources.files("healthcode.entrypoints.web")))
VENDOR = WEB / "static" / "vendor"
MANIFEST = json.loads((VENDOR / "MANIFEST.json").read_text())


def test_every_vendored_file_matches_its_manifest_hash() -> None:
    assert MANIFEST
    for row in MANIFEST:
        data = (VENDOR / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"], row["file"]


def test_every_vendored_package_carries_its_licence() -> None:
    for row in MANIFEST:
        folder = (VENDOR / row["file"]).parent
        own_file = (VENDOR / row["file"]).read_text(errors="replace")[:2000]
        assert (folder / "LICENSE").exists() or "license" in own_file.lower(), row["package"]
        assert row["license"], row["package"]


def test_vendored_files_are_all_in_the_manifest() -> None:
    listed = {row["file"] for row in MANIFEST}
    on_disk = {
        str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*")
        if p.is_file() and p.name not in ("LICENSE", "MANIFEST.json")
    }  # fmt: skip
    assert on_disk == listed


def test_templates_load_scripts_only_from_our_own_static_files() -> None:
    for template in (WEB / "templates").rglob("*.html"):
        for src in re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", template.read_text()):
            assert src.startswith("/static/") or src.startswith("/"), (template.name, src)
            assert "//" not in src, (template.name, src)
        # Inline code would need 'unsafe-inline' in the CSP; inert JSON data blocks are fine.
        inline = r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"
        assert not re.search(inline, template.read_text()), template.name
