"""Laboratories: the only source of lab results (AUTHZ-8).

A lab is an organisation registered by two people: one authority admin asks, a second,
independent one approves (domain/duties.py). Its credential is its own ES256 key pair, made by
the lab: the city registers only the public key, so no admin ever holds a secret that could
submit a result in the lab's name. A lab signs each submission:

    Healthcode-Lab-Signature: lab=<lab id>; created=<unix seconds>; sig=<base64 r||s>

over the bytes `healthcode-lab-results/1 \\n <created> \\n <request path> \\n <body>`. The
signature binds the body and the route to the lab and a moment (within the clock-skew
allowance); a replayed body stores nothing twice, since results are unique per lab and test id.
No staff role submits a result; a positive on paper is recorded as a manual order instead.

A result a lab has *registered* (sample received, no result yet) is the test request a later
result answers; a positive with no earlier registration, or for a person with no
epidemiological link (no exposure found by tracing and no symptoms reported in the 14 days
before the sample), is counted as such on the log, and the anomaly watch flags a lab whose
positives, unrequested positives or unlinked positives surge.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from healthcode.domain.errors import InvalidInput

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")  # the lab's short name, on every result
SIGNATURE_HEADER = "healthcode-lab-signature"
CONTEXT = b"healthcode-lab-results/1"
LINK_DAYS = 14  # an exposure or symptoms this many days before a sample link a positive
_PARAM = re.compile(r"^\s*(lab|created|sig)=([A-Za-z0-9+/=_.-]{1,200})\s*$")


@dataclass(frozen=True, slots=True)
class Lab:
    lab_id: str
    code: str
    name: str
    public_key: bytes  # SubjectPublicKeyInfo DER of the lab's ES256 key
    kid: str  # truncated SHA-256 of the key, hex
    requested_by: str  # staff id
    requested_at: int
    approved_by: str | None = None
    approved_at: int | None = None
    revoked_by: str | None = None
    revoked_at: int | None = None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.approved_at is not None else "pending"


@dataclass(frozen=True, slots=True)
class LabSample:
    """A sample a lab registered before its result: the test request the result answers."""

    lab: str  # the lab's code
    test_id: str
    subject_id: str
    sample_time: int
    registered_at: int


@dataclass(frozen=True, slots=True)
class LabSignature:
    lab_id: str
    created: int
    signature: bytes


def new_lab_id() -> str:
    return "l" + secrets.token_hex(8)


def check_code(code: str) -> str:
    text = code.strip() if isinstance(code, str) else ""
    if not CODE.match(text):
        raise InvalidInput("1 to 40 letters, digits, '.', '_', '/' or '-', starting with a letter "
                           "or a digit", field="code")  # fmt: skip
    return text


def check_name(name: str) -> str:
    text = " ".join(name.split()) if isinstance(name, str) else ""
    if not 2 <= len(text) <= 120:
        raise InvalidInput("the lab's name, 2 to 120 characters", field="name")
    return text


def public_key_bytes(text: str) -> bytes:
    """The lab's public key as submitted: base64 of its SubjectPublicKeyInfo (DER)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True) if isinstance(text, str) else b""
    except (ValueError, binascii.Error):
        raw = b""
    if not 40 <= len(raw) <= 600:
        raise InvalidInput(
            "base64 of the lab's ES256 public key (SubjectPublicKeyInfo, DER)", field="public_key"
        )
    return raw


def parse_signature(value: str) -> LabSignature:
    """The Healthcode-Lab-Signature header, or InvalidInput naming what is wrong with it."""
    found: dict[str, str] = {}
    for part in value.split(";") if isinstance(value, str) and len(value) < 1000 else []:
        match = _PARAM.match(part)
        if match is None or match.group(1) in found:
            found = {}
            break
        found[match.group(1)] = match.group(2)
    if set(found) != {"lab", "created", "sig"} or not found["created"].isdigit():
        raise InvalidInput(
            "Healthcode-Lab-Signature: lab=<lab id>; created=<unix seconds>; sig=<base64>",
            field=SIGNATURE_HEADER,
            code="bad_signature_header",
        )
    try:
        signature = base64.b64decode(found["sig"], validate=True)
    except (ValueError, binascii.Error):
        signature = b""
    if len(signature) != 64:
        raise InvalidInput(
            "sig is base64 of a 64-byte ES256 signature (r || s)",
            field=SIGNATURE_HEADER,
            code="bad_signature_header",
        )
    return LabSignature(found["lab"], int(found["created"][:12]), signature)


def signed_message(created: int, path: str, body: bytes) -> bytes:
    return b"\n".join([CONTEXT, str(created).encode(), path.encode("utf-8"), body])
