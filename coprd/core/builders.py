"""Builder agents' credentials. Agents hold a token, never database credentials."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core.errors import Conflict, NotAuthenticated
from coprd.core.names import check_user_name
from coprd.db.models import Builder

TOKEN_PREFIX = "coprd-builder-"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_builder(session: Session, name: str, arches: Sequence[str] = ()) -> tuple[Builder, str]:
    """Register an agent; returns it and its token, which is shown only this once."""
    check_user_name(name)
    if session.scalar(select(Builder.id).where(Builder.name == name)) is not None:
        raise Conflict(f"builder {name!r} already exists")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    builder = Builder(name=name, token_hash=_digest(token), arches=list(arches), is_active=True)
    session.add(builder)
    session.flush()
    return builder, token


def authenticate_builder(session: Session, token: str) -> Builder:
    """The active builder a token belongs to.

    The token is looked up by its SHA-256: the secret itself is never compared, and the
    hash of a random 256-bit token tells an attacker nothing about other tokens.
    """
    if not token.startswith(TOKEN_PREFIX) or "\x00" in token:
        raise NotAuthenticated("invalid builder token")
    builder = session.scalar(select(Builder).where(Builder.token_hash == _digest(token)))
    if builder is None or not builder.is_active:
        raise NotAuthenticated("invalid builder token")
    # Only reads: a read request that wrote here would race SQLite's writers.
    return builder
