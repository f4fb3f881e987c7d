"""Labs for tests, registered the way the city registers them (AUTHZ-8): each with its own
ES256 key, asked for by one founding admin and approved by the other. Results are then
submitted as that lab, to the service, or over HTTP with the request signed by its key."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from healthcode.adapters.crypto.signer import raw_es256
from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.labs import Lab, signed_message
from healthcode.services import lab_registry, labs
from healthcode.verifier.trustlist import spki_der
from tests.support.staff import founders


@dataclass(frozen=True)
class TestLab:
    __test__ = False  # not a pytest test class, despite the name

    lab: Lab
    key: ec.EllipticCurvePrivateKey

    @property
    def principal(self) -> Principal:
        return Principal(PrincipalKind.LAB, self.lab.lab_id, Role.LAB)

    def headers(self, path: str, body: bytes, now: int | None = None) -> dict[str, str]:
        """The signature header of a request with this body to this path, made `now`."""
        created = int(time.time()) if now is None else now
        sig = raw_es256(self.key, signed_message(created, path, body))
        value = f"lab={self.lab.lab_id}; created={created}; sig={base64.b64encode(sig).decode()}"
        return {"Healthcode-Lab-Signature": value}


_labs: dict[tuple[str, str], TestLab] = {}


def new_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, base64.b64encode(spki_der(key.public_key())).decode()


def registered_lab(app: App, code: str = "LAB1") -> TestLab:
    """The lab `code` of this database, registered (and approved) on first use."""
    where = (str(app.settings.database_url), code)
    found = _labs.get(where)
    if found is None:
        key, public = new_key()
        first, second = founders(app).admins
        asked = lab_registry.request_lab(app.ctx, first, code, f"Test lab {code}", public)
        found = TestLab(lab_registry.approve_lab(app.ctx, second, asked.lab_id), key)
        _labs[where] = found
    return found


def copied(source: str, copy: str) -> None:
    """The database `copy` is a copy of `source`: the same labs, with the same keys."""
    for (where, code), lab in list(_labs.items()):
        if where == source:
            _labs[(copy, code)] = lab


def import_results(app: App, rows: Sequence[labs.LabRow]) -> labs.ImportReport:
    """Rows as their labs send them: each lab (by the rows' `lab` column, LAB1 if empty) is
    registered on first use and submits its own rows; the reports are added up."""
    by_lab: dict[str, list[labs.LabRow]] = {}
    for row in rows:
        by_lab.setdefault(row.lab or "LAB1", []).append(row)
    total = labs.ImportReport()
    for code, mine in by_lab.items():
        done = labs.import_results(app.ctx, mine, registered_lab(app, code).principal)
        total.imported += done.imported
        total.duplicates += done.duplicates
        total.cases_opened += done.cases_opened
        total.colour_changes += done.colour_changes
        total.registered += done.registered
        total.positives += done.positives
        total.unrequested += done.unrequested
        total.unlinked += done.unlinked
    return total


def post_rows(client: Any, app: App, rows: list[dict[str, str]]) -> Any:
    """POST /lab-results as the lab of the rows (LAB1 if they name none), signed by it."""
    code = (rows[0].get("lab") if rows else "") or "LAB1"
    body = json.dumps({"rows": rows}).encode()
    headers = registered_lab(app, code).headers("/lab-results", body, app.ctx.clock.now())
    return client.post(
        "/lab-results", content=body, headers=headers | {"content-type": "application/json"}
    )
