"""HTTP concerns shared by every dialect: paths, query values, the per-request session."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from coprd.config import Settings
from coprd.core.errors import (
    Conflict,
    CoprdError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooLarge,
    TooManyAttempts,
)
from coprd.core.text import SPACES
from coprd.db.engine import transaction

_SLASHES = re.compile(r"//+")
# Clients of these prefixes send paths with and without a trailing slash, and some build
# URLs by joining strings, producing "//" after the host. Their routes are registered
# without a trailing slash; other paths (result directories) keep theirs.
API_PREFIXES = ("/api_3", "/api_2", "/api/", "/backend/")


def routed_path(path: str) -> str:
    """The path as the routes see it: repeated slashes collapsed, and an API path's
    trailing slash dropped."""
    fixed = _SLASHES.sub("/", path)
    if fixed.startswith(API_PREFIXES) and len(fixed) > 1:
        fixed = fixed.rstrip("/") or "/"
    return fixed


class NormalisePathMiddleware:
    """Route every path as :func:`routed_path` writes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            fixed = routed_path(path)
            if fixed != path:
                scope = dict(scope)
                scope["path"] = fixed
                scope["raw_path"] = fixed.encode("utf-8", "surrogateescape")
        await self.app(scope, receive, send)


# The status each kind of refusal of the core gets, in every dialect.
STATUS = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    TooManyAttempts: 429,
}


def status_of(error: CoprdError) -> int:
    for kind, status in STATUS.items():
        if isinstance(error, kind):
            return status
    return 400


async def read_form(
    request: Request, *, max_files: int, max_fields: int, max_part_size: int
) -> FormData:
    """The request's form (multipart or urlencoded), its parser's complaints (a bad
    boundary, too many parts, a part too large) as ``InvalidInput``; a ``CoprdError`` the
    request raises while it is read (too large: ``uploads.bounded``) passes through."""
    try:
        return await request.form(
            max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
        )
    except CoprdError:
        raise
    except Exception as exc:
        reason = getattr(exc, "detail", None) or exc
        raise InvalidInput(f"malformed form body: {reason}") from None


def validation_message(exc: ValidationError | Exception) -> str:
    """Pydantic's complaints as ``field: message`` lines (copr-cli lists them as bullets),
    for every dialect and the web forms."""
    errors = exc.errors() if hasattr(exc, "errors") else []
    lines = []
    for err in errors:
        if err.get("type") == "json_invalid":
            lines.append("the request body is not valid JSON")
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "body"
        lines.append(f"{where}: {err.get('msg', 'invalid')}")
    return "\n".join(lines) or str(exc)


_TRUE = {"true", "1", "yes", "on", "y"}
_FALSE = {"false", "0", "no", "off", "n", ""}


def words_schema(words: Iterable[str], *, spaced: bool = False) -> dict[str, Any]:
    """The JSON schema of a string that is one of ``words`` in any case (and with
    whitespace around it if ``spaced``: what ``str.strip`` removes), for the API documents
    (JSON schema has no case-insensitive enum)."""
    alternatives = (
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)
        for word in sorted({w.lower() for w in words})
    )
    around = f"[{SPACES}]*" if spaced else ""
    return {"type": "string", "pattern": f"^{around}(?:{'|'.join(alternatives)}){around}$"}


BOOL_SCHEMA = words_schema(_TRUE | _FALSE, spaced=True)
"""What :func:`parse_bool` reads, for the API documents."""
TRUE_SCHEMA = words_schema(_TRUE, spaced=True)
"""What :func:`parse_bool` reads as true."""


def parse_bool(value: str | None, field: str, default: bool = False) -> bool:
    """Query-string booleans as clients send them: "True"/"False" (bool("False") is True)."""
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidInput(f"{value!r} is not a boolean (use True or False)", field)


READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def client_address(connection: HTTPConnection) -> str:
    """The client's address, as failed authentications are counted against it.

    The peer as uvicorn reports it: behind a reverse proxy uvicorn trusts (on 127.0.0.1 and
    ::1 by default, see uvicorn's ``--forwarded-allow-ips``), the client the proxy names in
    ``X-Forwarded-For``. An IPv6 client counts as its /64, all of which one host usually
    holds.
    """
    host = connection.client.host if connection.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed after the handler returns, else rolled back."""
    with transaction(
        request.app.state.session_factory, write=request.method not in READ_METHODS
    ) as session:
        yield session


async def get_settings(request: Request) -> Settings:
    # async: no I/O here, so no hop to the thread pool
    settings: Settings = request.app.state.settings
    return settings


def get_read_db(request: Request) -> Iterator[Session]:
    """A read-only transaction whatever the method: for requests that stream a body (a
    log chunk, a result file) or run a long step, which must not hold SQLite's write
    lock meanwhile. They open their own write transaction for the short part that writes."""
    with transaction(request.app.state.session_factory, write=False) as session:
        yield session


DB = Annotated[Session, Depends(get_db, scope="function")]
ReadDB = Annotated[Session, Depends(get_read_db, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
