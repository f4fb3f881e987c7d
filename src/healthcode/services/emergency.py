"""The door that sunset closes: once the emergency has ended, no new personal data comes in.

Every use case that writes personal data for the first time (enrolment, check-ins, lab results)
calls `require_emergency` inside its unit of work, before writing anything.
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
