"""The web app in both languages: every text the pages show has a Chinese translation, and each
translation keeps the placeholders of its English original (a missing `%(name)s` would raise or
show the wrong value at render time)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEB = Path(str(resources.files("healthcode.entrypoints.web")))
CATALOGUES = sorted((WEB / "locales" / "zh_CN" / "LC_MESSAGES").glob("*.po"))
METHOD_MAP = [("pages/**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _texts() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, line, message, _, _ in extract_from_dir(
        str(WEB), METHOD_MAP, OPTIONS, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, f"{filename}:{line}")
    return found


def _translated() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in CATALOGUES:
        with path.open("rb") as f:
            for m in read_po(f):
                if m.id and m.string:
                    msgid = m.id if isinstance(m.id, str) else m.id[0]
                    merged[msgid] = m.string if isinstance(m.string, str) else m.string[0]
    return merged


def test_there_is_something_to_translate() -> None:
    assert CATALOGUES
    assert len(_texts()) > 40


def test_every_text_has_a_chinese_translation() -> None:
    translated = _translated()
    missing = {t: where for t, where in _texts().items() if t not in translated}
    assert missing == {}, "untranslated (run scripts/i18n-extract): " + repr(missing)


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.name)
def test_translations_keep_their_placeholders(path: Path) -> None:
    with path.open("rb") as f:
        for m in read_po(f):
            if not m.id or not m.string:
                continue
            msgid = m.id if isinstance(m.id, str) else m.id[0]
            text = m.string if isinstance(m.string, str) else m.string[0]
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(msgid)), msgid
