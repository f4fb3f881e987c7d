"""FHIR R4 Bundles as a lab system sends them: a DiagnosticReport per SARS-CoV-2 test, with its
Observation and the Patient it is about (adapters/fhir.py reads them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

RESULT_CODES = {"positive": "260373001", "negative": "260415000", "inconclusive": "419984006"}
CN = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Test:
    __test__ = False  # not a pytest test class, despite the name

    test_id: str
    doc_type: str
    doc_number: str
    sample_time: int
    result: str  # positive | negative | inconclusive | registered


def bundle(*tests: Test, loinc: str = "94500-6") -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for i, t in enumerate(tests):
        when = datetime.fromtimestamp(t.sample_time, UTC).astimezone(CN).isoformat()
        patient, observation = f"urn:uuid:p-{i}", f"urn:uuid:o-{i}"
        entries.append({"fullUrl": patient, "resource": {
            "resourceType": "Patient", "id": f"p{i}",
            "identifier": [{"system": f"urn:healthcode:doc:{t.doc_type}", "value": t.doc_number}],
        }})  # fmt: skip
        report: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "id": f"d{i}",
            "identifier": [{"system": "urn:lab:test", "value": t.test_id}],
            "status": "registered" if t.result == "registered" else "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": patient},
            "effectiveDateTime": when,
        }
        if t.result != "registered":
            entries.append({"fullUrl": observation, "resource": {
                "resourceType": "Observation", "id": f"o{i}", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                "subject": {"reference": patient}, "effectiveDateTime": when,
                "valueCodeableConcept": {"coding": [
                    {"system": "http://snomed.info/sct", "code": RESULT_CODES[t.result]}]},
            }})  # fmt: skip
            report["result"] = [{"reference": observation}]
        entries.append({"fullUrl": f"urn:uuid:d-{i}", "resource": report})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def text(*tests: Test) -> bytes:
    return json.dumps(bundle(*tests), ensure_ascii=False).encode()
