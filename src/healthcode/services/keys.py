"""Signing keys and trust lists: create, rotate, withdraw, publish, import.

Every key change publishes a new, signed trust-list version in the same transaction, and both go
on the transparency log, so no key can sign codes without the public being able to see it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from healthcode.domain.audit import SYSTEM, Actor, LogEntry
from healthcode.domain.errors import Conflict, InvalidInput, NotFound, Unavailable
from healthcode.domain.keys import KeyUse, SigningKey, retire, withdraw
from healthcode.services.context import ServiceContext
from healthcode.services.ports import StoredTrustList, UnitOfWork
from healthcode.services.public import public_read
from healthcode.verifier.trustlist import (
    FORMAT,
    TrustList,
    TrustListError,
    TrustStore,
    parse_trust_list,
)

KEY_BASIS = "city_key_policy"


def _lifetime(ctx: ServiceContext, use: KeyUse) -> int:
    if use is KeyUse.HEALTH:
        return ctx.policy.code_key_lifetime_seconds
    return ctx.policy.place_key_lifetime_seconds


@contextmanager
def _keys_undone_on_failure(ctx: ServiceContext) -> Iterator[list[str]]:
    """A private key is written to the key store before the transaction that lists it commits;
    if that transaction fails, the key must not linger, signing-capable and on no list."""
    created: list[str] = []
    try:
        yield created
    except BaseException:
        for kid in created:
            ctx.keys.destroy_signing_key(kid)
        raise


def _new_key(
    ctx: ServiceContext, uow: UnitOfWork, use: KeyUse, alg: str, now: int, created: list[str]
) -> SigningKey:
    kid, public_key = ctx.keys.create_signing_key(use, alg)
    created.append(kid)
    key = SigningKey(kid, use, alg, public_key, now, now + _lifetime(ctx, use), now)
    uow.keys.add(key)
    return key


def newest_usable(keys: Sequence[SigningKey], use: KeyUse, now: int) -> SigningKey | None:
    usable = [k for k in keys if k.use is use and k.can_sign(now)]
    return max(usable, key=lambda k: k.created_at, default=None)


def active_key(uow: UnitOfWork, use: KeyUse, now: int) -> SigningKey | None:
    return newest_usable(uow.keys.all(), use, now)


def signing_key(
    uow: UnitOfWork, use: KeyUse, now: int, keys: Sequence[SigningKey] | None = None
) -> SigningKey:
    """Fail closed: no usable key, no code (SIG-7). Among `keys` if the caller holds them."""
    key = newest_usable(uow.keys.all() if keys is None else keys, use, now)
    if key is None:
        raise Unavailable(
            "no active %(value)s signing key: rotate keys",
            code="no_key",
            params={"value": use.value},
        )
    return key


def ensure_keys(ctx: ServiceContext, actor: Actor = SYSTEM) -> list[str]:
    """Make sure each key use has an active key (at init, and when one has expired)."""
    now = ctx.clock.now()
    created: list[str] = []
    with ctx.uow() as uow, _keys_undone_on_failure(ctx) as fresh:
        for use in KeyUse:
            if active_key(uow, use, now) is None:
                alg = ctx.policy.code_algorithm if use is KeyUse.HEALTH else "ES256"
                key = _new_key(ctx, uow, use, alg, now, fresh)
                uow.log.append(
                    LogEntry(
                        "key.created",
                        actor,
                        "signing_key",
                        key.kid,
                        "key_management",
                        KEY_BASIS,
                        details={"use": use.value},
                    ),
                    now,
                )
                created.append(key.kid)
        if created or uow.trust_lists.latest(ctx.policy.city) is None:
            publish_trust_list(ctx, uow, now, actor)
        uow.commit()
    return created


def rotate_key(ctx: ServiceContext, use: KeyUse, actor: Actor, alg: str | None = None) -> str:
    now = ctx.clock.now()
    alg = alg or (ctx.policy.code_algorithm if use is KeyUse.HEALTH else "ES256")
    if alg not in ("ES256", "PS256"):
        raise InvalidInput("algorithm must be ES256 or PS256", field="alg", code="algorithm")
    with ctx.uow() as uow, _keys_undone_on_failure(ctx) as fresh:
        old = active_key(uow, use, now)
        new = _new_key(ctx, uow, use, alg, now, fresh)
        if old is not None:
            uow.keys.save(retire(old, now, _longest_signed(ctx, use)))
        uow.log.append(
            LogEntry(
                "key.rotated",
                actor,
                "signing_key",
                new.kid,
                "key_management",
                KEY_BASIS,
                details={"use": use.value, "retired": old.kid if old else "none"},
            ),
            now,
        )
        publish_trust_list(ctx, uow, now, actor)
        uow.commit()
    return new.kid


def _longest_signed(ctx: ServiceContext, use: KeyUse) -> int:
    """How long a code signed now may remain valid: the retired key verifies that long.
    Posters are printed and live for years, so a retired place key keeps its full validity."""
    if use is KeyUse.HEALTH:
        return ctx.policy.max_code_lifetime_seconds
    return ctx.policy.place_key_lifetime_seconds


def withdraw_key(ctx: ServiceContext, kid: str, actor: Actor, reason: str) -> str | None:
    """Compromise: verifiers reject the key at once; a replacement is created if it was active."""
    now = ctx.clock.now()
    with ctx.uow() as uow, _keys_undone_on_failure(ctx) as fresh:
        key = uow.keys.get(kid)
        if key is None:
            raise NotFound("no signing key %(kid)s", field="kid", params={"kid": kid})
        if key.withdrawn_at is not None:
            raise Conflict(
                "key %(kid)s is already withdrawn",
                field="kid",
                code="withdrawn",
                params={"kid": kid},
            )
        replacement = None
        if key.can_sign(now):
            replacement = _new_key(ctx, uow, key.use, key.alg, now, fresh)
        uow.keys.save(withdraw(key, now))
        uow.log.append(
            LogEntry(
                "key.withdrawn",
                actor,
                "signing_key",
                kid,
                "key_management",
                reason,
                details={"replacement": replacement.kid if replacement else "none"},
            ),
            now,
        )
        publish_trust_list(ctx, uow, now, actor)
        uow.commit()
    return replacement.kid if replacement else None


def publish_trust_list(ctx: ServiceContext, uow: UnitOfWork, now: int, actor: Actor) -> int:
    latest = uow.trust_lists.latest(ctx.policy.city)
    version = (latest.version + 1) if latest else 1
    listed = [k for k in uow.keys.all() if k.on_trust_list(now)]
    body: dict[str, object] = {
        "format": FORMAT,
        "city": ctx.policy.city,
        "city_name": {"zh": ctx.policy.city_name_zh, "en": ctx.policy.city_name_en},
        "version": version,
        "issued_at": now,
        "anchor": {
            "alg": "ES256",
            "public_key": base64.b64encode(ctx.keys.anchor_public_key()).decode(),
        },
        "keys": [_key_json(k) for k in listed],
    }
    document = ctx.keys.sign_trust_list(body)
    parsed = parse_trust_list(document, None)
    uow.trust_lists.add(
        StoredTrustList(ctx.policy.city, version, document, parsed.anchor_fingerprint, "ours", now)
    )
    uow.log.append(
        LogEntry(
            "trust_list.published",
            actor,
            "trust_list",
            f"{ctx.policy.city.lower()}@{version}",
            "key_management",
            KEY_BASIS,
            details={"keys": len(listed)},
        ),
        now,
    )
    return version


def _key_json(key: SigningKey) -> dict[str, object]:
    return {
        "kid": base64.b64encode(bytes.fromhex(key.kid)).decode(),
        "use": key.use.value,
        "alg": key.alg,
        "public_key": base64.b64encode(key.public_key).decode(),
        "not_before": key.not_before,
        "not_after": key.not_after,
        "withdrawn_at": key.withdrawn_at,
    }


def our_trust_list(ctx: ServiceContext) -> StoredTrustList:
    with ctx.uow(read_only=True) as uow:
        stored = uow.trust_lists.latest(ctx.policy.city)
    if stored is None:
        raise Unavailable("no trust list published yet: run `healthcode init`", code="no_key")
    return stored


def import_trust_list(
    ctx: ServiceContext, document: str, fingerprint: str, actor: Actor
) -> TrustList:
    """Accept another city's list, checked against the anchor fingerprint pinned out of band."""
    try:
        parsed = parse_trust_list(document, fingerprint)
    except TrustListError as exc:
        raise InvalidInput(
            "the trust list is not valid: %(reason)s",
            field="document",
            code="trust_list",
            params={"reason": str(exc)},
        ) from None
    if parsed.city == ctx.policy.city:
        raise InvalidInput(
            "this is our own city's list; it is published, not imported",
            field="document",
            code="own_city",
        )
    now = ctx.clock.now()
    with ctx.uow() as uow:
        held = uow.trust_lists.latest(parsed.city)
        if held is not None and held.anchor_fingerprint != parsed.anchor_fingerprint:
            raise Conflict(
                "%(city)s is pinned to another anchor; remove it first",
                field="fingerprint",
                code="anchor_changed",
                params={"city": parsed.city},
            )
        if held is not None and parsed.version <= held.version:
            raise Conflict(
                "%(city)s version %(version)s is not newer than the held version %(version2)s",
                field="document",
                code="rollback",
                params={"city": parsed.city, "version": parsed.version, "version2": held.version},
            )
        uow.trust_lists.add(
            StoredTrustList(
                parsed.city, parsed.version, document, parsed.anchor_fingerprint, "imported", now
            )
        )
        uow.log.append(
            LogEntry(
                "trust_list.imported",
                actor,
                "trust_list",
                f"{parsed.city.lower()}@{parsed.version}",
                "interoperability",
                "mutual_recognition",
                details={"keys": len(parsed.keys)},
            ),
            now,
        )
        uow.commit()
    return parsed


_STORES: dict[tuple[tuple[str, int, str], ...], TrustStore] = {}


def trust_store(ctx: ServiceContext) -> TrustStore:
    """Every city's newest list we hold, ours included: what our verifier accepts.

    Parsed stores are cached by (city, version, anchor) of each list, so a new version (a key
    withdrawn, a city added) takes effect on the next verification. Each call asks the database
    only for those versions, in one statement (no transaction around it: a changed version
    reads the lists once more, and the store is keyed by what that read found); documents are
    read and checked again only when they changed."""
    with ctx.uow(read_only=True, one_statement=True) as uow:
        return trust_store_in(uow)


def trust_store_in(uow: UnitOfWork) -> TrustStore:
    """`trust_store` inside a unit of work the caller already holds (one transaction less)."""
    versions = tuple(uow.trust_lists.latest_versions())
    store = _STORES.get(versions)
    if store is None:
        stored = uow.trust_lists.latest_all()
        versions = tuple((s.city, s.version, s.anchor_fingerprint) for s in stored)
        if len(_STORES) > 16:
            _STORES.clear()
        store = _STORES[versions] = TrustStore.of(
            parse_trust_list(s.document, s.anchor_fingerprint) for s in stored
        )
    return store


def held_trust_lists(ctx: ServiceContext) -> list[StoredTrustList]:
    with public_read(ctx) as uow:
        return uow.trust_lists.latest_all()


def list_keys(ctx: ServiceContext) -> list[SigningKey]:
    with ctx.uow(read_only=True) as uow:
        return uow.keys.all()
