"""Who a request acts for: the API token of HTTP Basic ``login:token``, in every dialect.

Routes that act for a user depend on :data:`CurrentUser` (401 without valid credentials) or
:data:`OptionalUser`; routes that do not, never look at the Authorization header.

Failed authentications are throttled per token login and per client address
(``core/throttling.py``): past the limit, credentials are refused unchecked with 429 and
``Retry-After`` (:class:`~coprd.core.errors.TooManyAttempts`), in the dialect's envelope. A
failure is raised as :class:`FailedAuthentication` and counted by :func:`count_failure`
once the request's own transaction has been rolled back (see ``coprd.app``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from coprd.core import throttling
from coprd.core.errors import NotAuthenticated
from coprd.core.tokens import authenticate_token, touch_token
from coprd.db.engine import read_session, write_session
from coprd.db.models import User
from coprd.http import DB, READ_METHODS, client_address

# What a 401 of the APIs asks for (RFC 9110 requires the header): HTTP Basic with the API
# token's login and secret, as copr-cli and python-copr send them.
API_CHALLENGE = 'Basic realm="coprd API", charset="UTF-8"'


class FailedAuthentication(NotAuthenticated):
    """Credentials that were checked and failed: a 401 that counts against ``attempt``."""

    def __init__(self, message: str, attempt: throttling.Attempt) -> None:
        super().__init__(message)
        self.attempt = attempt


def count_failure(request: Request, failure: FailedAuthentication) -> None:
    """Count a failed authentication, in a transaction of its own: the request's was rolled
    back with the refusal (and on SQLite, a write request's held the write lock)."""
    with write_session(request.app.state.session_factory) as session:
        throttling.record_failure(session, failure.attempt)


def check_throttle(request: Request, db: Session, attempt: throttling.Attempt) -> int:
    """Refuse (429) an attempt whose account or address must wait; returns the account's
    failures so far (see ``throttling.check``)."""
    limits = throttling.Limits.of(request.app.state.settings)
    return throttling.check(db, limits, attempt)


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


@dataclass(frozen=True)
class _Authenticated:
    user: User
    login: str
    attempt: throttling.Attempt
    stale: bool
    """The token's ``last_used_on`` is due an update (``touch_token``)."""
    failures: int
    """The login's failures before this success, to forgive."""


def _authenticate(request: Request, db: Session, header: str) -> _Authenticated:
    """Check the Basic credentials of ``header``, throttled and counted."""
    address = client_address(request)
    try:
        login, secret = _basic_credentials(header)
    except NotAuthenticated as exc:
        attempt = throttling.token_attempt(None, address)
        check_throttle(request, db, attempt)
        raise FailedAuthentication(exc.message, attempt) from None
    attempt = throttling.token_attempt(login, address)
    failures = check_throttle(request, db, attempt)
    try:
        user, stale = authenticate_token(db, login, secret)
    except NotAuthenticated as exc:
        raise FailedAuthentication(exc.message, attempt) from None
    return _Authenticated(user, login, attempt, stale, failures)


def get_optional_user(request: Request, db: DB) -> User | None:
    """The user whose API token the request carries; None when it carries none.

    Only routes that depend on the acting user look at credentials, and there credentials
    that do not match are refused (401). Anonymous reads ignore them, as Copr does:
    python-copr sends every read without credentials anyway.
    """
    header = request.headers.get("authorization")
    if not header:
        return None
    found = _authenticate(request, db, header)
    request.state.api_login = found.login
    if not (found.stale or found.failures):
        return found.user
    if request.method not in READ_METHODS:
        _after_success(db, found)
    else:
        # A separate short transaction, so that a read request stays a reader.
        with write_session(request.app.state.session_factory) as session:
            _after_success(session, found)
    return found.user


def _after_success(session: Session, found: _Authenticated) -> None:
    if found.stale:
        touch_token(session, found.login)
    if found.failures:
        throttling.forgive(session, found.attempt)


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
    with read_session(request.app.state.session_factory) as db:
        _authenticate(request, db, header)


def get_user(user: Annotated[User | None, Depends(get_optional_user)]) -> User:
    if user is None:
        raise NotAuthenticated("Login invalid/expired: this operation requires an API token.")
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_user)]


THROTTLED_DOC = (
    "Too many failed authentications for this login or from this address: refused without "
    "being checked, and nothing done. `Retry-After` says in how many seconds to try again."
)


def throttled_response(error_schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI description of a 429 answer in the envelope ``error_schema``."""
    return {
        "description": THROTTLED_DOC,
        "headers": {
            "Retry-After": {
                "description": "Seconds until an attempt is checked again.",
                "schema": {"type": "integer"},
            }
        },
        "content": {"application/json": {"schema": error_schema}},
    }


def document_throttling(
    router: APIRouter,
    error_schema: dict[str, Any],
    by: tuple[Callable[..., Any], ...] = (get_optional_user,),
) -> None:
    """Declare the 429 answer, in the dialect's error envelope (``error_schema``), in the
    OpenAPI of each route of ``router`` that authenticates (depends on one of ``by``)."""
    response = throttled_response(error_schema)
    for route in _api_routes(router):
        if any(call in by for call in _calls(route.dependant)):
            route.responses.setdefault(429, response)


def _api_routes(router: APIRouter) -> Iterator[APIRoute]:
    for route in router.routes:
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            yield from _api_routes(included)
        elif isinstance(route, APIRoute):
            yield route


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)
