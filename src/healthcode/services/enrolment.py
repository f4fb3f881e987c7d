"""Enrolment of residents and their dependants.

Identity goes into the vault; everything else knows the subject by a random pseudonym. Every
input is validated before anything is written, and the log entry names the subject only by a
keyed commitment.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from healthcode.domain.audit import Actor, LogEntry, commitment
from healthcode.domain.errors import Conflict, InvalidInput, NotFound, parse_choice
from healthcode.domain.identity import (
    DocumentType,
    date_of,
    mask_name,
    validate_document,
    validate_mobile,
    validate_name,
)
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.ports import Identity, Subject, UnitOfWork

MAX_DEPENDANTS = 10
ENROLMENT_BASIS = "public_health_emergency_act"


class Relation(StrEnum):
    CHILD = "child"
    ELDER = "elder"
    WARD = "ward"


@dataclass(frozen=True, slots=True)
class EnrolResident:
    name: str
    doc_type: str
    doc_number: str
    phone: str


@dataclass(frozen=True, slots=True)
class AddDependant:
    guardian_id: str
    name: str
    relation: str
    doc_type: str | None = None
    doc_number: str | None = None


@dataclass(frozen=True, slots=True)
class Enrolled:
    subject_id: str
    commitment: str


def _document(
    doc_type: str | None, doc_number: str | None, now_required: bool, now: int
) -> tuple[DocumentType | None, str | None]:
    if not doc_type and not doc_number and not now_required:
        return None, None
    if not doc_type:
        raise InvalidInput(
            "doc_type is required with a document number", field="doc_type", code="required"
        )
    if not doc_number:
        raise InvalidInput("doc_number is required", field="doc_number", code="required")
    return validate_document(doc_type, doc_number, date_of(now))


def _store(
    uow: UnitOfWork,
    kind: str,
    name: str,
    doc: tuple[DocumentType | None, str | None],
    phone: str | None,
    now: int,
) -> Enrolled:
    require_emergency(uow)
    doc_type, doc_number = doc
    if (
        doc_type is not None
        and doc_number is not None
        and uow.vault.find_document(doc_type, doc_number)
    ):
        raise Conflict(
            "this document is already enrolled", field="doc_number", code="already_enrolled"
        )
    subject_id = secrets.token_hex(16)
    key = secrets.token_bytes(32)
    uow.subjects.add(Subject(subject_id, kind, now))
    uow.vault.add(Identity(subject_id, name, doc_type, doc_number, phone, key, now))
    return Enrolled(subject_id, commitment(key, subject_id))


def enrol_resident(ctx: ServiceContext, cmd: EnrolResident, actor: Actor | None = None) -> Enrolled:
    name = validate_name(cmd.name)
    now = ctx.clock.now()
    doc = _document(cmd.doc_type, cmd.doc_number, True, now)
    phone = validate_mobile(cmd.phone)
    try:
        return _enrol(ctx, name, doc, phone, now, actor)
    except Conflict as exc:
        if exc.code == "already_enrolled" and doc[0] is not None and doc[1] is not None:
            _log_known_document(ctx, doc[0], doc[1], actor, now)
        raise


def document_key(doc_type: str, doc_number: str) -> str:
    """What rate limits count attempts with a document by: never the number itself."""
    digest = hashlib.sha256(f"{doc_type.strip().lower()}/{''.join(doc_number.split()).upper()}"
                            .encode()).hexdigest()  # fmt: skip
    return digest[:32]


def _log_known_document(
    ctx: ServiceContext, doc_type: DocumentType, doc_number: str, actor: Actor | None, now: int
) -> None:
    """Someone tried to enrol with a document already enrolled: it goes in its holder's record
    ("someone tried to enrol with your ID document"), in a transaction of its own."""
    with ctx.uow() as uow:
        holder = uow.vault.find_document(doc_type, doc_number)
        identity = uow.vault.get(holder) if holder else None
        if identity is None:
            return
        uow.log.append(
            LogEntry(
                "resident.enrolment_refused",
                actor or Actor("applicant", "applicant"),
                "subject",
                commitment(identity.commit_key, identity.subject_id),
                "enrolment",
                ENROLMENT_BASIS,
                outcome="refused:document_known",
            ),
            now,
        )
        uow.commit()


def _enrol(
    ctx: ServiceContext,
    name: str,
    doc: tuple[DocumentType | None, str | None],
    phone: str,
    now: int,
    actor: Actor | None,
) -> Enrolled:
    with ctx.uow() as uow:
        enrolled = _store(uow, "resident", name, doc, phone, now)
        who = actor or Actor("resident", enrolled.commitment)
        uow.log.append(
            LogEntry(
                "resident.enrolled",
                who,
                "subject",
                enrolled.commitment,
                "enrolment",
                ENROLMENT_BASIS,
                details={"doc_type": str(doc[0])},
            ),
            now,
        )
        uow.commit()
    return enrolled


def add_dependant(ctx: ServiceContext, cmd: AddDependant) -> Enrolled:
    """A guardian holds codes for a child or an elder without a phone of their own."""
    name = validate_name(cmd.name)
    relation = parse_choice(
        Relation, cmd.relation, field="relation", code="unknown_relation", what="relation"
    )
    now = ctx.clock.now()
    doc = _document(cmd.doc_type, cmd.doc_number, False, now)
    with ctx.uow() as uow:
        guardian = uow.subjects.get(cmd.guardian_id)
        guardian_identity = uow.vault.get(cmd.guardian_id)
        if (
            guardian is None
            or guardian.kind != "resident"
            or guardian.erased_at is not None
            or guardian_identity is None
        ):
            raise NotFound("no such resident to act as guardian", field="guardian_id")
        if len(uow.subjects.dependants_of(cmd.guardian_id)) >= MAX_DEPENDANTS:
            raise Conflict(
                "a guardian may hold at most %(max_dependants)s dependants",
                field="guardian_id",
                code="too_many_dependants",
                params={"max_dependants": MAX_DEPENDANTS},
            )
        enrolled = _store(uow, "dependant", name, doc, None, now)
        uow.subjects.add_guardianship(cmd.guardian_id, enrolled.subject_id, relation.value, now)
        guardian_ref = commitment(guardian_identity.commit_key, cmd.guardian_id)
        uow.log.append(
            LogEntry(
                "dependant.enrolled",
                Actor("guardian", guardian_ref),
                "subject",
                enrolled.commitment,
                "enrolment",
                ENROLMENT_BASIS,
                details={"relation": relation.value},
            ),
            now,
        )
        uow.commit()
    return enrolled


def dependants(ctx: ServiceContext, guardian_id: str) -> list[tuple[str, str]]:
    with ctx.uow(read_only=True) as uow:
        if uow.subjects.get(guardian_id) is None:
            raise NotFound("no such resident", field="guardian_id")
        return uow.subjects.dependants_of(guardian_id)


def masked_names(ctx: ServiceContext, guardian_id: str, subject_ids: list[str]) -> dict[str, str]:
    """The names of the resident and their dependants among `subject_ids` as a guard may see them
    (domain.identity.mask_name: one character a word), for what they show at a door: the check-in
    pass. Anyone else among them is left out."""
    with ctx.uow(read_only=True) as uow:
        mine = {guardian_id} | {d for d, _ in uow.subjects.dependants_of(guardian_id)}
        return _masked(uow, [s for s in dict.fromkeys(subject_ids) if s in mine])


def named_dependants(ctx: ServiceContext, guardian_id: str) -> list[tuple[str, str, str | None]]:
    """(subject id, relation, masked name) of each dependant: the ones to tick at a door."""
    with ctx.uow(read_only=True) as uow:
        held = uow.subjects.dependants_of(guardian_id)
        names = _masked(uow, [d for d, _ in held])
        return [(d, relation, names.get(d)) for d, relation in held]


def _masked(uow: UnitOfWork, subject_ids: list[str]) -> dict[str, str]:
    found = {}
    for subject_id in subject_ids:
        identity = uow.vault.get(subject_id)
        if identity is not None:
            found[subject_id] = mask_name(identity.name)
    return found
