"""Who a request acts for: the API token of HTTP Basic ``login:token``, in every dialect.

Routes that act for a user depend on :data:`CurrentUser` (401 without valid credentials) or
:data:`OptionalUser`; routes that do not, never look at the Authorization header.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import Depends, Request

from coprd.core.errors import NotAuthenticated
from coprd.core.tokens import authenticate_token, touch_token
from coprd.db.engine import read_session, write_session
from coprd.db.models import User
from coprd.http import DB, READ_METHODS


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise NotAuthenticated("Login invalid/expired: use HTTP Basic with login:token.")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error; also non-ASCII text), or not UTF-8
        raise NotAuthenticated("Login invalid/expired: malformed Basic credentials.") from None
    login, sep, secret = decoded.partition(":")
    if not sep or not login or not secret:
        raise NotAuthenticated("Login invalid/expired: malformed Basic credentials.")
    return login, secret


def get_optional_user(request: Request, db: DB) -> User | None:
    """The user whose API token the request carries; None when it carries none.

    Only routes that depend on the acting user look at credentials, and there credentials
    that do not match are refused (401). Anonymous reads ignore them, as Copr does:
    python-copr sends every read without credentials anyway.
    """
    header = request.headers.get("authorization")
    if not header:
        return None
    login, secret = _basic_credentials(header)
    user, stale = authenticate_token(db, login, secret)
    request.state.api_login = login
    if stale and request.method not in READ_METHODS:
        touch_token(db, login)
    elif stale:
        # A separate short transaction, so that a read request stays a reader.
        with write_session(request.app.state.session_factory) as session:
            touch_token(session, login)
    return user


def require_credentials(request: Request) -> None:
    """Refuse (401) a request without valid credentials, in a short read-only transaction.

    For routes that take an upload: they call this before reading the body, and take the
    request's database session (a write transaction, which on SQLite holds the write lock)
    only after it, so that an anonymous upload is not read at all and a slow one does not
    hold up every other writer while it arrives.
    """
    header = request.headers.get("authorization")
    if not header:
        raise NotAuthenticated("Login invalid/expired: this operation requires an API token.")
    login, secret = _basic_credentials(header)
    with read_session(request.app.state.session_factory) as db:
        authenticate_token(db, login, secret)


def get_user(user: Annotated[User | None, Depends(get_optional_user)]) -> User:
    if user is None:
        raise NotAuthenticated("Login invalid/expired: this operation requires an API token.")
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_user)]
