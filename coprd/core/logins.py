"""Web logins: the sessions of browsers logged in to the web UI, one row each.

A login is a row of ``web_sessions``; the browser's cookie carries a random 256-bit secret
that names it, and only the secret's SHA-256 is stored, so a copy of the table logs no one
in. Every request that uses a session looks its row up (:func:`find_login`), so:

* logging out deletes the row (:func:`end_login`): every copy of the cookie, a stolen one
  included, is refused from then on;
* :func:`end_logins_of` ends all of a user's sessions: "log out everywhere", a new
  password (``users.set_password``), a disabled account (``users.disable_user``);
* a session ends :data:`SESSION_DAYS` after the login at the latest, and after
  :data:`IDLE` without a request;
* frontend replicas share the rows: a logout on one is a logout on all.

A request that uses a session moves its idle deadline, but writes ``last_seen_on`` at most
every :data:`TOUCH_EVERY` (:func:`touch_login`), so that reading pages stays reading.
Rows of ended sessions are deleted by :func:`sweep`, every :data:`SWEEP_INTERVAL_S`
(:func:`sweep_forever`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from coprd.db.engine import write_session
from coprd.db.models import User, WebSession, utcnow

__all__ = [
    "IDLE",
    "SESSION_DAYS",
    "FoundLogin",
    "end_login",
    "end_logins_of",
    "find_login",
    "start_login",
    "sweep",
    "sweep_forever",
    "touch_login",
]

log = logging.getLogger("coprd.logins")

SESSION_DAYS = 14
IDLE = dt.timedelta(days=2)
TOUCH_EVERY = dt.timedelta(minutes=5)
SWEEP_INTERVAL_S = 3600.0
_MAX_SECRET = 100


@dataclass(frozen=True)
class FoundLogin:
    user: User
    touch_due: bool
    """Whether :func:`touch_login` is due (``last_seen_on`` is older than TOUCH_EVERY)."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _deadline(created_on: dt.datetime, now: dt.datetime) -> dt.datetime:
    return min(created_on + dt.timedelta(days=SESSION_DAYS), now + IDLE)


def start_login(session: Session, user: User, now: dt.datetime | None = None) -> str:
    """A new session of ``user``; returns its secret, for the cookie only."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            user_id=user.id,
            secret_hash=_digest(secret),
            created_on=now,
            last_seen_on=now,
            expires_on=_deadline(now, now),
        )
    )
    session.flush()
    return secret


def find_login(session: Session, secret: str, now: dt.datetime | None = None) -> FoundLogin | None:
    """The active user whose unexpired session ``secret`` names; None for any other.

    Looked up by the secret's SHA-256: the secret is never compared, and the digest of a
    random 256-bit value says nothing about another. Only reads.
    """
    if not secret or len(secret) > _MAX_SECRET or "\x00" in secret:
        return None
    now = now or utcnow()
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.secret_hash == _digest(secret))
    ).first()
    if row is None:
        return None
    login, user = row
    if login.expires_on <= now or not user.is_active:
        return None
    return FoundLogin(user, touch_due=now - login.last_seen_on >= TOUCH_EVERY)


def touch_login(session: Session, secret: str, now: dt.datetime | None = None) -> None:
    """Record a request of the session ``secret``: its idle time starts again."""
    now = now or utcnow()
    login = session.scalar(select(WebSession).where(WebSession.secret_hash == _digest(secret)))
    if login is not None and login.expires_on > now:
        login.last_seen_on = now
        login.expires_on = _deadline(login.created_on, now)
        session.flush()


def end_login(session: Session, secret: str) -> None:
    """End the session ``secret`` (logging out); an unknown one is already ended."""
    session.execute(delete(WebSession).where(WebSession.secret_hash == _digest(secret)))


def end_logins_of(session: Session, user: User) -> int:
    """End every session of ``user``; returns how many there were."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def sweep(session: Session, now: dt.datetime | None = None) -> int:
    """Delete the rows of sessions that have ended; returns how many went."""
    result = session.execute(delete(WebSession).where(WebSession.expires_on <= (now or utcnow())))
    return int(getattr(result, "rowcount", 0) or 0)


def sweep_forever(
    factory: sessionmaker[Session], stop: threading.Event, interval_s: float = SWEEP_INTERVAL_S
) -> None:
    """:func:`sweep` every ``interval_s`` until ``stop`` is set."""
    while not stop.wait(interval_s):
        try:
            with write_session(factory) as session:
                swept = sweep(session)
            if swept:
                log.info("deleted %d ended web session(s)", swept)
        except Exception:
            log.exception("the web session sweep failed; retrying in %.0f s", interval_s)
