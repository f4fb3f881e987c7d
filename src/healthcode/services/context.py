"""What every use case is given: storage, time, keys and the city's policy (built in bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.services.ports import Clock, KeyRing, RuleEngine, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CityPolicy:
    city: str
    city_name_zh: str
    city_name_en: str
    code_algorithm: str
    code_lifetime_seconds: int
    max_code_lifetime_seconds: int
    code_key_lifetime_seconds: int
    place_key_lifetime_seconds: int
    poster_grace_seconds: int
    masked_name_on_code: bool
    clock_skew_seconds: int
    infectious_days_before: int = 2
    trace_min_overlap_seconds: int = 900
    trace_extension_seconds: int = 1800
    vaccination_facts: bool = False


@dataclass(frozen=True, slots=True)
class ServiceContext:
    uow: UnitOfWorkFactory
    clock: Clock
    keys: KeyRing
    policy: CityPolicy
    rules: RuleEngine
