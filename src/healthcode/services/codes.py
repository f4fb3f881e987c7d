"""Issuing health codes: short-lived, signed, minimal (SIG-1, SIG-3, SIG-4).

The code carries a colour, its validity, the rule that produced it, a sealed (unlinkable) subject
reference and optionally a masked name — never a name, phone or document number.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.audit import SYSTEM
from healthcode.domain.codes import (
    code_window,
    masked_name_for_code,
    rule_ref_for_code,
)
from healthcode.domain.errors import NotFound
from healthcode.domain.identity import mask_name
from healthcode.domain.keys import KeyUse, SigningKey
from healthcode.domain.status import derive
from healthcode.services.context import CityPolicy, ServiceContext
from healthcode.services.keys import signing_key
from healthcode.services.ports import KeyRing
from healthcode.services.rulebook import active_ruleset
from healthcode.services.status import differs, facts_of, refresh
from healthcode.verifier.claims import Colour, HealthClaims
from healthcode.verifier.envelope import HEALTH_CODE_PREFIX, wrap


@dataclass(frozen=True, slots=True)
class IssuedCode:
    text: str
    colour: str
    issued_at: int
    expires_at: int
    rule_ref: str
    kid: str


@dataclass(frozen=True, slots=True)
class CodeIssuer:
    """The signing half of issuance, with no storage: also what bench/codes.py measures."""

    keys: KeyRing
    policy: CityPolicy

    def issue(
        self,
        key: SigningKey,
        subject_id: str,
        colour: Colour,
        rule_ref: str,
        masked_name: str | None,
        now: int,
    ) -> IssuedCode:
        window = code_window(
            now,
            self.policy.code_lifetime_seconds,
            self.policy.max_code_lifetime_seconds,
            key.not_after,
        )
        claims = HealthClaims(
            issuer=self.policy.city,
            issued_at=window.issued_at,
            expires_at=window.expires_at,
            colour=colour,
            valid_until=window.expires_at,
            rule_ref=rule_ref_for_code(rule_ref),
            subject_ref=self.keys.seal_subject(subject_id),
            masked_name=masked_name_for_code(masked_name)
            if self.policy.masked_name_on_code
            else None,
        )
        text = wrap(HEALTH_CODE_PREFIX, self.keys.sign_cose(key.kid, claims.encode()))
        return IssuedCode(
            text, colour.label, window.issued_at, window.expires_at, rule_ref, key.kid
        )


def issue_health_code(ctx: ServiceContext, subject_id: str) -> IssuedCode:
    """A fresh code for a resident or dependant, carrying the colour derived now from their
    facts under the active rule set, and that colour's rule reference. If the colour differs
    from the one last remembered, the change is logged first."""
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        subject = uow.subjects.get(subject_id)
        identity = uow.vault.get(subject_id) if subject else None
        if subject is None or subject.erased_at is not None or identity is None:
            raise NotFound("no such resident", field="subject_id")
        key = signing_key(uow, KeyUse.HEALTH, now)
        status = derive(active_ruleset(uow), facts_of(uow, subject_id), now, ctx.rules.apply)
        changed = differs(uow.statuses.get(subject_id), status)
    if changed:
        with ctx.uow() as uow:
            refresh(ctx, uow, [subject_id], now, SYSTEM, "code_issued")
            uow.commit()
    return CodeIssuer(ctx.keys, ctx.policy).issue(
        key,
        subject_id,
        Colour[status.colour.upper()],
        status.rule_ref,
        mask_name(identity.name),
        now,
    )
