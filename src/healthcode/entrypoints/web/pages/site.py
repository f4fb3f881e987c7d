"""All the pages: the routers of each audience and their (method, path) -> action rows."""

from __future__ import annotations

from fastapi import APIRouter

from healthcode.entrypoints.web.pages import home

MODULES = (home,)

ROUTERS: tuple[APIRouter, ...] = tuple(m.router for m in MODULES)
PAGE_ACTIONS: dict[tuple[str, str], str] = {k: v for m in MODULES for k, v in m.ACTIONS.items()}
