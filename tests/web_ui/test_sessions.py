"""Logging in and out with local accounts; the session cookie and its key."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import stat
from dataclasses import replace
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from coprd.app import create_app
from coprd.config import Settings
from coprd.core import logins, users
from coprd.db.engine import write_session
from coprd.db.models import WebSession, utcnow
from coprd.web.pages.sessions import (
    KEY_FILE,
    SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
    session_secret,
)
from tests.conftest import Account
from tests.web_ui.conftest import (
    BROWSER_ACCEPT,
    PASSWORD,
    Login,
    csrf_of,
    post_form,
    set_password,
)


def _log_in(web: TestClient, name: str, password: str, next_url: str = "/") -> httpx.Response:
    token = csrf_of(web.get("/login").text)
    return web.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token, "next": next_url},
        follow_redirects=False,
    )


def test_log_in_with_the_right_password(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    set_password(session_factory, "alice", PASSWORD)
    r = _log_in(web, "alice", PASSWORD, next_url="/account")
    assert r.status_code == 303
    assert r.headers["location"] == "/account"
    account = web.get("/account")
    assert account.status_code == 200
    assert "Logged in as alice." in account.text
    assert "Account (alice)" in account.text and "Log out" in account.text
    # The message is shown once.
    assert "Logged in as alice." not in web.get("/account").text


def test_a_wrong_password_or_user_is_refused(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    set_password(session_factory, "alice", PASSWORD)
    for name, password in (("alice", "wrong password"), ("nobody", PASSWORD), ("alice", "")):
        r = _log_in(web, name, password)
        assert r.status_code == 401
        assert "Wrong user name or password." in r.text
        assert web.get("/account", follow_redirects=False).status_code == 303


def test_accounts_without_a_password_cannot_log_in(web: TestClient, alice: Account) -> None:
    assert _log_in(web, "alice", "").status_code == 401
    assert _log_in(web, "alice", "anything").status_code == 401


def test_log_out(web: TestClient, alice: Account, login: Login) -> None:
    login(web, alice)
    assert web.get("/account").status_code == 200
    r = post_form(web, "/account", "/logout")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert web.get("/account", follow_redirects=False).status_code == 303
    home = web.get("/")
    assert "Logged out." in home.text and "Log out" not in home.text
    assert web.get("/logout").status_code == 405


def test_the_account_page(web: TestClient, alice: Account, login: Login) -> None:
    r = web.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"
    login(web, alice)
    page = web.get("/account").text
    assert 'href="/coprs/alice/"' in page
    assert alice.token.login in page  # her tokens, by their public logins
    assert alice.token.token not in page
    assert 'href="/api"' in page


def test_the_next_page_must_be_on_this_site(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    set_password(session_factory, "alice", PASSWORD)
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"):
        r = _log_in(web, "alice", PASSWORD, next_url=evil)
        assert r.headers["location"] == "/"


def test_the_session_cookie(web: TestClient, alice: Account, login: Login) -> None:
    # Pages seen anonymously set no cookie, nor do the APIs.
    assert "set-cookie" not in web.get("/").headers
    assert "set-cookie" not in web.get("/api_3/").headers
    login_page = web.get("/login")
    cookie = login_page.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # the public URL is plain http
    login(web, alice)
    # With a session, API, results and .repo answers still set no cookie.
    for path in ("/api_3/auth-check", "/results/", "/coprs/alice/x/repo/fedora-rawhide/"):
        assert "set-cookie" not in web.get(path).headers


def test_the_cookie_is_secure_behind_https(settings: Settings, engine: Engine) -> None:
    app = create_app(replace(settings, url="https://copr.example"), engine)
    client = TestClient(app, base_url="https://copr.example")
    r = client.get("/login", headers={"accept": BROWSER_ACCEPT})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SECURE_SESSION_COOKIE}=")
    assert "; secure" in cookie.lower() and "domain" not in cookie.lower()


def test_the_session_key_is_made_once_and_kept_private(settings: Settings) -> None:
    key = session_secret(settings)
    path = settings.data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert session_secret(settings) == key
    assert session_secret(replace(settings, secret_key="x" * 40)) == "x" * 40


def test_a_session_ends_when_the_password_changes_or_the_user_is_disabled(
    web: TestClient, alice: Account, login: Login, session_factory: sessionmaker[Session]
) -> None:
    login(web, alice)
    set_password(session_factory, "alice", "another password")
    assert web.get("/account", follow_redirects=False).status_code == 303
    assert "Log out" not in web.get("/").text

    login(web, alice)
    with write_session(session_factory) as session:
        users.disable_user(session, "alice")
    assert web.get("/account", follow_redirects=False).status_code == 303


def test_a_forged_cookie_is_ignored(web: TestClient, alice: Account) -> None:
    web.cookies.set(SESSION_COOKIE, "eyJ1aWQiOiAxfQ==.forged.signature")
    assert web.get("/account", follow_redirects=False).status_code == 303


def _browser(app: Any) -> TestClient:
    """Another browser on the same server (or on another replica's app)."""
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["accept"] = BROWSER_ACCEPT
    return client


def _logged_in(client: TestClient) -> bool:
    return client.get("/account", follow_redirects=False).status_code == 200


def _sessions_of(session_factory: sessionmaker[Session], name: str) -> int:
    with session_factory() as db:
        user = users.get_user(db, name)
        return len(db.scalars(select(WebSession).where(WebSession.user_id == user.id)).all())


def test_a_saved_cookie_is_refused_after_logout(
    web: TestClient, alice: Account, login: Login
) -> None:
    """The stolen-cookie test: a copy of the cookie taken while logged in is worthless
    once its owner has logged out."""
    login(web, alice)
    stolen = web.cookies.get(SESSION_COOKIE)
    assert stolen
    thief = _browser(web.app)
    thief.cookies.set(SESSION_COOKIE, stolen)
    assert _logged_in(thief)  # the copy works while the session lasts

    assert post_form(web, "/account", "/logout").status_code == 303
    assert not _logged_in(web)
    replay = _browser(web.app)
    replay.cookies.set(SESSION_COOKIE, stolen)
    r = replay.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"
    assert not _logged_in(thief)
    # Nor does the copy act: a form posted with its CSRF token is refused too.
    replay.cookies.set(SESSION_COOKIE, stolen)
    token = csrf_of(replay.get("/login").text)
    made = replay.post("/account/api-token", data={"csrf_token": token}, follow_redirects=False)
    assert made.status_code == 401
    assert "[copr-cli]" not in made.text


def test_log_out_everywhere_ends_another_browsers_session(
    web: TestClient,
    alice: Account,
    bob: Account,
    login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    laptop, phone, bobs = web, _browser(web.app), _browser(web.app)
    login(laptop, alice)
    # The fixture sets the password anew, which would end the laptop's session.
    assert _log_in(phone, "alice", PASSWORD).status_code == 303
    login(bobs, bob)
    assert _logged_in(laptop) and _logged_in(phone) and _logged_in(bobs)
    assert _sessions_of(session_factory, "alice") == 2

    account = phone.get("/account").text
    assert 'action="/account/logout-everywhere"' in account
    assert 'action="/account/logout-everywhere"' in phone.get("/api").text
    r = post_form(phone, "/account", "/account/logout-everywhere")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "Logged out everywhere (2 sessions ended)." in phone.get("/").text
    assert not _logged_in(laptop) and not _logged_in(phone)
    assert _logged_in(bobs)  # another user's sessions are theirs
    assert _sessions_of(session_factory, "alice") == 0
    # Without a session there is nothing to end.
    r = post_form(phone, "/login", "/account/logout-everywhere")
    assert r.status_code == 401


def test_a_new_password_or_a_disabled_account_ends_every_session(
    web: TestClient, alice: Account, login: Login, session_factory: sessionmaker[Session]
) -> None:
    other = _browser(web.app)
    login(web, alice)
    assert _log_in(other, "alice", PASSWORD).status_code == 303
    assert _sessions_of(session_factory, "alice") == 2
    set_password(session_factory, "alice", "a new password")
    assert not _logged_in(web) and not _logged_in(other)
    assert _sessions_of(session_factory, "alice") == 0

    login(web, alice)
    with write_session(session_factory) as session:
        users.disable_user(session, "alice")
    assert _sessions_of(session_factory, "alice") == 0
    assert not _logged_in(web)


def test_a_logout_on_one_replica_ends_the_session_on_every_replica(
    settings: Settings, engine: Engine, alice: Account, login: Login
) -> None:
    shared = replace(settings, secret_key="k" * 40)  # replicas share the cookie key
    one, two = _browser(create_app(shared, engine)), _browser(create_app(shared, engine))
    login(one, alice)
    two.cookies.set(SESSION_COOKIE, one.cookies[SESSION_COOKIE])
    assert _logged_in(two)
    assert post_form(two, "/account", "/logout").status_code == 303
    one_again = _browser(one.app)
    one_again.cookies.set(SESSION_COOKIE, one.cookies[SESSION_COOKIE])
    assert not _logged_in(one) and not _logged_in(one_again)


def test_the_cookie_names_the_session_and_the_database_keeps_only_a_digest(
    web: TestClient, alice: Account, login: Login, session_factory: sessionmaker[Session]
) -> None:
    login(web, alice)
    payload = web.cookies[SESSION_COOKIE].split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) - {"flash"} == {"sid", "uid", "name", "csrf"}
    with session_factory() as db:
        row = db.scalars(select(WebSession)).one()
    assert row.secret_hash == hashlib.sha256(data["sid"].encode()).hexdigest()
    assert data["sid"] not in row.secret_hash
    assert row.expires_on - row.created_on == logins.IDLE


def test_a_used_session_stays_and_an_idle_one_ends(
    web: TestClient, alice: Account, login: Login, session_factory: sessionmaker[Session]
) -> None:
    login(web, alice)

    def shift(by: dt.timedelta) -> None:
        with write_session(session_factory) as session:
            row = session.scalars(select(WebSession)).one()
            row.last_seen_on -= by
            row.expires_on -= by

    # Last seen ten minutes ago: a page view (a read) records this one, in its own
    # short write, and the idle time starts again.
    shift(dt.timedelta(minutes=10))
    assert _logged_in(web)
    with session_factory() as db:
        row = db.scalars(select(WebSession)).one()
    assert utcnow() - row.last_seen_on < dt.timedelta(minutes=1)
    assert row.expires_on > utcnow() + logins.IDLE - dt.timedelta(minutes=1)
    # Idle for longer than IDLE: ended, though the cookie itself would still be valid.
    shift(logins.IDLE + dt.timedelta(minutes=1))
    assert not _logged_in(web)
