"""Logging in and out with local accounts; the session cookie and its key."""

from __future__ import annotations

import stat
from dataclasses import replace

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.app import create_app
from coprd.config import Settings
from coprd.core import users
from coprd.db.engine import write_session
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
