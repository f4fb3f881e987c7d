"""Residents: enrolment, dependants, and fresh health codes."""

from __future__ import annotations

from fastapi import APIRouter

from healthcode.adapters.qr import qr_svg
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas import (
    AddDependantIn,
    CodeOut,
    DependantOut,
    EnrolledOut,
    EnrolResidentIn,
)
from healthcode.services import codes, enrolment

router = APIRouter(prefix="/residents", tags=["residents"])
SUBJECT = r"^[0-9a-f]{32}$"


@router.post("", status_code=201, response_model=EnrolledOut)
def enrol(body: EnrolResidentIn, ctx: Ctx) -> EnrolledOut:
    done = enrolment.enrol_resident(ctx, enrolment.EnrolResident(**body.model_dump()))
    return EnrolledOut(subject_id=done.subject_id, commitment=done.commitment)


@router.post("/{subject_id}/dependants", status_code=201, response_model=EnrolledOut)
def add_dependant(subject_id: str, body: AddDependantIn, ctx: Ctx) -> EnrolledOut:
    done = enrolment.add_dependant(ctx, enrolment.AddDependant(subject_id, **body.model_dump()))
    return EnrolledOut(subject_id=done.subject_id, commitment=done.commitment)


@router.get("/{subject_id}/dependants", response_model=list[DependantOut])
def list_dependants(subject_id: str, ctx: Ctx) -> list[DependantOut]:
    return [
        DependantOut(subject_id=s, relation=r) for s, r in enrolment.dependants(ctx, subject_id)
    ]


@router.post("/{subject_id}/code", response_model=CodeOut)
def issue_code(subject_id: str, ctx: Ctx) -> CodeOut:
    issued = codes.issue_health_code(ctx, subject_id)
    return CodeOut(
        code=issued.text,
        colour=issued.colour,
        issued_at=issued.issued_at,
        expires_at=issued.expires_at,
        rule_ref=issued.rule_ref,
        qr_svg=qr_svg(issued.text),
    )
