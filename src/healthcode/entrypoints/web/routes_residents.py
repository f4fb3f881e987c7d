"""Residents: enrolment, dependants, fresh health codes, and who read my record.

Every route that names a resident passes the access gate first: the resident themselves, their
guardian, or (where the policy allows) an officer with an assigned open case involving them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from healthcode.domain.access import Role
from healthcode.domain.errors import Refused
from healthcode.entrypoints.web.deps import Ctx, limit_enrolment
from healthcode.entrypoints.web.schemas import (
    AddDependantIn,
    CodeOut,
    DependantOut,
    EnrolledOut,
    EnrolResidentIn,
    LogAboutOut,
)
from healthcode.entrypoints.web.security import Caller
from healthcode.services import audit, auth, codes, enrolment
from healthcode.services.access import gate_subject

router = APIRouter(prefix="/residents", tags=["residents"])
SUBJECT = r"^[0-9a-f]{32}$"


@router.post(
    "",
    status_code=201,
    response_model=EnrolledOut,
    responses={202: {"description": "an applicant's enrolment: received (either way)"}},
)
def enrol(
    request: Request, body: EnrolResidentIn, caller: Caller, ctx: Ctx
) -> EnrolledOut | JSONResponse:
    """An applicant enrols themselves with the phone they proved (their session becomes the
    resident's) and is answered 202 `received` whether or not the document was enrolled before
    (GET /auth/session then tells them whether they are now a resident): the answer is no way to
    learn who is enrolled, and attempts are limited per phone, per document and per address. A
    health officer enrols anyone, at a registration desk (201, or 409 for a known document;
    either way on the log, the second in the document holder's record)."""
    cmd = enrolment.EnrolResident(**body.model_dump())
    if caller.role is Role.APPLICANT:
        limit_enrolment(request, caller.ref, body.doc_type, body.doc_number)
        auth.enrol_applicant(ctx, caller, cmd)
        return JSONResponse({"state": "received"}, status_code=202)
    done = enrolment.enrol_resident(ctx, cmd, auth.actor_for(ctx, caller))
    return EnrolledOut(subject_id=done.subject_id, commitment=done.commitment)


def _own(ctx: Ctx, caller: Caller, subject_id: str, action: str) -> None:
    """Only the resident themselves (not a guardian, not an officer)."""
    grant = gate_subject(ctx, caller, subject_id, action)
    if grant.role is not Role.RESIDENT:
        raise Refused(
            "no such resident", field="subject_id", action=action, kind="subject", ref="dependant"
        )


@router.post("/{subject_id}/dependants", status_code=201, response_model=EnrolledOut)
def add_dependant(subject_id: str, body: AddDependantIn, caller: Caller, ctx: Ctx) -> EnrolledOut:
    _own(ctx, caller, subject_id, "resident.dependant.add")
    done = enrolment.add_dependant(ctx, enrolment.AddDependant(subject_id, **body.model_dump()))
    return EnrolledOut(subject_id=done.subject_id, commitment=done.commitment)


@router.get("/{subject_id}/dependants", response_model=list[DependantOut])
def list_dependants(subject_id: str, caller: Caller, ctx: Ctx) -> list[DependantOut]:
    _own(ctx, caller, subject_id, "resident.dependant.list")
    return [
        DependantOut(subject_id=s, relation=r) for s, r in enrolment.dependants(ctx, subject_id)
    ]


@router.post("/{subject_id}/code", response_model=CodeOut)
def issue_code(subject_id: str, caller: Caller, ctx: Ctx) -> CodeOut:
    """A fresh code with the stored colour, for the caller the access gate lets through. A
    resident's own request with a bearer token is answered before this route, from one read
    (entrypoints/web/fast_path.py); what reaches the route is everything else. The app draws
    the QR code from `code`."""
    gate_subject(ctx, caller, subject_id, "resident.code.issue")
    issued = codes.issue_health_code(ctx, subject_id)
    return CodeOut(
        code=issued.text,
        colour=issued.colour,
        issued_at=issued.issued_at,
        expires_at=issued.expires_at,
        rule_ref=issued.rule_ref,
    )


@router.get("/{subject_id}/log", response_model=list[LogAboutOut])
def about_me(subject_id: str, caller: Caller, ctx: Ctx) -> list[LogAboutOut]:
    """Every log entry about me, newest first: who read my record, in which role, why, when;
    who was refused; every change of my colour and its rule (PRIV-4)."""
    gate_subject(ctx, caller, subject_id, "resident.log.read")
    return [
        LogAboutOut(
            seq=e.seq,
            pending=e.pending,
            time=e.time,
            action=e.action,
            actor_role=e.actor_role,
            actor=e.actor_ref,
            purpose=e.purpose,
            basis=e.basis,
            outcome=e.outcome,
            details=e.details,
        )
        for e in audit.about_subject(ctx, subject_id)
    ]
