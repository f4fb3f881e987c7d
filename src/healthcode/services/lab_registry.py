"""Registering labs: one authority admin asks, with the lab's own public key; a second,
independent admin approves (domain/duties.py), and from then on the lab signs its results with
its private key, which no one at the authority ever sees (domain/labs.py). Revoking a lab takes
one admin and works at once. Every step is on the public log; the list of labs is public."""

from __future__ import annotations

from dataclasses import replace

from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import LogEntry
from healthcode.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthcode.domain.labs import (
    Lab,
    LabSignature,
    check_code,
    check_name,
    new_lab_id,
    public_key_bytes,
    signed_message,
)
from healthcode.services.auth import actor_of
from healthcode.services.context import ServiceContext
from healthcode.services.ports import UnitOfWork
from healthcode.services.staff import check_independent, log_independence_refusal
from healthcode.verifier.es256 import kid_of, p256_key, verify_es256

LAB_BASIS = "infectious_disease_reporting"
PURPOSE = "lab_registration"
ADMINS = frozenset({Role.AUTHORITY_ADMIN})


def _admin(principal: Principal, what: str) -> None:
    if principal.kind != PrincipalKind.STAFF or principal.role not in ADMINS:
        raise Forbidden("only an authority admin may %(what)s a lab", params={"what": what})


def _log(uow: UnitOfWork, action: str, principal: Principal, lab: Lab, now: int) -> None:
    actor = actor_of(uow, principal)
    entry = LogEntry(
        action, actor, "lab", f"lab:{lab.lab_id}", PURPOSE, LAB_BASIS, details={"kid": lab.kid}
    )
    uow.log.append(entry, now)


def _get(uow: UnitOfWork, lab_id: str) -> Lab:
    lab = uow.labs.get(lab_id) if isinstance(lab_id, str) else None
    if lab is None:
        raise NotFound("no such lab", field="lab_id")
    return lab


def request_lab(
    ctx: ServiceContext, principal: Principal, code: str, name: str, public_key: str
) -> Lab:
    """Ask for a lab to be registered; it submits nothing until a second admin approves."""
    _admin(principal, "register")
    der = public_key_bytes(public_key)
    if p256_key(der) is None:
        raise InvalidInput("an ES256 (P-256) public key, as SubjectPublicKeyInfo DER in base64",
                           field="public_key")  # fmt: skip
    lab = Lab(new_lab_id(), check_code(code), check_name(name), der, kid_of(der),
              principal.ref, ctx.clock.now())  # fmt: skip
    with ctx.uow() as uow:
        if uow.labs.by_code(lab.code) is not None:
            raise Conflict("a lab with this code is registered already", field="code")
        if any(other.kid == lab.kid for other in uow.labs.all()):
            raise Conflict("this key belongs to another lab", field="public_key")
        uow.labs.add(lab)
        _log(uow, "lab.registration_requested", principal, lab, lab.requested_at)
        uow.commit()
    return lab


def approve_lab(ctx: ServiceContext, principal: Principal, lab_id: str) -> Lab:
    """A second admin, independent of the one who asked, approves: the lab may submit."""
    _admin(principal, "approve")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        lab = _get(uow, lab_id)
        if lab.state != "pending":
            raise Conflict(
                "the lab is %(state)s already", field="lab_id", params={"state": lab.state}
            )
        why = check_independent(ctx, uow, principal.ref, lab.requested_by, now)
        if why is None:
            approved = replace(lab, approved_by=principal.ref, approved_at=now)
            uow.labs.save(approved)
            _log(uow, "lab.registered", principal, approved, now)
            uow.commit()
            return approved
    raise log_independence_refusal(
        ctx, principal, "lab.registered", "lab", f"lab:{lab.lab_id}", LAB_BASIS, PURPOSE, why,
        kid=lab.kid,
    )  # fmt: skip


def revoke_lab(ctx: ServiceContext, principal: Principal, lab_id: str) -> Lab:
    """The lab's key stops working at once (a stolen key, a closed lab): one admin suffices."""
    _admin(principal, "revoke")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        lab = _get(uow, lab_id)
        if lab.revoked_at is not None:
            return lab
        revoked = replace(lab, revoked_by=principal.ref, revoked_at=now)
        uow.labs.save(revoked)
        _log(uow, "lab.revoked", principal, revoked, now)
        uow.commit()
        return revoked


def list_labs(ctx: ServiceContext) -> list[Lab]:
    """Every lab, pending, active or revoked: public, like the trust list."""
    with ctx.uow(read_only=True) as uow:
        return uow.labs.all()


def authenticate_lab(ctx: ServiceContext, signed: LabSignature, path: str, body: bytes) -> Lab:
    """The active lab whose key signed this body for this route, within the clock-skew
    allowance of now; otherwise Forbidden (which the web layer answers as 401/403)."""
    now = ctx.clock.now()
    if abs(now - signed.created) > ctx.policy.clock_skew_seconds:
        raise Forbidden("the lab's signature is too old or from the future: check its clock",
                        code="signature_time")  # fmt: skip
    with ctx.uow(read_only=True) as uow:
        lab = uow.labs.get(signed.lab_id)
    message = signed_message(signed.created, path, body)
    if lab is None or not verify_es256(lab.public_key, message, signed.signature):
        raise Forbidden("the lab's signature does not verify", code="bad_signature")
    if lab.state != "active":
        raise Forbidden(
            "this lab is %(state)s: it may not submit results",
            code="not_a_lab",
            params={"state": lab.state},
        )
    return lab
