"""Rules for issuing a health code: its time window, and the status it carries.

A code is short-lived (a screenshot soon stops working) and never outlives its signing key
(SIG-3). Until the status engine exists every resident is green under the baseline rule; the
claim already carries the rule reference so that verifiers and residents can see the basis.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.errors import Unavailable

BASELINE_RULE_REF = "baseline@1#no-health-facts"
MIN_USEFUL_SECONDS = 30


@dataclass(frozen=True, slots=True)
class CodeWindow:
    issued_at: int
    expires_at: int


def code_window(now: int, lifetime: int, max_lifetime: int, key_not_after: int) -> CodeWindow:
    expires = min(now + lifetime, now + max_lifetime, key_not_after)
    if expires - now < MIN_USEFUL_SECONDS:
        raise Unavailable("no signing key is valid long enough to issue a code", code="no_key")
    return CodeWindow(now, expires)
