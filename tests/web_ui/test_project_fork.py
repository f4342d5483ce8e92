"""Forking from a project's page: anyone logged in sees the button; the core's refusals
are shown next to the form and change nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import Account, snapshot
from tests.web_ui.conftest import Login, make_project, post_form

BASE = "/coprs/alice/demo/"
FORK = BASE + "fork/"


def test_a_logged_in_visitor_forks_a_project(
    web: TestClient, engine: Engine, alice: Account, bob: Account, login: Login
) -> None:
    make_project(web, alice, description="the demo")
    assert f'href="{FORK}"' not in web.get(BASE).text
    assert web.get(FORK).status_code == 401
    login(web, bob)
    assert f'href="{FORK}"' in web.get(BASE).text
    page = web.get(FORK)
    assert page.status_code == 200
    assert '<option value="bob" selected>bob</option>' in page.text
    assert 'name="name" value="demo"' in page.text

    r = post_form(web, FORK, FORK, owner="bob", name="mine")
    assert r.status_code == 303 and r.headers["location"] == "/coprs/bob/mine/"
    shown = web.get("/coprs/bob/mine/").text
    assert "alice/demo is forked into bob/mine" in shown
    assert "the demo" in shown

    before = snapshot(engine)
    again = post_form(web, FORK, FORK, owner="bob", name="mine")
    assert again.status_code == 400 and "--confirm" in again.text
    for owner, status in (("alice", 403), ("@nobody", 404), ("../x", 400)):
        refused = post_form(web, FORK, FORK, owner=owner, name="other")
        assert refused.status_code == status, owner
    assert snapshot(engine) == before
    confirmed = post_form(web, FORK, FORK, owner="bob", name="mine", confirm="on")
    assert confirmed.status_code == 303


def test_a_fork_post_without_the_csrf_token_changes_nothing(
    web: TestClient, engine: Engine, alice: Account, bob: Account, login: Login
) -> None:
    make_project(web, alice)
    login(web, bob)
    before = snapshot(engine)
    r = web.post(FORK, data={"owner": "bob", "name": "mine"}, follow_redirects=False)
    assert r.status_code == 403
    assert snapshot(engine) == before
