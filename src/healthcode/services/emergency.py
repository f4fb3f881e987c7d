"""The door that sunset closes: once the emergency has ended, no new personal data comes in.

Every use case that takes personal data in (sign-in codes, enrolment, check-ins and their
uploads, lab results, health facts, manual orders, appeals) calls `require_emergency` inside its
unit of work, before reading or writing anything personal.
"""

from __future__ import annotations

from healthcode.domain.errors import Conflict
from healthcode.services.ports import UnitOfWork

SUNSET_CODE = "emergency_ended"


def require_emergency(uow: UnitOfWork) -> None:
    if uow.maintenance.sunset_at() is not None:
        raise Conflict(
            "the emergency has ended: no new personal data is accepted", code=SUNSET_CODE
        )
