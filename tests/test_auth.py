"""Failed API and builder authentications are throttled in every dialect (``coprd/auth.py``,
``agent_api/deps.py``): 429 with Retry-After in the dialect's envelope, nothing changed by
a refused request, and the OpenAPI document saying so where it happens."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from coprd.app import create_app
from coprd.config import Settings
from coprd.core import builders
from coprd.db.engine import write_session
from coprd.db.models import AuthFailure, Project
from tests.conftest import Account, age_failures, snapshot

RAWHIDE = "fedora-rawhide-x86_64"
SRPM_LEAD = b"\xed\xab\xee\xdb\x03\x00\x00\x01" + b"\x00" * 88


def api_client(
    settings: Settings, engine: Engine, address: str = "192.0.2.20", **limits: int
) -> TestClient:
    app = create_app(replace(settings, **limits), engine)
    return TestClient(app, client=(address, 40000), raise_server_exceptions=False)


def wrong(account: Account) -> dict[str, str]:
    pair = f"{account.token.login}:not-the-token".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def test_twenty_wrong_tokens_get_429_while_another_account_authenticates(
    settings: Settings, engine: Engine, alice: Account, bob: Account
) -> None:
    client = api_client(settings, engine)
    statuses = [
        client.get("/api_3/auth-check", headers=wrong(alice)).status_code for _ in range(20)
    ]
    assert statuses == [401] * 10 + [429] * 10
    refused = client.get("/api_3/auth-check", headers=alice.headers)  # the right token too
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json() == {
        "error": f"Too many failed attempts to authenticate; try again in "
        f"{refused.headers['retry-after']} seconds."
    }
    # Another account, from the same address, is not kept out.
    assert client.get("/api_3/auth-check", headers=bob.headers).json()["name"] == "bob"

    # The limit lifts after the delay; the success forgives alice's login.
    age_failures(engine, dt.timedelta(seconds=61))
    assert client.get("/api_3/auth-check", headers=alice.headers).json()["name"] == "alice"
    with Session(engine) as db:
        left = db.scalars(select(AuthFailure.subject).distinct()).all()
    assert left == ["address:192.0.2.20"]


def test_a_refused_request_changes_nothing(
    settings: Settings, engine: Engine, alice: Account
) -> None:
    client = api_client(settings, engine, auth_failures_per_account=2)
    for _ in range(2):
        r = client.post("/api_3/project/add/alice", json={"name": "x"}, headers=wrong(alice))
        assert r.status_code == 401  # counted, though the write transaction rolled back
    before = snapshot(engine, failures=True)
    r = client.post(
        "/api_3/project/add/alice",
        json={"name": "demo", "chroots": [RAWHIDE]},
        headers=alice.headers,
    )
    assert r.status_code == 429 and "retry-after" in r.headers
    # An upload is refused before its body is read, and leaves no file.
    r = client.post(
        "/api_3/build/create/upload",
        files={
            "json": (None, '{"ownername": "alice", "projectname": "demo"}'),
            "pkgs": ("a.src.rpm", SRPM_LEAD),
        },
        headers=alice.headers,
    )
    assert r.status_code == 429
    assert snapshot(engine, failures=True) == before
    assert not (settings.data_dir / "uploads").exists()
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Project)) == 0


def test_malformed_credentials_count_against_the_address(
    settings: Settings, engine: Engine, alice: Account
) -> None:
    client = api_client(settings, engine, auth_failures_per_address=3)
    for header in ("Basic !!", "Bearer x", "Basic " + base64.b64encode(b"nocolon").decode()):
        assert client.get("/api_3/auth-check", headers={"Authorization": header}).status_code == 401
    assert client.get("/api_3/auth-check", headers=alice.headers).status_code == 429
    # Reads that do not authenticate ignore credentials, and so are never throttled.
    assert client.get("/api_3/project/list", params={"ownername": "alice"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "method", "key", "extra"),
    [
        ("/api/coprs/alice/new/", "POST", "error", {"output": "notok"}),
        ("/api_2/projects", "POST", "message", {}),
    ],
)
def test_the_older_dialects_answer_429_in_their_envelopes(
    settings: Settings,
    engine: Engine,
    alice: Account,
    path: str,
    method: str,
    key: str,
    extra: dict[str, Any],
) -> None:
    client = api_client(settings, engine, auth_failures_per_account=1)
    assert client.request(method, path, headers=wrong(alice)).status_code == 401
    r = client.request(method, path, headers=alice.headers)
    assert r.status_code == 429 and "retry-after" in r.headers
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body == {**extra, key: body[key]} and "try again in" in body[key]


def test_builder_tokens_are_throttled_per_address(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with write_session(session_factory) as db:
        _, token = builders.create_builder(db, "agent1")
    right = {"Authorization": f"Bearer {token}"}
    bad = {"Authorization": "Bearer coprd-builder-guess"}
    limits = {"auth_failures_per_address": 3}
    guesser = api_client(settings, engine, address="203.0.113.5", **limits)
    elsewhere = api_client(settings, engine, address="198.51.100.5", **limits)
    claim = {"arches": ["x86_64"], "wait_s": 0}
    for _ in range(3):
        assert guesser.post("/backend/claim", json=claim, headers=bad).status_code == 401
    r = guesser.post("/backend/claim", json=claim, headers=right)
    assert r.status_code == 429 and "retry-after" in r.headers
    assert "try again in" in r.json()["error"]
    assert guesser.post("/backend/task/1/heartbeat", headers=right).status_code == 429
    assert elsewhere.post("/backend/claim", json=claim, headers=right).status_code == 204
    # Users failing from the agents' address do not stop the agents, nor the reverse.
    with Session(engine) as db:
        subjects = set(db.scalars(select(AuthFailure.subject)))
    assert subjects == {"agent-address:203.0.113.5"}


def test_the_openapi_document_says_which_routes_answer_429(client: TestClient) -> None:
    spec = client.get("/api_3/openapi.json").json()

    def responses(path: str, method: str) -> dict[str, Any]:
        found: dict[str, Any] = spec["paths"][path][method]["responses"]
        return found

    throttled = responses("/api_3/auth-check", "get")["429"]
    assert "Retry-After" in throttled["headers"]
    schema = throttled["content"]["application/json"]["schema"]
    assert schema["properties"] == {"error": {"type": "string"}}
    for path, method in (
        ("/api_3/project/add/{ownername}", "post"),
        ("/api_3/build/create/upload", "post"),
        ("/api_3/project/permissions/get/{ownername}/{projectname}", "get"),
        ("/api_2/projects", "post"),
        ("/api/coprs/{username}/new", "post"),
        ("/backend/claim", "post"),
        ("/backend/task/{task_id}/heartbeat", "post"),
    ):
        assert "429" in responses(path, method), (path, method)
    legacy = responses("/api/coprs/{username}/new", "post")["429"]
    assert set(legacy["content"]["application/json"]["schema"]["properties"]) == {"output", "error"}
    # Routes that never look at credentials never answer 429.
    for path, method in (
        ("/api_3/project/list", "get"),
        ("/api_3", "get"),
        ("/api_2/projects", "get"),
    ):
        assert "429" not in responses(path, method), (path, method)


def test_a_failure_the_database_cannot_count_is_still_refused(
    settings: Settings, engine: Engine, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*_: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr("coprd.app.count_failure", busy)
    client = api_client(settings, engine)
    r = client.get("/api_3/auth-check", headers=wrong(alice))
    assert r.status_code == 401 and "Login invalid" in r.json()["error"]
