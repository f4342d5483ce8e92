"""Every APIv3 endpoint refuses bad input with a 4xx ``{"error": ...}`` and changes nothing.

One table of cases, one test. Each case names a request; the test sends it against a
database holding alice's project ``demo`` (chroot ``fedora-rawhide-x86_64``) and her
persistent project ``keep``, and checks the status, the error envelope, and that every row
of every table is as it was before.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import chroots
from coprd.core.project_chroots import MAX_COMPS
from coprd.db.engine import write_session
from tests.conftest import Account, MakeAccount, snapshot

RAWHIDE = "fedora-rawhide-x86_64"
INACTIVE = "epel-9-aarch64"
NOT_ENABLED = "epel-9-x86_64"
LONG = "a" * 300
UNSET: Any = object()

# Names that must never reach a query or a path: (label, value as sent, status).
BAD_NAMES = [
    ("slash", "a/b", 400),
    ("dotdot", "..", 400),
    ("nul", "a\x00b", 400),
    ("long", LONG, 400),
    ("empty", "", 400),
]
# The same in a path segment; "/" then no longer matches the route, hence any 4xx.
BAD_SEGMENTS = [
    ("slash", "a%2Fb", None),
    ("dotdot", "%2E%2E", 400),
    ("nul", "a%00b", 400),
    ("long", LONG, 400),
]
BAD_PAGES = [
    ("limit-negative", {"limit": "-1"}),
    ("limit-not-int", {"limit": "abc"}),
    ("limit-float", {"limit": "1.5"}),
    ("limit-huge", {"limit": "10001"}),
    ("offset-negative", {"offset": "-1"}),
    ("offset-not-int", {"offset": "abc"}),
    ("offset-overflow", {"offset": "99999999999999999999"}),
    ("order-unknown", {"order": "nonexistent"}),
    ("order-column", {"order": "webhook_secret"}),
    ("order-type", {"order_type": "SIDEWAYS"}),
]
COMPS = b'<?xml version="1.0"?>\n<comps><group><id>x</id></group></comps>\n'


@dataclass(frozen=True)
class Case:
    """One request that must be refused with ``status`` (any 4xx when None)."""

    id: str
    method: str
    path: str
    status: int | None
    who: str = "alice"
    params: Mapping[str, str] | None = None
    json: Any = UNSET
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None


def _get(id: str, path: str, params: Mapping[str, str], status: int | None, **kw: Any) -> Case:
    return Case(id, "GET", path, status, who=kw.pop("who", "anon"), params=params, **kw)


def _body(
    id: str, method: str, path: str, status: int | None, payload: Any = UNSET, **kw: Any
) -> Case:
    return Case(id, method, path, status, json=payload, **kw)


def _raw(id: str, method: str, path: str, status: int | None, raw: bytes, **kw: Any) -> Case:
    """A body sent as is, declared as JSON."""
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return Case(id, method, path, status, content=raw, headers=headers, **kw)


def _chroot_edit(
    id: str,
    status: int | None,
    part: Any = UNSET,
    *,
    comps: tuple[str, bytes] | None = None,
    path: str = f"/api_3/project-chroot/edit/alice/demo/{RAWHIDE}",
    who: str = "alice",
) -> Case:
    """A ``project-chroot/edit`` as python-copr sends it: multipart, JSON in part ``json``."""
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    if comps is not None:
        files.append(("upload_comps", (comps[0], comps[1], "application/text")))
    if part is not UNSET:
        data = part if isinstance(part, bytes) else json.dumps(part).encode()
        files.append(("json", ("json", data, "application/json")))
    return Case(id, "PUT", path, status, who=who, files=files)


def _auth_cases(prefix: str, method: str, path: str, payload: Any = UNSET) -> list[Case]:
    """A write without, or with bad, credentials: 401 whatever the body."""
    return [
        _body(f"{prefix}-{who}", method, path, 401, payload, who=who)
        for who in ("anon", "wrong", "garbage", "bearer", "no-colon", "nul-login", "long-login")
    ]


def _not_json_cases(prefix: str, method: str, path: str, who: str = "alice") -> list[Case]:
    """Bodies that are not a JSON object."""
    return [
        _raw(f"{prefix}-not-json", method, path, 400, b"name=demo&chroots=x", who=who),
        _raw(f"{prefix}-truncated-json", method, path, 400, b'{"name": ', who=who),
        _raw(f"{prefix}-not-utf8", method, path, 400, b'{"name": "\xff\xfe"}', who=who),
        _raw(f"{prefix}-deep-json", method, path, 400, b"[" * 100_000 + b"]" * 100_000, who=who),
        _body(f"{prefix}-json-list", method, path, 400, ["demo"], who=who),
        _body(f"{prefix}-json-string", method, path, 400, "demo", who=who),
        _body(f"{prefix}-json-number", method, path, 400, 42, who=who),
        Case(
            f"{prefix}-form-encoded",
            method,
            path,
            400,
            who=who,
            content=b"name=demo",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ]


def _general() -> list[Case]:
    return [
        Case("home-post", "POST", "/api_3", 405),
        Case("home-unknown-path", "GET", "/api_3/no-such-endpoint", 404, who="anon"),
        Case("auth-check-post", "POST", "/api_3/auth-check", 405),
        *[
            Case(f"auth-check-{who}", "GET", "/api_3/auth-check", 401, who=who)
            for who in ("anon", "wrong", "garbage", "bearer", "no-colon", "nul-login", "long-login")
        ],
        Case("api-token-get", "GET", "/api_3/api-token", 405),
        *_auth_cases("api-token", "POST", "/api_3/api-token"),
        Case("mock-chroots-post", "POST", "/api_3/mock-chroots/list", 405),
        Case("mock-chroots-unknown-path", "GET", "/api_3/mock-chroots/nope", 404, who="anon"),
    ]


def _project_reads() -> list[Case]:
    cases = [
        _get("get-missing-owner", "/api_3/project", {"projectname": "demo"}, 400),
        _get("get-missing-project", "/api_3/project", {"ownername": "alice"}, 400),
        _get("get-unknown-owner", "/api_3/project", {"ownername": "nobody", "projectname": "demo"},
             404),
        _get("get-unknown-group", "/api_3/project", {"ownername": "@nobody", "projectname": "x"},
             404),
        _get("get-unknown-project", "/api_3/project", {"ownername": "alice", "projectname": "x"},
             404),
        _get("get-bare-at", "/api_3/project", {"ownername": "@", "projectname": "demo"}, 400),
        _get("get-digits", "/api_3/project", {"ownername": "alice", "projectname": "123"}, 400),
        _get("list-post", "/api_3/project/list", {}, 405, who="alice") ._replace_method("POST"),
    ]
    for label, value, status in BAD_NAMES:
        cases.append(_get(f"get-owner-{label}", "/api_3/project",
                          {"ownername": value, "projectname": "demo"}, status))
        cases.append(_get(f"get-project-{label}", "/api_3/project",
                          {"ownername": "alice", "projectname": value}, status))
        cases.append(_get(f"list-owner-{label}", "/api_3/project/list", {"ownername": value},
                          status))
    for label, page in BAD_PAGES:
        cases.append(_get(f"list-{label}", "/api_3/project/list", {"ownername": "alice", **page},
                          400))
        cases.append(_get(f"search-{label}", "/api_3/project/search", {"query": "demo", **page},
                          400))
    cases += [
        _get("search-missing-query", "/api_3/project/search", {}, 400),
        _get("search-empty-query", "/api_3/project/search", {"query": "  "}, 400),
        _get("search-nul-query", "/api_3/project/search", {"query": "de\x00mo"}, 400),
        _get("search-long-query", "/api_3/project/search", {"query": LONG}, 400),
    ]
    return cases
