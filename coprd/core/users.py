"""Local user accounts."""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core.errors import Conflict, InvalidInput, NotFound
from coprd.core.logins import end_logins_of
from coprd.core.names import check_user_name
from coprd.db.models import User

_hasher = PasswordHasher()
MAX_EMAIL = 254


def create_user(
    session: Session,
    name: str,
    *,
    email: str | None = None,
    password: str | None = None,
    is_admin: bool = False,
) -> User:
    """Create an active account; without a password it can log in by API token only."""
    check_user_name(name)
    if email is not None and (len(email) > MAX_EMAIL or "@" not in email or "\n" in email):
        raise InvalidInput(f"{email!r} is not an e-mail address", "email")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(
        name=name,
        email=email,
        is_admin=is_admin,
        is_active=True,
        password_hash=_hasher.hash(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"user {name!r} does not exist")
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.name)).all()


def disable_user(session: Session, name: str) -> User:
    """Disable an account: it can no longer authenticate, its web sessions end; its
    projects stay."""
    user = get_user(session, name)
    user.is_active = False
    end_logins_of(session, user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Set the web password; every web session of the user ends (a password changed
    because it leaked must not leave the thief's session open)."""
    if len(password) < 8:
        raise InvalidInput("must have at least 8 characters", "password")
    user.password_hash = _hasher.hash(password)
    end_logins_of(session, user)
    session.flush()


def check_password(user: User, password: str) -> bool:
    if not user.password_hash or not user.is_active:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
