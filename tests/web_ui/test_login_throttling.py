"""Failed web logins are throttled per account and per address (``core/throttling.py``):
the acceptance test of issue 11 for passwords."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from coprd.app import create_app
from coprd.config import Settings
from coprd.db.models import AuthFailure, WebSession
from tests.conftest import Account, MakeAccount, age_failures, snapshot
from tests.web_ui.conftest import BROWSER_ACCEPT, PASSWORD, csrf_of, set_password


def browser(app: object, address: str = "192.0.2.10") -> TestClient:
    client = TestClient(app, client=(address, 50000), raise_server_exceptions=False)  # type: ignore[arg-type]
    client.headers["accept"] = BROWSER_ACCEPT
    return client


def log_in(client: TestClient, name: str, password: str) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def test_twenty_wrong_passwords_get_429_while_another_account_logs_in(
    client: TestClient,
    alice: Account,
    bob: Account,
    engine: Engine,
    session_factory: sessionmaker[Session],
) -> None:
    set_password(session_factory, "alice", PASSWORD)
    set_password(session_factory, "bob", PASSWORD)
    guesser = browser(client.app)
    statuses = [log_in(guesser, "alice", f"guess {i}").status_code for i in range(20)]
    assert statuses == [401] * 10 + [429] * 10

    refused = log_in(guesser, "alice", "guess 21")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many failed attempts to authenticate; try again in" in refused.text
    assert 'name="username" value="alice"' in refused.text  # the form, to try again later

    # Even the right password is refused, unchecked, and changes nothing.
    before = snapshot(engine, failures=True)
    right = log_in(guesser, "alice", PASSWORD)
    assert right.status_code == 429 and "retry-after" in right.headers
    assert snapshot(engine, failures=True) == before

    # Another account, from the same address (20 failures, below its 50), logs in.
    bobs = browser(client.app)
    assert log_in(bobs, "bob", PASSWORD).status_code == 303
    assert bobs.get("/account", follow_redirects=False).status_code == 200

    # The limit lifts after the delay: the right password then logs alice in, and her
    # account's failures are forgiven (the address keeps its count).
    age_failures(engine, dt.timedelta(seconds=61))
    assert log_in(guesser, "alice", PASSWORD).status_code == 303
    assert guesser.get("/account", follow_redirects=False).status_code == 200
    with session_factory() as db:
        subjects = db.scalars(select(AuthFailure.subject).distinct()).all()
    assert subjects == ["address:192.0.2.10"]


def test_an_address_past_its_limit_waits_and_others_do_not(
    settings: Settings, engine: Engine, make_account: MakeAccount
) -> None:
    app = create_app(replace(settings, auth_failures_per_address=12), engine)
    names = [f"user{i}" for i in range(6)]
    for name in [*names, "victim"]:
        make_account(name)
    factory = app.state.session_factory
    for name in [*names, "victim"]:
        set_password(factory, name, PASSWORD)
    attacker = browser(app, "203.0.113.66")
    # Two guesses at each of six accounts: no account reaches its 10, the address its 12.
    statuses = [log_in(attacker, name, "guess").status_code for name in names for _ in (1, 2)]
    assert statuses == [401] * 12
    refused = log_in(attacker, "victim", PASSWORD)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    # The victim, from her own address, is not kept out by the attacker's.
    assert log_in(browser(app, "198.51.100.7"), "victim", PASSWORD).status_code == 303


def test_ipv6_clients_count_by_their_slash_64(
    client: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    set_password(session_factory, "alice", PASSWORD)
    for suffix in ("1", "2"):
        assert log_in(browser(client.app, f"2001:db8:1:2::{suffix}"), "bob", "x").status_code == 401
    with session_factory() as db:
        counted = db.execute(
            select(AuthFailure.subject, func.count()).group_by(AuthFailure.subject)
        ).all()
        assert db.scalar(select(func.count()).select_from(WebSession)) == 0
    assert dict(counted) == {"password:bob": 2, "address:2001:db8:1:2::/64": 2}
