"""SIG-4: the largest ES256 code we can issue fits a QR of version 10 at error correction M."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from healthcode.adapters.qr import qr_version
from healthcode.bootstrap import App
from healthcode.domain.codes import MAX_MASKED_NAME, MAX_RULE_REF, masked_name_for_code
from healthcode.domain.keys import KeyUse
from healthcode.services.codes import CodeIssuer
from healthcode.services.keys import active_key
from healthcode.verifier.claims import Colour, decode_health_claims
from healthcode.verifier.cose import parse_sign1
from healthcode.verifier.envelope import HEALTH_CODE_PREFIX, unwrap
from tests.conftest import START, sqlite_app

WORST_CITY = "ZZ-ABCDEFGH"  # the longest issuer id the settings accept
SUBJECT = "ab" * 16


@pytest.fixture
def worst_app(tmp_path: Path, sqlite_template: Path) -> Iterator[App]:
    app = sqlite_app(tmp_path, sqlite_template, city=WORST_CITY)
    yield app
    app.close()


@pytest.mark.parametrize("colour", list(Colour))
@pytest.mark.parametrize("name_mask", ["欧**", "W* Z* M* L* K* P*", "阿*"])
def test_worst_case_es256_code_fits_qr_version_10(
    worst_app: App, colour: Colour, name_mask: str
) -> None:
    with worst_app.ctx.uow() as uow:
        key = active_key(uow, KeyUse.HEALTH, worst_app.ctx.clock.now())
    assert key is not None
    issuer = CodeIssuer(worst_app.ctx.keys, worst_app.ctx.policy)
    code = issuer.issue(
        key, SUBJECT, colour, "R" * MAX_RULE_REF, name_mask, worst_app.ctx.clock.now()
    )
    assert qr_version(code.text) <= 10
    claims = decode_health_claims(parse_sign1(unwrap(code.text, HEALTH_CODE_PREFIX)).payload)
    assert claims.masked_name is not None
    assert len(claims.masked_name) <= MAX_MASKED_NAME


def test_long_masked_names_are_cut_at_a_word() -> None:
    assert masked_name_for_code("W* Z* M* L*") == "W* Z*"
    assert masked_name_for_code("欧**") == "欧**"
    assert masked_name_for_code(None) is None


def test_a_rule_reference_too_long_for_a_code_is_refused(worst_app: App) -> None:
    with worst_app.ctx.uow() as uow:
        key = active_key(uow, KeyUse.HEALTH, worst_app.ctx.clock.now())
    assert key is not None
    issuer = CodeIssuer(worst_app.ctx.keys, worst_app.ctx.policy)
    with pytest.raises(ValueError, match="rule reference"):
        issuer.issue(key, SUBJECT, Colour.GREEN, "R" * (MAX_RULE_REF + 1), None, START)
