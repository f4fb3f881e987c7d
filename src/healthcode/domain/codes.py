"""Rules for issuing a health code: its time window, and the status it carries.

A code is short-lived (a screenshot soon stops working) and never outlives its signing key
(SIG-3). It carries the colour derived under the active rule set and that colour's rule
reference ("default@1#close"), so that verifiers and residents can see the basis.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.errors import Unavailable

# A rule reference with no facts behind it (rule set "baseline", version 1, rule "none"): used by
# the benchmarks and test vectors, which sign codes without a database.
BASELINE_RULE_REF = "baseline@1#none"
MIN_USEFUL_SECONDS = 30

# A code must fit a QR of version 10 at error correction M (311 alphanumeric characters, SIG-4).
# With ES256 that leaves room for a rule reference of at most 16 characters and a masked name of
# at most 6; tests/integration/test_code_size.py checks the worst case (298 characters).
MAX_RULE_REF = 16
MAX_MASKED_NAME = 6


@dataclass(frozen=True, slots=True)
class CodeWindow:
    issued_at: int
    expires_at: int


def code_window(now: int, lifetime: int, max_lifetime: int, key_not_after: int) -> CodeWindow:
    expires = min(now + lifetime, now + max_lifetime, key_not_after)
    if expires - now < MIN_USEFUL_SECONDS:
        raise Unavailable("no signing key is valid long enough to issue a code", code="no_key")
    return CodeWindow(now, expires)


def rule_ref_for_code(rule_ref: str) -> str:
    if not rule_ref or len(rule_ref) > MAX_RULE_REF:
        raise ValueError(f"a rule reference on a code has 1 to {MAX_RULE_REF} characters")
    return rule_ref


def masked_name_for_code(masked: str | None) -> str | None:
    """The masked name is a hint for the guard, not an identity: at most MAX_MASKED_NAME
    characters, cut at a word boundary when a long Latin name has many initials."""
    if not masked or len(masked) <= MAX_MASKED_NAME:
        return masked
    words = masked.split()
    kept = words[0][:MAX_MASKED_NAME]
    for word in words[1:]:
        if len(kept) + 1 + len(word) > MAX_MASKED_NAME:
            break
        kept += " " + word
    return kept
