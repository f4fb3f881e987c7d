"""The web app in both languages: every text the pages show has a Chinese translation, every
message the server can answer with (the errors of domain/errors.py, wherever they are raised, and
the templates marked with N_) has one too, and each translation keeps the placeholders of its
English original (a missing `%(name)s` would raise or show the wrong value at render time)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEB = Path(str(resources.files("healthcode.entrypoints.web")))
SOURCE = WEB.parents[1]  # the healthcode package
CATALOGUES = sorted((WEB / "locales" / "zh_CN" / "LC_MESSAGES").glob("*.po"))
METHOD_MAP = [("pages/**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# The errors a user can cause (domain/errors.py and its subclasses), the helpers that make them
# and N_: which argument (0-based) is the message template.
MESSAGE_ARG = {
    **{name: 0 for name in ("DomainError", "InvalidInput", "NotFound", "Refused", "Conflict",
                            "Unauthenticated", "Forbidden", "TooMany", "Unavailable", "Busy",
                            "N_", "_name_error", "_phone_error")},
    "_fail": 1,
    "RowError": 2,
}  # fmt: skip
SERVER_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    name: (index + 1,) for name, index in MESSAGE_ARG.items()
}


def _texts() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, line, message, _, _ in extract_from_dir(
        str(WEB), METHOD_MAP, OPTIONS, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, f"{filename}:{line}")
    return found


def _server_messages() -> dict[str, str]:
    """What scripts/i18n-extract lists (babel), and what the syntax tree holds: a message the
    extraction misses (a literal it does not see) still has to be translated."""
    found: dict[str, str] = {}
    for filename, line, message, _, _ in extract_from_dir(
        str(SOURCE), [("**.py", "python")], keywords=SERVER_KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, f"{filename}:{line}")
    for path, node, arg in _message_args():
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
            found.setdefault(arg.value, f"{path.relative_to(SOURCE)}:{node.lineno}")
    return found


def _message_args() -> Iterator[tuple[Path, ast.Call, ast.expr]]:
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                index = MESSAGE_ARG.get(node.func.id)
                if index is not None and len(node.args) > index:
                    yield path, node, node.args[index]


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


def test_every_server_message_has_a_chinese_translation() -> None:
    messages = _server_messages()
    assert len(messages) > 150  # the extraction finds the raise sites
    translated = _translated()
    missing = {t: where for t, where in messages.items() if t not in translated}
    assert missing == {}, "untranslated (run scripts/i18n-extract): " + repr(missing)


def test_every_server_message_is_a_template_the_catalogue_can_find() -> None:
    """An f-string, a concatenation or a formatted string as a message would never be found by
    the extraction (nor translated): messages are literals with %(name)s and params=."""
    bad = []
    for path, node, arg in _message_args():
        built = isinstance(arg, ast.JoinedStr | ast.BinOp) or (
            isinstance(arg, ast.Call)
            and (
                (isinstance(arg.func, ast.Name) and arg.func.id in ("str", "repr", "format"))
                or (isinstance(arg.func, ast.Attribute) and arg.func.attr == "format")
            )
        )
        if built:
            bad.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    assert bad == []


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
