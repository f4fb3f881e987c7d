"""Errors a user can cause. Each has a stable machine code and names the field at fault.

The HTTP layer maps `InvalidInput` to 422 and `NotFound` to 404; the CLI maps both to exit 2.
Nothing that raises one of these may have written anything (services validate before writing).

Messages are written in English as templates with named parameters (`"at most %(most)s
characters"`, params={"most": 64}): the API and the command line give the English text
(`message`), and the web pages the same template translated into the reader's language and then
filled (`template`, `params`), from the catalogue `locales/<locale>/LC_MESSAGES/errors.po`. The
template is always a string literal at the raise site (or a constant marked with `N_`), never
an f-string, so that the catalogue's extraction finds every one of them, and a test fails if
one is not translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for translation"
    """Marks a message template kept in a constant for the catalogue's extraction."""
    return message


class DomainError(Exception):
    """Base of every error caused by the caller's input or by the state the caller asked about."""

    code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.template = message
        self.params = dict(params or {})
        self.message = message % self.params if self.params else message
        super().__init__(self.message)
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message": self.message}


class InvalidInput(DomainError):
    """A value the caller sent is malformed or out of range."""

    code = "invalid_input"


class NotFound(DomainError):
    """The object does not exist (or, later, the caller may not see it: the two look the same)."""

    code = "not_found"


class Refused(NotFound):
    """The caller may not touch this object: answered exactly like NotFound (AUTHZ-3), and put on
    the log as a refused attempt by whoever catches it, once the refused transaction is over."""

    def __init__(self, message: str, *, field: str, action: str, kind: str, ref: str) -> None:
        super().__init__(message, field=field)
        self.action, self.kind, self.ref = action, kind, ref

    @classmethod
    def of(cls, action: str, kind: str, ref: str) -> Refused:
        """A refusal to record (for refusals answered otherwise, e.g. 403 by role)."""
        return cls("refused", field=kind, action=action, kind=kind, ref=ref)


class Conflict(DomainError):
    """The request contradicts stored state (already enrolled, poster already rotated...)."""

    code = "conflict"


class Unauthenticated(DomainError):
    """The caller is not signed in, or the credentials they gave are wrong (HTTP 401)."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """The caller's role may not attempt this kind of action at all (HTTP 403). Objects the
    caller may not touch answer NotFound instead, as if they did not exist (AUTHZ-3)."""

    code = "forbidden"


class TooMany(DomainError):
    """Too many attempts: try again after `retry_after` seconds (HTTP 429 + Retry-After)."""

    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int,
        field: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, field=field, params=params)
        self.retry_after = max(1, retry_after)


class Unavailable(DomainError):
    """A resource the action needs is missing (no signing key, log unreachable): fail closed."""

    code = "unavailable"


E = TypeVar("E", bound=StrEnum)


def parse_choice(kind: type[E], value: str, *, field: str, code: str, what: str) -> E:
    """`value` as a member of the closed set `kind`, or an error that lists the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise InvalidInput(
            "%(what)s %(value)s is not recognised: expected one of %(choices)s",
            field=field,
            code=code,
            params={"what": what, "value": repr(value[:40]), "choices": choices},
        ) from None
