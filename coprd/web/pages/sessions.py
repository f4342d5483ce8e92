"""Browser sessions: a signed cookie naming a session row, the logged-in user, and
one-time messages.

The cookie (Starlette's ``SessionMiddleware``, signed with ``itsdangerous``) holds the
random secret of the user's session row (``core/logins.py``), the user's name for the
navigation, the CSRF token and pending messages; it is HttpOnly, SameSite=Lax, and Secure
when the public URL is https. It is signed, not encrypted; the session's secret in it is
what a password is to a login, and the database keeps only its digest. The signing key is
the ``secret_key`` setting or, by default, a random key made once and kept (mode 0600) in
the data directory, which frontend replicas must share.

Every request that uses the session (:data:`Viewer`, :func:`require_login`) looks the row
up, so a session ends for every copy of its cookie when its user logs out (the row is
deleted), logs out everywhere, changes password or is disabled, when it has been idle too
long, and :data:`~coprd.core.logins.SESSION_DAYS` after the login at the latest.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from coprd.config import Settings
from coprd.core import logins
from coprd.core.errors import NotAuthenticated
from coprd.datadir import make_data_dir
from coprd.db.engine import read_session, write_session
from coprd.db.models import User
from coprd.http import DB, READ_METHODS
from coprd.web.pages.paths import has_session

__all__ = [
    "KEY_FILE",
    "SECURE_SESSION_COOKIE",
    "SESSION_COOKIE",
    "WEB_CHALLENGE",
    "Viewer",
    "WebSessionMiddleware",
    "flash",
    "get_viewer",
    "log_in",
    "log_out",
    "log_out_everywhere",
    "require_login",
    "session_of",
    "session_secret",
]

SESSION_COOKIE = "coprd_session"
# Behind https the name has the __Host- prefix: browsers then refuse the cookie from
# another host (a sibling subdomain cannot plant a session of its own).
SECURE_SESSION_COOKIE = "__Host-coprd_session"
KEY_FILE = "web-session.key"
# What a 401 page asks for: the login form's cookie. HTTP has no registered scheme for it;
# this is the "Cookie" scheme of draft-broyer-http-cookie-auth, which browsers ignore (no
# password dialog), naming the form that logs in.
WEB_CHALLENGE = 'Cookie realm="coprd", form-action="/login"'
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
    """Sessions for the web UI's paths only: API, results and agent requests, and badges,
    never get a cookie, whatever a browser sends."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        https = settings.public_url.startswith("https://")
        self.with_sessions = SessionMiddleware(
            app,
            secret_key=session_secret(settings),
            session_cookie=SECURE_SESSION_COOKIE if https else SESSION_COOKIE,
            max_age=logins.SESSION_DAYS * 24 * 3600,
            same_site="lax",
            https_only=https,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_session(scope["path"]):
            await self.with_sessions(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def session_of(request: Request) -> dict[str, Any]:
    """The request's session; an empty one outside the middleware (an error page drawn by
    the outermost error handler)."""
    if "session" not in request.scope:
        return {}
    return request.session


# What the cookie says of a login; the rest (CSRF token, messages) outlives it.
_LOGIN_KEYS = ("sid", "uid", "name")


def _forget_login(session: dict[str, Any]) -> None:
    for key in _LOGIN_KEYS:
        session.pop(key, None)


def log_in(request: Request, db: Session, user: User) -> None:
    """Start a fresh session for ``user``: a new row (in ``db``, a write transaction), a
    new cookie, a new CSRF token."""
    secret = logins.start_login(db, user)
    session = request.session
    session.clear()
    session.update(sid=secret, uid=user.id, name=user.name, csrf=secrets.token_urlsafe(32))


def log_out(request: Request, db: Session) -> None:
    """End this browser's session: its row goes, so no copy of the cookie works again."""
    secret = session_of(request).get("sid")
    if isinstance(secret, str):
        logins.end_login(db, secret)
    request.session.clear()


def log_out_everywhere(request: Request, db: Session, user: User) -> int:
    """End every session of ``user``, this browser's too; returns how many ended."""
    ended = logins.end_logins_of(db, user)
    request.session.clear()
    return ended


def get_viewer(request: Request, db: DB) -> User | None:
    """The logged-in user; None for anonymous visitors and for sessions that ended."""
    return _viewer(request, db, writable=request.method not in READ_METHODS)


def _viewer(request: Request, db: Session, *, writable: bool) -> User | None:
    session = session_of(request)
    secret = session.get("sid")
    if not isinstance(secret, str):
        _forget_login(session)  # a cookie from before sessions were rows, or none
        return None
    found = logins.find_login(db, secret)
    if found is None:
        _forget_login(session)
        return None
    if found.touch_due:
        if writable:
            logins.touch_login(db, secret)
        else:
            # A separate short transaction, so that a read request stays a reader.
            with write_session(request.app.state.session_factory) as writer:
                logins.touch_login(writer, secret)
    return found.user


Viewer = Annotated[User | None, Depends(get_viewer)]


def require_login(request: Request) -> None:
    """Refuse (401) a request whose session is not a logged-in user's, in a short read-only
    transaction: for forms that upload, which read their body only for a user, and before
    they take the request's write transaction (as ``auth.require_credentials`` does for
    the APIs)."""
    with read_session(request.app.state.session_factory) as db:
        if _viewer(request, db, writable=False) is None:
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
