"""The acting builder agent, from its ``Authorization: Bearer <token>`` header.

Failed builder authentications are throttled per client address (``core/throttling.py``,
counted apart from users' failures): past the limit, every token from that address is
refused unchecked, 429 with ``Retry-After``, which agents wait out as they wait out a busy
server.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from coprd.auth import FailedAuthentication, check_throttle, throttled_response
from coprd.core import throttling
from coprd.core.builders import authenticate_builder
from coprd.core.errors import NotAuthenticated
from coprd.db.models import Builder
from coprd.http import DB, ReadDB, client_address

# Agents read errors as the plain {"error": ...} envelope (coprd.app's fallback).
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
THROTTLED: dict[int | str, dict[str, Any]] = {429: throttled_response(ERROR_SCHEMA)}
"""For the ``responses`` of a route that calls :func:`authenticate` itself."""


# What a 401 of the agent protocol asks for: the builder token as a bearer token (RFC 6750).
BUILDER_CHALLENGE = 'Bearer realm="coprd builders"'


def authenticate(request: Request, db: Session) -> Builder:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        # No credentials at all: nothing guessed, nothing counted.
        raise NotAuthenticated("builder endpoints need 'Authorization: Bearer <builder token>'")
    attempt = throttling.agent_attempt(client_address(request))
    check_throttle(request, db, attempt)
    try:
        return authenticate_builder(db, token.strip())
    except NotAuthenticated as exc:
        raise FailedAuthentication(exc.message, attempt) from None


def get_builder(request: Request, db: DB) -> Builder:
    return authenticate(request, db)


def get_reading_builder(request: Request, db: ReadDB) -> Builder:
    return authenticate(request, db)


CurrentBuilder = Annotated[Builder, Depends(get_builder)]
"""The builder, in the request's transaction (a write one for POST and PUT)."""
ReadingBuilder = Annotated[Builder, Depends(get_reading_builder)]
"""The builder, in a read-only transaction (see ``coprd.http.ReadDB``)."""
