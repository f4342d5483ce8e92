"""What HTTP requires of every 401 and 405 answer, in every part of the app: the scheme to
authenticate with (``WWW-Authenticate``) and the methods the path allows (``Allow``)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from coprd.app import create_app
from coprd.config import Settings

BASIC = 'Basic realm="coprd API", charset="UTF-8"'


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api_3/project/list", "GET"),
        ("GET", "/api_3/project/add/alice", "POST"),
        # A path several handlers serve lists all their methods.
        ("GET", "/api_3/build/delete/1", "DELETE, POST"),
        ("PATCH", "/api_3/project/delete/alice/demo", "DELETE, POST"),
        ("PATCH", "/api_2/builds/1", "DELETE, GET, PUT"),
        ("PATCH", "/api_2/projects", "GET, POST"),
        # As routed: a trailing slash or a doubled one changes nothing.
        ("GET", "/api/coprs/alice/new/", "POST"),
        ("GET", "/api//coprs/alice/new", "POST"),
        ("PUT", "/backend/claim", "POST"),
        ("DELETE", "/login", "GET, POST"),
        ("POST", "/results/alice/demo/", "GET, HEAD"),
    ],
)
def test_405_names_every_method_the_path_allows(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allowed


def test_every_documented_operation_is_in_allow(client: TestClient) -> None:
    """Each APIv3 path, asked with a method it does not serve, lists the ones it does."""
    document = client.get("/api_3/openapi.json").json()
    for template, operations in document["paths"].items():
        path = re.sub(r"\{[^}]+\}", "1", template)  # digits: ids are digits only
        documented = {m.upper() for m in operations}
        unserved = next(m for m in ("PATCH", "PUT", "DELETE", "GET") if m not in documented)
        r = client.request(unserved, path)
        assert r.status_code == 405, (unserved, path, r.text)
        assert documented <= set(r.headers["allow"].split(", ")), (path, r.headers["allow"])


@pytest.mark.parametrize(
    ("method", "path", "challenge"),
    [
        ("GET", "/api_3/auth-check", BASIC),
        ("POST", "/api_3/project/add/alice", BASIC),
        ("POST", "/api_2/projects", BASIC),
        ("POST", "/api/coprs/alice/new/", BASIC),
        ("POST", "/backend/task/1/heartbeat", 'Bearer realm="coprd builders"'),
    ],
)
def test_401_says_how_to_authenticate(
    client: TestClient, method: str, path: str, challenge: str
) -> None:
    r = client.request(method, path, json={})
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == challenge


def test_a_wrong_token_gets_the_challenge_too(client: TestClient) -> None:
    r = client.get("/api_3/auth-check", auth=("nobody", "wrong"))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == BASIC


def test_the_web_uis_401_names_its_login_form(settings: Settings, engine: Engine) -> None:
    web = TestClient(create_app(settings, engine), raise_server_exceptions=False)
    page = web.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    form = {"csrf_token": token.group(1), "username": "nobody", "password": "wrong"}
    r = web.post("/login", data=form)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == 'Cookie realm="coprd", form-action="/login"'
