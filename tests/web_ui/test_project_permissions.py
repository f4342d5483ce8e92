"""Permission requests and approvals on the project's permissions page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import Account, MakeAccount, snapshot
from tests.web_ui.conftest import Login, csrf_of, make_project, post_form

BASE = "/coprs/alice/demo/"
PAGE = BASE + "permissions/"
REQUEST = PAGE + "request"


def _entries(web: TestClient, alice: Account) -> dict[str, dict[str, str]]:
    r = web.get("/api_3/project/permissions/get/alice/demo", headers=alice.headers)
    if r.status_code == 404:  # as on Copr: "No permissions set on alice/demo project"
        return {}
    assert r.status_code == 200, r.text
    return dict(r.json()["permissions"])


def test_a_request_and_its_approval(
    web: TestClient, client: TestClient, alice: Account, bob: Account, login: Login
) -> None:
    make_project(web, alice)
    login(web, bob)
    page = web.get(BASE).text
    assert f'href="{PAGE}"' in page
    assert f'href="{BASE}edit/"' not in page and f'href="{BASE}add_build/"' not in page
    r = post_form(web, PAGE, REQUEST, builder="y")
    assert r.status_code == 303 and r.headers["location"] == PAGE
    assert "asked, waiting for the owner" in web.get(PAGE).text
    assert _entries(web, alice) == {"bob": {"builder": "request", "admin": "nothing"}}

    owner = TestClient(client.app, headers={"accept": "text/html"})
    login(owner, alice)
    shown = owner.get(PAGE).text
    assert 'name="builder:bob"' in shown and 'value="request" selected' in shown
    r = post_form(owner, PAGE, PAGE, **{"builder:bob": "approved", "admin:bob": "nothing"})
    assert r.status_code == 303
    assert _entries(web, alice) == {"bob": {"builder": "approved", "admin": "nothing"}}
    # Bob may build now: the tab shows, the form renders.
    assert f'href="{BASE}add_build/"' in web.get(BASE).text
    assert web.get(BASE + "add_build/").status_code == 200
    # Denying takes it back.
    post_form(owner, PAGE, PAGE, **{"builder:bob": "nothing"})
    assert _entries(web, alice) == {}
    assert web.get(BASE + "add_build/").status_code == 403


def test_an_owner_cannot_request(
    web: TestClient, engine: Engine, alice: Account, login: Login
) -> None:
    make_project(web, alice)
    login(web, alice)
    assert "Your rights" not in web.get(PAGE).text
    before = snapshot(engine)
    r = post_form(web, PAGE, REQUEST, builder="y")
    assert r.status_code == 400 and "owners have every right" in r.text
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"builder:bob": "sometimes"}, 400, "unknown value"),
        ({"builder:nobody": "approved"}, 404, "does not exist"),
        ({"builder:../x": "approved"}, 400, "user name"),
        ({"builder:alice": "approved"}, 400, "owns the project"),
        ({}, 400, "the form names no user"),
    ],
)
def test_bad_approvals_are_refused(
    web: TestClient,
    engine: Engine,
    alice: Account,
    bob: Account,
    login: Login,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    make_project(web, alice)
    login(web, alice)
    before = snapshot(engine)
    r = post_form(web, PAGE, PAGE, **fields)
    assert r.status_code == status, r.text
    assert message in r.text
    assert snapshot(engine) == before


def test_others_cannot_approve(
    web: TestClient,
    engine: Engine,
    alice: Account,
    bob: Account,
    make_account: MakeAccount,
    login: Login,
) -> None:
    make_project(web, alice)
    make_account("carol")
    login(web, bob)
    post_form(web, PAGE, REQUEST, admin="y")
    assert 'name="admin:bob"' not in web.get(PAGE).text
    before = snapshot(engine)
    r = post_form(web, PAGE, PAGE, **{"admin:bob": "approved"})
    assert r.status_code == 403
    assert snapshot(engine) == before
    web.cookies.clear()
    assert web.get(PAGE).status_code == 401


@pytest.mark.parametrize("token", [None, "forged"])
def test_without_the_csrf_token_nothing_changes(
    web: TestClient, engine: Engine, alice: Account, bob: Account, login: Login, token: str | None
) -> None:
    make_project(web, alice)
    login(web, bob)
    csrf_of(web.get(PAGE).text)
    before = snapshot(engine)
    for action, fields in ((REQUEST, {"builder": "y"}), (PAGE, {"builder:bob": "approved"})):
        data = dict(fields) if token is None else {"csrf_token": token, **fields}
        assert web.post(action, data=data, follow_redirects=False).status_code == 403
    assert snapshot(engine) == before
