"""All the pages: the routers of each audience and their (method, path) -> action rows."""

from __future__ import annotations

from fastapi import APIRouter

from healthcode.entrypoints.web.pages import (
    home,
    office,
    office_labs,
    office_orders,
    office_rules,
    public_anomalies,
    public_log,
    public_report,
    public_rules,
    resident_checkins,
    resident_code,
    resident_dependants,
    resident_enrol,
    resident_record,
    venue,
    venue_scan,
)

MODULES = (
    home,
    # residents
    resident_enrol,
    resident_code,
    resident_checkins,
    resident_record,
    resident_dependants,
    # venues and their guards
    venue,
    venue_scan,
    # the health authority
    office,
    office_labs,
    office_orders,
    office_rules,
    # the public and auditors
    public_report,
    public_rules,
    public_log,
    public_anomalies,
)

ROUTERS: tuple[APIRouter, ...] = tuple(m.router for m in MODULES)
PAGE_ACTIONS: dict[tuple[str, str], str] = {k: v for m in MODULES for k, v in m.ACTIONS.items()}
