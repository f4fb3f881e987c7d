"""Lab results as HL7 FHIR R4: a Bundle of DiagnosticReport, Observation and Patient resources
for SARS-CoV-2 tests, parsed with fhir.resources and turned into the rows every lab submission
becomes (services/labs.py). The models are fhir.resources' R4B ones: Bundle, DiagnosticReport,
Observation and Patient are the same in R4 and R4B, and laboratory systems send R4.

How a Bundle is read (README, "Lab results as FHIR"):
- each DiagnosticReport is one test. `identifier[0].value` is the lab's test id; `code` carries
  a LOINC code of SARS-CoV-2 detection (TEST_CODES); `status` `final`, `amended` or `corrected`
  is a result, `registered` or `preliminary` a sample received whose result is still to come (the
  test request a later result answers); any other status is refused;
- `subject` names a Patient in the Bundle (by its fullUrl, or as `Patient/<id>`) whose
  identifier with system `urn:healthcode:doc:<doc_type>` gives the person's document;
- the sample time is the report's `effectiveDateTime`, with its UTC offset;
- the result comes from the Observations the report lists in `result`: SNOMED CT 260373001
  (detected) is positive, 260415000 (not detected) negative, 419984006 (inconclusive)
  inconclusive; or their `interpretation` POS, NEG, IND (HL7 v3 ObservationInterpretation).
Every problem is an InvalidInput naming the entry and the element, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from healthcode.domain.errors import InvalidInput
from healthcode.services.labs import REGISTERED, LabRow

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DOC_SYSTEM = "urn:healthcode:doc:"
MAX_ENTRIES = 20_000
# LOINC codes of SARS-CoV-2 detection: nucleic acid (RT-PCR and other NAA) and antigen tests.
TEST_CODES = frozenset({
    "94500-6", "94309-2", "94531-1", "94534-5", "94559-2", "94565-9", "94745-7", "94746-5",
    "94756-4", "94757-2", "94759-8", "94760-6", "94845-5", "95406-5", "95409-9", "96094-8",
    "96119-3", "96448-6", "96986-5", "94558-4", "95209-3", "96757-0", "97097-0", "94661-6",
})  # fmt: skip
RESULTS = {
    (SNOMED, "260373001"): "positive",
    (SNOMED, "260415000"): "negative",
    (SNOMED, "419984006"): "inconclusive",
    (INTERPRETATION, "POS"): "positive",
    (INTERPRETATION, "DET"): "positive",
    (INTERPRETATION, "NEG"): "negative",
    (INTERPRETATION, "ND"): "negative",
    (INTERPRETATION, "IND"): "inconclusive",
}
FINAL = frozenset({"final", "amended", "corrected"})
PENDING = frozenset({"registered", "preliminary"})


def _fail(where: str, message: str, params: Mapping[str, object] | None = None) -> InvalidInput:
    return InvalidInput(message, field=where, code="fhir", params=params)


def _bundle(text: str) -> Any:
    from fhir.resources.R4B.bundle import Bundle  # imported on first use: a large package

    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise _fail("bundle", "not JSON") from None
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        raise _fail("bundle.resourceType", "a FHIR Bundle is expected")
    try:
        return Bundle.model_validate(raw)
    # LookupError: fhir.resources looks an entry's resourceType up by name and raises KeyError
    # for one it does not know of ("", say), past its own validation.
    except (ValidationError, ValueError, TypeError, LookupError, RecursionError) as exc:
        where, message = "bundle", "not a valid FHIR R4 Bundle"
        if isinstance(exc, ValidationError) and exc.errors():
            first = exc.errors()[0]
            where = "bundle." + ".".join(str(p) for p in first.get("loc", ()))
            message = str(first.get("msg", message))
        raise _fail(where[:120], message[:200]) from None


def _codes(concepts: Iterable[Any] | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for concept in concepts or ():
        found += [(str(c.system or ""), str(c.code or "")) for c in concept.coding or ()]
    return found


def _document(patient: Any, where: str) -> tuple[str, str]:
    for identifier in patient.identifier or ():
        system = str(identifier.system or "")
        if system.startswith(DOC_SYSTEM) and identifier.value:
            return system[len(DOC_SYSTEM) :], str(identifier.value)
    raise _fail(
        f"{where}.identifier",
        "the patient's document: system %(doc_system)s<doc_type>",
        params={"doc_system": DOC_SYSTEM},
    )


def _result(report: Any, resources: dict[str, Any], where: str) -> str:
    found: set[str] = set()
    for i, ref in enumerate(report.result or ()):
        observation = resources.get(str(ref.reference or ""))
        if observation is None or observation.get_resource_type() != "Observation":
            raise _fail(f"{where}.result[{i}]", "names no Observation in the Bundle")
        value = observation.valueCodeableConcept
        codes = _codes([value] if value is not None else []) + _codes(observation.interpretation)
        found |= {RESULTS[c] for c in codes if c in RESULTS}
    if len(found) != 1:
        raise _fail(
            f"{where}.result",
            "one result: detected (positive), not detected (negative) or inconclusive, as "
            "SNOMED CT or an interpretation code",
        )
    return found.pop()


def _row(index: int, report: Any, resources: dict[str, Any]) -> LabRow:
    where = f"entry[{index}].resource"
    if not (report.identifier and report.identifier[0].value):
        raise _fail(f"{where}.identifier", "the lab's test id")
    if not any(s == LOINC and c in TEST_CODES for s, c in _codes([report.code])):
        raise _fail(f"{where}.code", "a LOINC code of a SARS-CoV-2 detection test")
    status = str(report.status or "")
    if status not in FINAL | PENDING:
        raise _fail(f"{where}.status", "final, amended or corrected (a result), or "
                    "registered or preliminary (a sample received)")  # fmt: skip
    patient = resources.get(str(report.subject.reference or "")) if report.subject else None
    if patient is None or patient.get_resource_type() != "Patient":
        raise _fail(f"{where}.subject", "names no Patient in the Bundle")
    doc_type, doc_number = _document(patient, f"{where}.subject")
    when = report.effectiveDateTime
    if when is None or getattr(when, "tzinfo", None) is None:
        raise _fail(f"{where}.effectiveDateTime", "the sample time, with its UTC offset")
    result = REGISTERED if status in PENDING else _result(report, resources, where)
    test_id = str(report.identifier[0].value)
    return LabRow(index, test_id, doc_type, doc_number, when.isoformat(), result, "")


def parse_bundle(text: str) -> list[LabRow]:
    """The rows of a FHIR Bundle of SARS-CoV-2 lab results (see the module docstring)."""
    bundle = _bundle(text)
    entries = list(bundle.entry or ())
    if not entries:
        raise _fail("bundle.entry", "the Bundle holds no entries")
    if len(entries) > MAX_ENTRIES:
        raise _fail(
            "bundle.entry",
            "at most %(max_entries)s entries per Bundle",
            params={"max_entries": MAX_ENTRIES},
        )
    resources: dict[str, Any] = {}
    for entry in entries:
        resource = entry.resource
        if resource is None:
            continue
        kind = resource.get_resource_type()
        if entry.fullUrl:
            resources[str(entry.fullUrl)] = resource
        if resource.id:
            resources[f"{kind}/{resource.id}"] = resource
    rows = [
        _row(i, entry.resource, resources)
        for i, entry in enumerate(entries)
        if entry.resource is not None and entry.resource.get_resource_type() == "DiagnosticReport"
    ]
    if not rows:
        raise _fail("bundle.entry", "the Bundle holds no DiagnosticReport")
    return rows
