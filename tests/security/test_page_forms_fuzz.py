"""REL-4 for the web pages: whatever a person types into a form, and whatever ids stand in the
path, a page answers with a page or a redirect, never a server error. Every POST page route is
sent generated form fields (its own field names, random text, some missing, some huge) as a
role allowed to post it, on the embedded database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from healthcode.bootstrap import App
from healthcode.domain.access import POLICY, Role
from healthcode.entrypoints.web.app import create_app
from healthcode.entrypoints.web.pages.site import PAGE_ACTIONS, ROUTERS
from tests.conftest import sqlite_app
from tests.security.test_api_schema_fuzz import PREFERENCE, callers

POSTS = sorted(path for (method, path) in PAGE_ACTIONS if method == "POST" and path != "/sign-out")
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "0", "-1", "9" * 30, "HCODE1:XYZ", "PLACE1:", "<script>", "%00"]),
    st.text(min_size=5000, max_size=6000),
)


def form_fields(path: str) -> list[str]:
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path == path and "POST" in route.methods:
                return [p.alias for p in route.dependant.body_params]
    raise LookupError(path)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[TestClient, dict[Role, dict[str, str]]]]:
    app: App = sqlite_app(tmp_path_factory.mktemp("pages"), sqlite_template)
    who = callers(app)
    with TestClient(create_app(built=app), base_url="http://127.0.0.1") as client:
        yield client, who
    app.close()


@pytest.mark.parametrize("path", POSTS)
def test_no_form_input_makes_a_page_fail(
    world: tuple[TestClient, dict[Role, dict[str, str]]], path: str
) -> None:
    client, who = world
    action = PAGE_ACTIONS[("POST", path)]
    role = next(r for r in PREFERENCE if r in POLICY[action] and r in who)
    fields = form_fields(path)
    ids = st.sampled_from(["x", "0" * 32, "v" + "0" * 16, "1", "%2e%2e", "a" * 300])

    @settings(max_examples=12, deadline=None)
    @given(st.dictionaries(st.sampled_from(fields or ["x"]), TEXT, max_size=len(fields) + 1), ids)
    def post(form: dict[str, str], some_id: str) -> None:
        url = path
        for name in ("venue_id", "checkin_id", "case_id", "order_id", "appeal_id", "device_id",
                     "set_id", "version", "seq", "subject_id"):  # fmt: skip
            url = url.replace("{" + name + "}", some_id)
        answer = client.post(url, data=form, headers=who[role], follow_redirects=False)
        assert answer.status_code < 500, (path, form, answer.status_code)

    post()
