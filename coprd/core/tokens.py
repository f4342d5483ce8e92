"""API tokens: a public login and a secret, the secret stored only as a hash.

Tokens are random 256-bit values, so a fast hash (SHA-256) is enough to make a stolen table
useless; passwords, which people choose, use argon2 in ``core/users.py`` instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coprd.core.errors import InvalidInput, NotAuthenticated
from coprd.db.models import ApiToken, User, utcnow

DEFAULT_DAYS = 180
MAX_DAYS = 3650
# last_used_on is a hint for people, not an audit log: write it at most this often.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedToken:
    """A token as shown once to its owner; only ``login`` and a hash are kept."""

    username: str
    login: str
    token: str
    expires_on: dt.date


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(session: Session, user: User, days: int = DEFAULT_DAYS) -> IssuedToken:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"must be between 1 and {MAX_DAYS}", "days")
    login = secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    expires_on = utcnow().date() + dt.timedelta(days=days)
    session.add(
        ApiToken(user_id=user.id, login=login, secret_hash=_digest(secret), expires_on=expires_on)
    )
    session.flush()
    return IssuedToken(user.name, login, secret, expires_on)


def authenticate_token(session: Session, login: str, secret: str) -> tuple[User, bool]:
    """The active user a login:token pair belongs to, or :class:`NotAuthenticated`.

    The second value says whether the token's ``last_used_on`` is due for an update
    (:func:`touch_token`); this function itself only reads, so that reads stay readers.
    """
    if "\x00" in login:
        # No login holds one, and PostgreSQL refuses a query parameter that does.
        raise NotAuthenticated("Login invalid/expired.")
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.login == login)
    ).first()
    # Compare even when the login is unknown, so timing does not tell logins apart.
    expected = row[0].secret_hash if row else _digest("")
    matches = hmac.compare_digest(expected, _digest(secret))
    if row is None or not matches:
        raise NotAuthenticated("Login invalid/expired.")
    token, user = row
    now = utcnow()
    if token.expires_on < now.date():
        raise NotAuthenticated(f"Login invalid/expired: the token expired on {token.expires_on}.")
    if not user.is_active:
        raise NotAuthenticated(f"Login invalid/expired: the account {user.name!r} is disabled.")
    stale = token.last_used_on is None or now - token.last_used_on > _LAST_USED_RESOLUTION
    return user, stale


def touch_token(session: Session, login: str) -> None:
    session.execute(update(ApiToken).where(ApiToken.login == login).values(last_used_on=utcnow()))


def renew_token(session: Session, user: User, login: str, days: int = DEFAULT_DAYS) -> IssuedToken:
    """Replace the token ``login`` of ``user`` by a new one (``copr-cli new-api-token``)."""
    old = session.scalar(
        select(ApiToken).where(ApiToken.login == login, ApiToken.user_id == user.id)
    )
    if old is not None:
        session.delete(old)
    return issue_token(session, user, days)


def copr_cli_config(issued: IssuedToken, copr_url: str) -> str:
    """The ``~/.config/copr`` block copr-cli and python-copr read for this token."""
    lines = [
        "[copr-cli]",
        f"login = {issued.login}",
        f"username = {issued.username}",
        f"token = {issued.token}",
        f"copr_url = {copr_url}",
    ]
    if copr_url.startswith("http://"):
        # copr-cli refuses a plain-http copr_url unless told the connection is not encrypted.
        lines.append("encrypted = False")
    lines.append(f"# expiration date: {issued.expires_on.isoformat()}")
    return "\n".join(lines) + "\n"


def new_webhook_secret() -> str:
    """A project's webhook secret: in its webhook URLs, and the key forges sign with."""
    return str(uuid.uuid4())


def list_tokens(session: Session, user: User) -> Sequence[ApiToken]:
    """The user's API tokens (their logins and dates; secrets are not kept), newest first."""
    return session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ).all()
