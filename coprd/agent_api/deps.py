"""The acting builder agent, from its ``Authorization: Bearer <token>`` header."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from coprd.core.builders import authenticate_builder
from coprd.core.errors import NotAuthenticated
from coprd.db.models import Builder
from coprd.http import DB


def get_builder(request: Request, db: DB) -> Builder:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated("builder endpoints need 'Authorization: Bearer <builder token>'")
    return authenticate_builder(db, token.strip())


CurrentBuilder = Annotated[Builder, Depends(get_builder)]
