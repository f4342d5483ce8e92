"""Every form post without the session's CSRF token is refused (403) and changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from coprd.db.models import BuildState
from tests.conftest import Account, snapshot
from tests.web_ui.conftest import PASSWORD, Login, Tasks, csrf_of, make_build, make_project

BAD_TOKENS = [None, "", "forged-token", "x" * 43]


@pytest.fixture
def arranged(web: TestClient, alice: Account, login: Login, tasks: Tasks) -> dict[str, str]:
    """Alice logged in, with a running build and an ended one: the form actions to try."""
    make_project(web, alice)
    running = make_build(web, alice)
    tasks.set(running, {"srpm-builds": BuildState.running})
    ended = make_build(web, alice)
    tasks.finish(ended)
    login(web, alice)
    base = "/coprs/alice/demo/build"
    return {
        "cancel": f"{base}/{running}/cancel",
        "resubmit": f"{base}/{ended}/resubmit",
        "delete": f"{base}/{ended}/delete",
        "new token": "/account/api-token",
        "log out": "/logout",
    }


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_forms_without_the_token_are_refused(
    web: TestClient, engine: Engine, arranged: dict[str, str], token: str | None
) -> None:
    before = snapshot(engine)
    for name, action in arranged.items():
        data = {} if token is None else {"csrf_token": token}
        r = web.post(action, data=data, follow_redirects=False)
        assert r.status_code == 403, name
        assert r.headers["content-type"].startswith("text/html")
        assert "Reload the page and try again" in r.text
    assert snapshot(engine) == before
    # Still logged in: the refused logout did nothing either.
    assert web.get("/account").status_code == 200


def test_the_token_of_another_session_does_not_do(
    client: TestClient, web: TestClient, engine: Engine, arranged: dict[str, str]
) -> None:
    other = TestClient(client.app, headers={"accept": "text/html"})
    foreign = csrf_of(other.get("/login").text)
    before = snapshot(engine)
    for action in arranged.values():
        r = web.post(action, data={"csrf_token": foreign}, follow_redirects=False)
        assert r.status_code == 403
    assert snapshot(engine) == before


def test_login_needs_the_token_too(web: TestClient, alice: Account, login: Login) -> None:
    login(web, alice)  # sets the password
    web.cookies.clear()
    r = web.post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403
    assert web.get("/account", follow_redirects=False).status_code == 303


def test_a_token_sent_twice_or_a_file_is_not_a_form(
    web: TestClient, arranged: dict[str, str]
) -> None:
    token = csrf_of(web.get("/account").text)
    r = web.post(
        arranged["cancel"],
        data={"csrf_token": token},
        files={"upload": ("x.txt", b"data")},
        follow_redirects=False,
    )
    assert r.status_code == 400  # files are not taken by these forms
