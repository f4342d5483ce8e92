"""Fixtures of the web UI tests: a browser-like client, logged-in sessions, and builds in
any state (their tasks set directly, as an agent's reports would)."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import builds, users
from coprd.db.engine import write_session
from coprd.db.models import BuildState, utcnow
from tests.conftest import Account

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
RAWHIDE = "fedora-rawhide-x86_64"
CHROOTS = [RAWHIDE, "fedora-rawhide-aarch64"]
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HREF = re.compile(r'href="([^"]*)"')


@pytest.fixture
def web(client: TestClient) -> TestClient:
    """The app's client as a browser: asks for HTML, keeps cookies."""
    client.headers["accept"] = BROWSER_ACCEPT
    return client


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no CSRF field"
    return html.unescape(found.group(1))


def links_of(page: str) -> list[str]:
    return [html.unescape(href) for href in _HREF.findall(page)]


def set_password(session_factory: sessionmaker[Session], name: str, password: str) -> None:
    with write_session(session_factory) as session:
        users.set_password(session, users.get_user(session, name), password)


Login = Callable[[TestClient, Account], None]


@pytest.fixture
def login(session_factory: sessionmaker[Session]) -> Login:
    """Log ``account`` in on ``client`` with a web password (set here)."""

    def log_in(client: TestClient, account: Account) -> None:
        set_password(session_factory, account.name, PASSWORD)
        token = csrf_of(client.get("/login").text)
        r = client.post(
            "/login",
            data={"username": account.name, "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

    return log_in


def post_form(client: TestClient, page_url: str, action: str, **data: str | list[str]) -> Any:
    """Post the form ``action`` as a browser would from ``page_url`` (its CSRF token)."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={"csrf_token": token, **data}, follow_redirects=False)


def make_project(client: TestClient, account: Account, name: str = "demo", **fields: Any) -> None:
    owner = fields.pop("owner", account.name)
    r = client.post(
        f"/api_3/project/add/{owner}",
        json={"name": name, "chroots": CHROOTS, **fields},
        headers={**account.headers, "accept": "application/json"},
    )
    assert r.status_code == 200, r.text


def make_build(
    client: TestClient, account: Account, project: str = "demo", owner: str | None = None
) -> int:
    r = client.post(
        "/api_3/build/create/url",
        json={
            "ownername": owner or account.name,
            "projectname": project,
            "pkgs": ["https://example.com/hello-1.0-1.src.rpm"],
        },
        headers={**account.headers, "accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    return int(r.json()["items"][0]["id"])


@dataclass
class Tasks:
    """Sets the states of a build's tasks as the agents' reports would."""

    session_factory: sessionmaker[Session]

    def set(
        self,
        build_id: int,
        states: dict[str, BuildState],
        *,
        pkg_name: str | None = None,
        minutes: int = 3,
    ) -> None:
        with write_session(self.session_factory) as session:
            build = builds.get_build(session, build_id)
            start = utcnow() - dt.timedelta(minutes=minutes)
            for task in build.tasks:
                state = states.get(task.chroot_name)
                if state is None:
                    continue
                task.state = state
                if state not in (BuildState.pending, BuildState.waiting):
                    task.started_on = start
                if state in builds.TERMINAL:
                    task.ended_on = utcnow()
            if pkg_name is not None:
                build.pkg_name = pkg_name
                build.pkg_version = "1.0-1"
            builds.refresh_build(session, build)

    def finish(self, build_id: int, state: BuildState = BuildState.succeeded) -> None:
        self.set(
            build_id,
            {"srpm-builds": BuildState.succeeded, RAWHIDE: state, "fedora-rawhide-aarch64": state},
        )


@pytest.fixture
def tasks(session_factory: sessionmaker[Session]) -> Tasks:
    return Tasks(session_factory)
