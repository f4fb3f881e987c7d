"""CertLogic evaluation, by panzi-json-logic (a maintained implementation of the EU DCC
business-rule language). Rules are data; this is the one place that runs them."""

from __future__ import annotations

from typing import Any

from json_logic.cert_logic import certLogic


class CertLogicEngine:
    def apply(self, logic: object, data: object) -> object:
        result: Any = certLogic(logic, data)  # type: ignore[arg-type]
        return result
