"""Browser sessions: a signed cookie, the logged-in user, and one-time messages.

The cookie (Starlette's ``SessionMiddleware``, signed with ``itsdangerous``) holds the user's
id and name, a fingerprint of the password hash, the CSRF token and pending messages; it is
HttpOnly, SameSite=Lax, and Secure when the public URL is https. It is signed, not
encrypted: nothing secret goes in it. The signing key is the ``secret_key`` setting or, by
default, a random key made once and kept (mode 0600) in the data directory, which
frontend replicas must share.

A session ends when its user logs out, is disabled, or changes password (the fingerprint no
longer matches), and at the latest :data:`SESSION_DAYS` after the login.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from coprd.config import Settings
from coprd.core.errors import NotAuthenticated
from coprd.datadir import make_data_dir
from coprd.db.engine import read_session
from coprd.db.models import User
from coprd.http import DB
from coprd.web.pages.paths import is_web_path

__all__ = [
    "KEY_FILE",
    "SECURE_SESSION_COOKIE",
    "SESSION_COOKIE",
    "Viewer",
    "WebSessionMiddleware",
    "flash",
    "get_viewer",
    "log_in",
    "log_out",
    "require_login",
    "session_of",
    "session_secret",
]

SESSION_COOKIE = "coprd_session"
# Behind https the name has the __Host- prefix: browsers then refuse the cookie from
# another host (a sibling subdomain cannot plant a session of its own).
SECURE_SESSION_COOKIE = "__Host-coprd_session"
SESSION_DAYS = 14
KEY_FILE = "web-session.key"
MAX_FLASHES = 5


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: the setting, else the data directory's file."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / KEY_FILE
    make_data_dir(settings.data_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    return _read_key(path)


def _read_key(path: Path) -> str:
    # A looser mode an older coprd left is narrowed at start (coprd.datadir.tighten).
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable session key; remove it to make a new one")
    return key


class WebSessionMiddleware:
    """Sessions for the web UI's paths only: API, results and agent requests never get a
    cookie, whatever a browser sends."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        https = settings.public_url.startswith("https://")
        self.with_sessions = SessionMiddleware(
            app,
            secret_key=session_secret(settings),
            session_cookie=SECURE_SESSION_COOKIE if https else SESSION_COOKIE,
            max_age=SESSION_DAYS * 24 * 3600,
            same_site="lax",
            https_only=https,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_web_path(scope["path"]):
            await self.with_sessions(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def session_of(request: Request) -> dict[str, Any]:
    """The request's session; an empty one outside the middleware (an error page drawn by
    the outermost error handler)."""
    if "session" not in request.scope:
        return {}
    return request.session


def _fingerprint(user: User) -> str:
    # Changes with the password, so a password change ends the other sessions.
    return hashlib.sha256(f"{user.id}:{user.password_hash or ''}".encode()).hexdigest()[:32]


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token too)."""
    session = request.session
    session.clear()
    session.update(
        uid=user.id, name=user.name, auth=_fingerprint(user), csrf=secrets.token_urlsafe(32)
    )


def log_out(request: Request) -> None:
    request.session.clear()


def get_viewer(request: Request, db: DB) -> User | None:
    """The logged-in user; None for anonymous visitors and for sessions that ended."""
    session = session_of(request)
    uid = session.get("uid")
    if uid is None:
        return None
    user = db.get(User, uid) if isinstance(uid, int) else None
    if user is None or not user.is_active or session.get("auth") != _fingerprint(user):
        session.clear()
        return None
    return user


Viewer = Annotated[User | None, Depends(get_viewer)]


def require_login(request: Request) -> None:
    """Refuse (401) a request whose session is not a logged-in user's, in a short read-only
    transaction: for forms that upload, which read their body only for a user, and before
    they take the request's write transaction (as ``auth.require_credentials`` does for
    the APIs)."""
    with read_session(request.app.state.session_factory) as db:
        if get_viewer(request, db) is None:
            raise NotAuthenticated("log in to do this")


def flash(request: Request, message: str) -> None:
    """A message shown once, on the next page the session sees."""
    session = request.session
    session["flash"] = [*session.get("flash", [])[-(MAX_FLASHES - 1) :], message]


def pop_flashes(request: Request) -> list[str]:
    session = session_of(request)
    if "flash" not in session:
        return []
    messages = session.pop("flash")
    return [str(m) for m in messages] if isinstance(messages, list) else []
