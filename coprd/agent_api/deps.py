"""The acting builder agent, from its ``Authorization: Bearer <token>`` header."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from coprd.core.builders import authenticate_builder
from coprd.core.errors import NotAuthenticated
from coprd.db.models import Builder
from coprd.http import DB, ReadDB


def authenticate(request: Request, db: Session) -> Builder:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated("builder endpoints need 'Authorization: Bearer <builder token>'")
    return authenticate_builder(db, token.strip())


def get_builder(request: Request, db: DB) -> Builder:
    return authenticate(request, db)


def get_reading_builder(request: Request, db: ReadDB) -> Builder:
    return authenticate(request, db)


CurrentBuilder = Annotated[Builder, Depends(get_builder)]
"""The builder, in the request's transaction (a write one for POST and PUT)."""
ReadingBuilder = Annotated[Builder, Depends(get_reading_builder)]
"""The builder, in a read-only transaction (see ``coprd.http.ReadDB``)."""
