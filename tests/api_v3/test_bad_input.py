"""Every APIv3 endpoint refuses bad input with a 4xx ``{"error": ...}`` and changes nothing.

One table of cases, one test. Each case is a request; the test sends it to a server whose
database holds alice's project ``demo`` (chroot ``fedora-rawhide-x86_64``; packages ``hello``,
with build 1 pending, and ``bare``, without a source) and her persistent project ``keep``, then
checks the status, the error envelope, and that every row of every table is as it was before
the request. Cases share that server until one fails (see :class:`Stage`), which keeps some
780 requests within a few seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from coprd.core.project_chroots import MAX_COMPS
from tests.bad_input import INACTIVE, LONG, Stage, next_stage, stages
from tests.conftest import snapshot

RAWHIDE = "fedora-rawhide-x86_64"
NOT_ENABLED = "epel-9-x86_64"  # active, but not a chroot of alice/demo
UNSET: Any = object()

# Names that must be refused before they reach a query or a path: (label, value).
BAD_NAMES = [("slash", "a/b"), ("dotdot", ".."), ("nul", "a\x00b"), ("long", LONG), ("empty", "")]
# The same as path segments. An encoded "/" no longer matches the route: any 4xx.
BAD_SEGMENTS: list[tuple[str, str, int | None]] = [
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
    ("order-private-column", {"order": "webhook_secret"}),
    ("order-type", {"order_type": "SIDEWAYS"}),
    ("order-nul", {"order": "id\x00"}),
]
BAD_LOGINS = (
    "anon",
    "wrong",
    "garbage",
    "bearer",
    "no-colon",
    "empty-login",
    "nul-login",
    "long-login",
    "non-ascii",
    "not-utf8",
    "expired",
    "disabled",
)
HUGE_JSON = b'{"name": "new", "chroots": [], "description": "%s"}' % (b"x" * 2 * 1024 * 1024)
COMPS = b'<?xml version="1.0"?>\n<comps><group><id>x</id></group></comps>\n'
Files = list[tuple[str, tuple[str, bytes, str]]]


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
    headers: Mapping[str, str | bytes] = field(default_factory=dict)
    files: Files | None = None


def get(id: str, path: str, params: Mapping[str, str], status: int | None) -> Case:
    """An anonymous read with a query string."""
    return Case(id, "GET", path, status, who="anon", params=params)


def send(
    id: str, method: str, path: str, status: int | None, payload: Any = UNSET, who: str = "alice"
) -> Case:
    """A request with ``payload`` as its JSON body (none when UNSET)."""
    return Case(id, method, path, status, who=who, json=payload)


def raw(
    id: str,
    method: str,
    path: str,
    data: bytes,
    who: str = "alice",
    content_type: str = "application/json",
    status: int = 400,
) -> Case:
    """A body sent byte for byte."""
    headers = {"Content-Type": content_type}
    return Case(id, method, path, status, who=who, content=data, headers=headers)


def chroot_edit(
    id: str,
    status: int | None,
    part: Any = UNSET,
    *,
    comps: tuple[str, bytes] | None = None,
    path: str = f"/api_3/project-chroot/edit/alice/demo/{RAWHIDE}",
    who: str = "alice",
) -> Case:
    """``project-chroot/edit`` as python-copr sends it: multipart, JSON in file part ``json``."""
    files: Files = []
    if comps is not None:
        files.append(("upload_comps", (comps[0], comps[1], "application/text")))
    if part is not UNSET:
        data = part if isinstance(part, bytes) else json.dumps(part).encode()
        files.append(("json", ("json", data, "application/json")))
    return Case(id, "PUT", path, status, who=who, files=files)


def refused_logins(prefix: str, method: str, path: str, payload: Any = UNSET) -> list[Case]:
    """No, or bad, credentials: 401 whatever else the request says."""
    return [send(f"{prefix}-{who}", method, path, 401, payload, who=who) for who in BAD_LOGINS]


def not_json_objects(prefix: str, method: str, path: str, who: str = "alice") -> list[Case]:
    """Bodies that are not a JSON object."""
    return [
        raw(f"{prefix}-not-json", method, path, b"name=demo&chroots=x", who),
        raw(f"{prefix}-truncated-json", method, path, b'{"name": ', who),
        raw(f"{prefix}-body-not-utf8", method, path, b'{"name": "\xff\xfe"}', who),
        raw(f"{prefix}-deep-json", method, path, b"[" * 100_000 + b"]" * 100_000, who),
        raw(
            f"{prefix}-form-encoded",
            method,
            path,
            b"name=demo",
            who,
            "application/x-www-form-urlencoded",
        ),
        send(f"{prefix}-json-list", method, path, 400, ["demo"], who),
        send(f"{prefix}-json-string", method, path, 400, "demo", who),
        send(f"{prefix}-json-number", method, path, 400, 42, who),
    ]


def general_cases() -> list[Case]:
    return [
        send("home-post", "POST", "/api_3", 405),
        send("home-unknown-path", "GET", "/api_3/no-such-endpoint", 404, who="anon"),
        send("auth-check-post", "POST", "/api_3/auth-check", 405),
        *[send(f"auth-check-{w}", "GET", "/api_3/auth-check", 401, who=w) for w in BAD_LOGINS],
        send("api-token-get", "GET", "/api_3/api-token", 405),
        *refused_logins("api-token", "POST", "/api_3/api-token"),
        send("mock-chroots-post", "POST", "/api_3/mock-chroots/list", 405),
        send("mock-chroots-unknown-path", "GET", "/api_3/mock-chroots/nope", 404, who="anon"),
    ]


def project_read_cases() -> list[Case]:
    p = "/api_3/project"
    cases = [
        get("get-missing-owner", p, {"projectname": "demo"}, 400),
        get("get-missing-project", p, {"ownername": "alice"}, 400),
        get("get-unknown-owner", p, {"ownername": "nobody", "projectname": "demo"}, 404),
        get("get-unknown-group", p, {"ownername": "@nobody", "projectname": "demo"}, 404),
        get("get-unknown-project", p, {"ownername": "alice", "projectname": "nope"}, 404),
        get("get-bare-at", p, {"ownername": "@", "projectname": "demo"}, 400),
        get("get-only-digits", p, {"ownername": "alice", "projectname": "123"}, 400),
        send("list-post", "POST", f"{p}/list", 405),
        get("search-missing-query", f"{p}/search", {}, 400),
        get("search-blank-query", f"{p}/search", {"query": "  "}, 400),
        get("search-nul-query", f"{p}/search", {"query": "de\x00mo"}, 400),
        get("search-long-query", f"{p}/search", {"query": LONG}, 400),
    ]
    for label, value in BAD_NAMES:
        cases += [
            get(f"get-owner-{label}", p, {"ownername": value, "projectname": "demo"}, 400),
            get(f"get-project-{label}", p, {"ownername": "alice", "projectname": value}, 400),
            get(f"list-owner-{label}", f"{p}/list", {"ownername": value}, 400),
        ]
    for label, page in BAD_PAGES:
        cases += [
            get(f"list-{label}", f"{p}/list", {"ownername": "alice", **page}, 400),
            get(f"search-{label}", f"{p}/search", {"query": "demo", **page}, 400),
        ]
    return cases


def _new(**fields: Any) -> dict[str, Any]:
    return {"name": "new", "chroots": [RAWHIDE], **fields}


def project_add_cases() -> list[Case]:
    add = "/api_3/project/add/alice"
    cases = [
        *refused_logins("add", "POST", add, _new()),
        *not_json_objects("add", "POST", add),
        send("add-null-body", "POST", add, 400, None),
        send("add-no-body", "POST", add, 400),
        send("add-missing-name", "POST", add, 400, {"chroots": [RAWHIDE]}),
        send("add-missing-chroots", "POST", add, 400, {"name": "new"}),
        send("add-name-int", "POST", add, 400, _new(name=7)),
        send("add-name-list", "POST", add, 400, _new(name=["new"])),
        send("add-name-object", "POST", add, 400, _new(name={"name": "new"})),
        send("add-name-digits", "POST", add, 400, _new(name="123")),
        send("add-name-dash", "POST", add, 400, _new(name="-rf")),
        send("add-chroots-string", "POST", add, 400, _new(chroots=RAWHIDE)),
        send("add-chroots-object", "POST", add, 400, _new(chroots={RAWHIDE: True})),
        send("add-chroots-ints", "POST", add, 400, _new(chroots=[1, 2])),
        send("add-chroots-empty", "POST", add, 400, _new(chroots=[])),
        send("add-chroot-unknown", "POST", add, 400, _new(chroots=["fedora-1-vax"])),
        send("add-chroot-inactive", "POST", add, 400, _new(chroots=[RAWHIDE, INACTIVE])),
        send("add-chroot-slash", "POST", add, 400, _new(chroots=["fedora/../etc-x-y"])),
        send("add-chroot-nul", "POST", add, 400, _new(chroots=["fedora-rawhide-x86_64\x00"])),
        send("add-chroot-long", "POST", add, 400, _new(chroots=[f"fedora-{LONG}-x86_64"])),
        send("add-chroots-too-many", "POST", add, 400, _new(chroots=[RAWHIDE] * 201)),
        send("add-bool-string", "POST", add, 400, _new(enable_net="maybe")),
        send("add-bool-list", "POST", add, 400, _new(unlisted_on_hp=[True])),
        send("add-text-list", "POST", add, 400, _new(description=["a", "b"])),
        send("add-text-object", "POST", add, 400, _new(description={"a": 1})),
        send("add-text-nul", "POST", add, 400, _new(description="a\x00b")),
        raw(
            "add-text-surrogate",
            "POST",
            add,
            b'{"name": "new", "chroots": ["%s"], "description": "\\ud800"}' % RAWHIDE.encode(),
        ),
        send("add-repos-object", "POST", add, 400, _new(additional_repos={"a": "b"})),
        send("add-repos-int", "POST", add, 400, _new(additional_repos=3)),
        send("add-repos-file-url", "POST", add, 400, _new(additional_repos=["file:///etc"])),
        send("add-repos-nul", "POST", add, 400, _new(additional_repos=["https://x/\x00"])),
        send("add-forge-nul", "POST", add, 400, _new(packit_forge_projects_allowed=["a\x00"])),
        send("add-int-string", "POST", add, 400, _new(repo_priority="abc")),
        send("add-int-range", "POST", add, 400, _new(repo_priority=1000)),
        raw(
            "add-int-infinite",
            "POST",
            add,
            b'{"name": "new", "chroots": ["%s"], "delete_after_days": 1e400}' % RAWHIDE.encode(),
        ),
        raw(
            "add-int-nan",
            "POST",
            add,
            b'{"name": "new", "chroots": ["%s"], "repo_priority": NaN}' % RAWHIDE.encode(),
        ),
        send("add-days-range", "POST", add, 400, _new(delete_after_days=-5)),
        send("add-bootstrap-unknown", "POST", add, 400, _new(bootstrap="sideways")),
        send("add-bootstrap-image-missing", "POST", add, 400, _new(bootstrap="image")),
        send("add-storage-unknown", "POST", add, 400, _new(storage="s3")),
        send("add-persistent", "POST", add, 403, _new(persistent=True)),
        send("add-storage-pulp", "POST", add, 403, _new(storage="pulp")),
        send("add-exists", "POST", add, 409, _new(name="demo")),
        send("add-exist-ok-maybe", "POST", f"{add}?exist_ok=maybe", 400, _new()),
        send("add-for-bob", "POST", "/api_3/project/add/bob", 403, _new()),
        send("add-for-unknown-user", "POST", "/api_3/project/add/nobody", 404, _new()),
        send("add-for-unknown-group", "POST", "/api_3/project/add/@nobody", 404, _new()),
        send("add-for-others-group", "POST", "/api_3/project/add/@devs", 403, _new()),
        send("add-for-bare-at", "POST", "/api_3/project/add/@", 400, _new()),
        send("add-get", "GET", add, 405),
        raw("add-body-oversized", "POST", add, HUGE_JSON, status=413),
    ]
    for label, value in BAD_NAMES:
        cases.append(send(f"add-name-{label}", "POST", add, 400, _new(name=value)))
    for label, segment, status in BAD_SEGMENTS:
        cases.append(
            send(f"add-owner-{label}", "POST", f"/api_3/project/add/{segment}", status, _new())
        )
    return cases


def project_edit_cases() -> list[Case]:
    edit = "/api_3/project/edit/alice/demo"
    cases = [
        *refused_logins("edit", "PUT", edit, {"description": "x"}),
        *not_json_objects("edit", "PUT", edit),
        send("edit-by-bob", "PUT", edit, 403, {"description": "x"}, who="bob"),
        send("edit-by-bob-post", "POST", edit, 403, {"description": "x"}, who="bob"),
        send("edit-by-bob-chroots", "PUT", edit, 403, {"chroots": [NOT_ENABLED]}, who="bob"),
        send("edit-unknown-project", "PUT", "/api_3/project/edit/alice/nope", 404, {}),
        send("edit-unknown-owner", "PUT", "/api_3/project/edit/nobody/demo", 404, {}),
        send("edit-unknown-group", "PUT", "/api_3/project/edit/@nobody/demo", 404, {}),
        send("edit-chroots-string", "PUT", edit, 400, {"chroots": RAWHIDE}),
        send("edit-chroots-object", "PUT", edit, 400, {"chroots": {RAWHIDE: True}}),
        send("edit-chroots-empty", "PUT", edit, 400, {"chroots": []}),
        send("edit-chroot-unknown", "PUT", edit, 400, {"chroots": [RAWHIDE, "fedora-1-vax"]}),
        send("edit-chroot-inactive", "PUT", edit, 400, {"chroots": [RAWHIDE, INACTIVE]}),
        send("edit-chroot-nul", "PUT", edit, 400, {"chroots": ["fedora-rawhide-x86_64\x00"]}),
        send("edit-chroot-dotdot", "PUT", edit, 400, {"chroots": ["..-..-.."]}),
        send("edit-chroot-long", "PUT", edit, 400, {"chroots": [f"fedora-{LONG}-x86_64"]}),
        send("edit-chroot-inactive-post", "POST", edit, 400, {"chroots": [INACTIVE]}),
        send("edit-repos-string-url", "PUT", edit, 400, {"repos": "file:///etc"}),
        send("edit-repos-object", "PUT", edit, 400, {"repos": {"a": "b"}}),
        send("edit-bool-string", "PUT", edit, 400, {"unlisted_on_hp": "maybe"}),
        send("edit-int-string", "PUT", edit, 400, {"delete_after_days": "abc"}),
        send("edit-text-list", "PUT", edit, 400, {"description": ["x"]}),
        send("edit-text-nul", "PUT", edit, 400, {"instructions": "a\x00b"}),
        # The project has no image to keep: its state conflicts (409); a request that
        # removes the image it asks for is wrong by itself (400).
        send(
            "edit-bootstrap-image-missing",
            "PUT",
            edit,
            409,
            {"bootstrap": "image", "description": "changed"},
        ),
        send(
            "edit-bootstrap-image-emptied",
            "PUT",
            edit,
            400,
            {"bootstrap": "image", "bootstrap_image": "", "description": "changed"},
        ),
        send("edit-delete-after-days-spaced", "PUT", edit, 400, {"delete_after_days": " 7"}),
        send("edit-delete-after-days-arabic", "PUT", edit, 400, {"delete_after_days": "\u0667"}),
        send("edit-bool-word", "PUT", edit, 400, {"unlisted_on_hp": "yes"}),
        send("edit-bool-number", "PUT", edit, 400, {"enable_net": 1}),
        send("edit-isolation-unknown", "PUT", edit, 400, {"isolation": "chroot"}),
        send("edit-get", "GET", edit, 405),
    ]
    for label, segment, status in BAD_SEGMENTS:
        cases += [
            send(f"edit-owner-{label}", "PUT", f"/api_3/project/edit/{segment}/demo", status, {}),
            send(
                f"edit-project-{label}", "PUT", f"/api_3/project/edit/alice/{segment}", status, {}
            ),
        ]
    return cases


def project_delete_cases() -> list[Case]:
    delete = "/api_3/project/delete/alice/demo"
    cases = [
        *refused_logins("delete", "DELETE", delete, {"verify": True}),
        send("delete-by-bob", "DELETE", delete, 403, {"verify": True}, who="bob"),
        send("delete-by-bob-post", "POST", delete, 403, {"verify": True}, who="bob"),
        send("delete-by-bob-no-body", "DELETE", delete, 403, who="bob"),
        send(
            "delete-persistent", "DELETE", "/api_3/project/delete/alice/keep", 403, {"verify": True}
        ),
        send("delete-unknown-project", "DELETE", "/api_3/project/delete/alice/nope", 404),
        send("delete-unknown-owner", "DELETE", "/api_3/project/delete/nobody/demo", 404),
        send("delete-verify-string", "DELETE", delete, 400, {"verify": "maybe"}),
        send("delete-json-list", "DELETE", delete, 400, [True]),
        send("delete-json-string", "DELETE", delete, 400, "verify"),
        raw("delete-not-json", "DELETE", delete, b"verify=1"),
        raw("delete-truncated-json", "DELETE", delete, b'{"verify": '),
        raw(
            "delete-form-encoded",
            "DELETE",
            delete,
            b"verify=1",
            "alice",
            "application/x-www-form-urlencoded",
        ),
        send("delete-get", "GET", delete, 405),
    ]
    for label, segment, status in BAD_SEGMENTS:
        cases += [
            send(
                f"delete-owner-{label}", "DELETE", f"/api_3/project/delete/{segment}/demo", status
            ),
            send(
                f"delete-project-{label}",
                "DELETE",
                f"/api_3/project/delete/alice/{segment}",
                status,
            ),
        ]
    return cases


def project_fork_cases() -> list[Case]:
    fork = "/api_3/project/fork/alice/demo"
    to_bob = {"ownername": "bob", "name": "mine"}
    cases = [
        *refused_logins("fork", "POST", fork, to_bob),
        *not_json_objects("fork", "POST", fork, who="bob"),
        send("fork-unknown-project", "POST", "/api_3/project/fork/alice/nope", 404, to_bob, "bob"),
        send("fork-unknown-owner", "POST", "/api_3/project/fork/nobody/demo", 404, to_bob, "bob"),
        send("fork-into-itself", "POST", fork, 400, {"ownername": "alice", "name": "demo"}),
        send("fork-into-existing", "POST", fork, 400, {"ownername": "alice", "name": "keep"}),
        send("fork-for-alice-by-bob", "POST", fork, 403, {**to_bob, "ownername": "alice"}, "bob"),
        send("fork-into-others-group", "POST", fork, 403, {**to_bob, "ownername": "@devs"}, "bob"),
        send("fork-into-unknown-group", "POST", fork, 404, {**to_bob, "ownername": "@x"}, "bob"),
        send("fork-confirm-not-bool", "POST", fork, 400, {**to_bob, "confirm": "maybe"}, "bob"),
        send("fork-name-missing", "POST", fork, 400, {"ownername": "bob"}, "bob"),
        send("fork-owner-missing", "POST", fork, 400, {"name": "mine"}, "bob"),
        send("fork-name-number", "POST", fork, 400, {**to_bob, "name": 7}, "bob"),
        send("fork-name-list", "POST", fork, 400, {**to_bob, "name": ["mine"]}, "bob"),
        send("fork-get", "GET", fork, 405, who="bob"),
    ]
    for label, value in BAD_NAMES:
        cases += [
            send(f"fork-name-{label}", "POST", fork, 400, {**to_bob, "name": value}, "bob"),
            send(f"fork-owner-{label}", "POST", fork, 400, {**to_bob, "ownername": value}, "bob"),
        ]
    for label, segment, status in BAD_SEGMENTS:
        cases += [
            send(f"fork-src-owner-{label}", "POST", f"/api_3/project/fork/{segment}/demo", status),
            send(
                f"fork-src-project-{label}", "POST", f"/api_3/project/fork/alice/{segment}", status
            ),
        ]
    return cases


def permission_cases() -> list[Case]:
    base = "/api_3/project/permissions"
    get_p, set_p, req_p = f"{base}/get/alice/demo", f"{base}/set/alice/demo", f"{base}/request"
    req = f"{req_p}/alice/demo"
    approve = {"bob": {"builder": "approved"}}
    cases = [
        # get
        *[send(f"perm-get-{w}", "GET", get_p, 401, who=w) for w in BAD_LOGINS],
        send("perm-get-by-bob", "GET", get_p, 403, who="bob"),
        send("perm-get-unknown-project", "GET", f"{base}/get/alice/nope", 404),
        send("perm-get-unknown-owner", "GET", f"{base}/get/nobody/demo", 404),
        send("perm-get-put", "PUT", get_p, 405, {}),
        # set
        *refused_logins("perm-set", "PUT", set_p, approve),
        *not_json_objects("perm-set", "PUT", set_p),
        send("perm-set-by-bob", "PUT", set_p, 403, approve, who="bob"),
        send("perm-set-by-bob-self", "PUT", set_p, 403, {"bob": {"admin": "approved"}}, "bob"),
        send("perm-set-unknown-project", "PUT", f"{base}/set/alice/nope", 404, approve),
        send("perm-set-unknown-owner", "PUT", f"{base}/set/nobody/demo", 404, approve),
        send("perm-set-roles-string", "PUT", set_p, 400, {"bob": "admin"}),
        send("perm-set-roles-list", "PUT", set_p, 400, {"bob": ["admin"]}),
        send("perm-set-roles-empty", "PUT", set_p, 400, {"bob": {}}),
        send("perm-set-value-bool", "PUT", set_p, 400, {"bob": {"admin": True}}),
        send("perm-set-value-unknown", "PUT", set_p, 400, {"bob": {"admin": "maybe"}}),
        send("perm-set-role-unknown", "PUT", set_p, 400, {"bob": {"root": "approved"}}),
        send("perm-set-owner", "PUT", set_p, 400, {"alice": {"admin": "approved"}}),
        send("perm-set-unknown-user", "PUT", set_p, 404, {"nobody": {"admin": "approved"}}),
        send(
            "perm-set-one-bad-of-two",
            "PUT",
            set_p,
            404,
            {**approve, "nobody": {"admin": "approved"}},
        ),
        send(
            "perm-set-one-bad-value-of-two",
            "PUT",
            set_p,
            400,
            {**approve, "root": {"admin": "sure"}},
        ),
        send("perm-set-get", "GET", set_p, 405),
        # request
        *refused_logins("perm-request", "PUT", req, {"builder": True}),
        *not_json_objects("perm-request", "PUT", req, who="bob"),
        send("perm-request-by-owner", "PUT", req, 400, {"builder": True}),
        send(
            "perm-request-unknown-project",
            "PUT",
            f"{req_p}/alice/nope",
            404,
            {"builder": True},
            "bob",
        ),
        send(
            "perm-request-unknown-owner",
            "PUT",
            f"{req_p}/nobody/demo",
            404,
            {"builder": True},
            "bob",
        ),
        send("perm-request-empty", "PUT", req, 400, {}, "bob"),
        send("perm-request-value-string", "PUT", req, 400, {"builder": "maybe"}, "bob"),
        send("perm-request-value-object", "PUT", req, 400, {"builder": {"x": 1}}, "bob"),
        send("perm-request-role-unknown", "PUT", req, 400, {"root": True}, "bob"),
        send(
            "perm-request-one-bad-of-two", "PUT", req, 400, {"builder": True, "root": True}, "bob"
        ),
        send("perm-request-get", "GET", req, 405, who="bob"),
    ]
    for label, value in BAD_NAMES:
        cases.append(
            send(f"perm-set-user-{label}", "PUT", set_p, 400, {value: {"admin": "approved"}})
        )
    for label, segment, status in BAD_SEGMENTS:
        cases += [
            send(f"perm-get-project-{label}", "GET", f"{base}/get/alice/{segment}", status),
            send(
                f"perm-set-project-{label}", "PUT", f"{base}/set/alice/{segment}", status, approve
            ),
            send(
                f"perm-request-owner-{label}",
                "PUT",
                f"{req_p}/{segment}/demo",
                status,
                {"builder": True},
                "bob",
            ),
        ]
    return cases


def chroot_read_cases() -> list[Case]:
    cases = []
    good = {"ownername": "alice", "projectname": "demo", "chrootname": RAWHIDE}
    for what, path in (
        ("chroot", "/api_3/project-chroot"),
        ("config", "/api_3/project-chroot/build-config"),
    ):
        for key in good:
            missing = {k: v for k, v in good.items() if k != key}
            cases.append(get(f"{what}-missing-{key}", path, missing, 400))
            for label, value in BAD_NAMES:
                cases.append(get(f"{what}-{key}-{label}", path, {**good, key: value}, 400))
        cases += [
            get(f"{what}-unknown-owner", path, {**good, "ownername": "nobody"}, 404),
            get(f"{what}-unknown-project", path, {**good, "projectname": "nope"}, 404),
            get(f"{what}-unknown-chroot", path, {**good, "chrootname": "fedora-1-vax"}, 404),
            get(f"{what}-not-enabled", path, {**good, "chrootname": NOT_ENABLED}, 404),
            get(f"{what}-inactive", path, {**good, "chrootname": INACTIVE}, 404),
            get(f"{what}-bad-pattern", path, {**good, "chrootname": "rawhide"}, 400),
        ]
    return cases


def chroot_edit_cases() -> list[Case]:
    base = "/api_3/project-chroot/edit"
    edit = f"{base}/alice/demo/{RAWHIDE}"
    cases = [
        *[chroot_edit(f"pc-edit-{w}", 401, {"with_opts": "x"}, who=w) for w in BAD_LOGINS],
        chroot_edit("pc-edit-by-bob", 403, {"with_opts": "x"}, who="bob"),
        chroot_edit("pc-edit-by-bob-comps", 403, {}, comps=("comps.xml", COMPS), who="bob"),
        chroot_edit("pc-edit-no-json-part", 400, comps=("comps.xml", COMPS)),
        chroot_edit("pc-edit-unknown-project", 404, {}, path=f"{base}/alice/nope/{RAWHIDE}"),
        chroot_edit("pc-edit-unknown-owner", 404, {}, path=f"{base}/nobody/demo/{RAWHIDE}"),
        chroot_edit("pc-edit-unknown-chroot", 404, {}, path=f"{base}/alice/demo/fedora-1-vax"),
        chroot_edit("pc-edit-not-enabled", 404, {}, path=f"{base}/alice/demo/{NOT_ENABLED}"),
        chroot_edit("pc-edit-inactive", 404, {}, path=f"{base}/alice/demo/{INACTIVE}"),
        chroot_edit("pc-edit-part-not-json", 400, b"additional_packages=x"),
        chroot_edit("pc-edit-part-truncated", 400, b'{"with_opts": '),
        chroot_edit("pc-edit-part-not-utf8", 400, b'{"with_opts": "\xff"}'),
        chroot_edit("pc-edit-part-deep", 400, b"[" * 100_000 + b"]" * 100_000),
        chroot_edit("pc-edit-part-list", 400, ["with_opts"]),
        chroot_edit("pc-edit-part-string", 400, "with_opts"),
        chroot_edit("pc-edit-part-null", 400, None),
        chroot_edit("pc-edit-packages-object", 400, {"additional_packages": {"a": 1}}),
        chroot_edit("pc-edit-packages-int", 400, {"additional_packages": 5}),
        chroot_edit("pc-edit-packages-nul", 400, {"additional_packages": ["a\x00b"]}),
        chroot_edit("pc-edit-modules-nul", 400, {"additional_modules": "m:1,n\x00:2"}),
        chroot_edit("pc-edit-opts-nul", 400, {"with_opts": ["x\x00"]}),
        chroot_edit("pc-edit-repos-bad-url", 400, {"additional_repos": "file:///etc"}),
        chroot_edit("pc-edit-repos-object", 400, {"additional_repos": {"a": "b"}}),
        chroot_edit("pc-edit-opts-list-of-lists", 400, {"with_opts": [["x"]]}),
        chroot_edit("pc-edit-packages-too-many", 400, {"additional_packages": ["p"] * 201}),
        chroot_edit("pc-edit-packages-surrogate", 400, b'{"additional_packages": ["a\\udfff"]}'),
        chroot_edit("pc-edit-timeout-string", 400, {"timeout": "abc"}),
        chroot_edit("pc-edit-timeout-negative", 400, {"timeout": -1}),
        chroot_edit("pc-edit-timeout-over-30h", 400, {"timeout": 108001}),
        chroot_edit("pc-edit-delete-comps-string", 400, {"delete_comps": "maybe"}),
        chroot_edit("pc-edit-reset-string", 400, {"reset_fields": "isolation"}),
        chroot_edit("pc-edit-reset-unknown", 400, {"reset_fields": ["mock_chroot"]}),
        chroot_edit("pc-edit-bootstrap-unknown", 400, {"bootstrap": "sideways"}),
        chroot_edit(
            "pc-edit-bootstrap-image-missing", 409, {"bootstrap": "image", "with_opts": "x"}
        ),
        chroot_edit(
            "pc-edit-bootstrap-image-emptied",
            400,
            {"bootstrap": "custom_image", "bootstrap_image": "", "with_opts": "x"},
        ),
        chroot_edit(
            "pc-edit-bootstrap-image-reset",
            400,
            {"bootstrap": "image", "reset_fields": ["bootstrap_image"], "with_opts": "x"},
        ),
        chroot_edit("pc-edit-timeout-float", 400, {"timeout": 1.5}),
        chroot_edit("pc-edit-timeout-bool", 400, {"timeout": True}),
        chroot_edit(
            "pc-edit-bootstrap-image-nul",
            400,
            {"bootstrap": "custom_image", "bootstrap_image": "fedora\x00"},
        ),
        chroot_edit("pc-edit-isolation-unknown", 400, {"isolation": "chroot"}),
        chroot_edit(
            "pc-edit-comps-not-xml",
            400,
            {"with_opts": "x"},
            comps=("comps.xml", b"this is not a comps file\n"),
        ),
        chroot_edit(
            "pc-edit-comps-other-xml",
            400,
            {},
            comps=("comps.xml", b"<?xml version='1.0'?><rss></rss>"),
        ),
        chroot_edit("pc-edit-comps-empty", 400, {}, comps=("comps.xml", b"")),
        chroot_edit(
            "pc-edit-comps-oversized",
            400,
            {},
            comps=("comps.xml", COMPS + b" " * (MAX_COMPS + 1 - len(COMPS))),
        ),
        chroot_edit(
            "pc-edit-body-oversized",
            413,
            {},
            comps=("comps.xml", COMPS + b" " * (MAX_COMPS + 2 * 1024 * 1024)),
        ),
        chroot_edit("pc-edit-comps-bad-json", 400, b"{", comps=("comps.xml", COMPS)),
        raw(
            "pc-edit-multipart-no-boundary", "PUT", edit, b"--x\r\n", "alice", "multipart/form-data"
        ),
        raw(
            "pc-edit-multipart-broken",
            "PUT",
            edit,
            b'--B\r\nContent-Disposition: form-data; name="json"\r\n\r\n{}',
            "alice",
            "multipart/form-data; boundary=B",
        ),
        raw(
            "pc-edit-field-not-json",
            "PUT",
            edit,
            b'--B\r\nContent-Disposition: form-data; name="json"\r\n\r\nnot json\r\n--B--\r\n',
            "alice",
            "multipart/form-data; boundary=B",
        ),
        raw("pc-edit-json-body-list", "PUT", edit, b"[]"),
        raw("pc-edit-json-body-broken", "PUT", edit, b"{"),
        raw("pc-edit-text-body", "PUT", edit, b"with_opts=x", "alice", "text/plain"),
        raw("pc-edit-no-content-type", "PUT", edit, b'{"with_opts": "x"}', "alice", ""),
        send("pc-edit-get", "GET", edit, 405),
    ]
    for label, segment, status in BAD_SEGMENTS:
        cases += [
            chroot_edit(
                f"pc-edit-owner-{label}", status, {}, path=f"{base}/{segment}/demo/{RAWHIDE}"
            ),
            chroot_edit(
                f"pc-edit-project-{label}", status, {}, path=f"{base}/alice/{segment}/{RAWHIDE}"
            ),
            chroot_edit(f"pc-edit-chroot-{label}", status, {}, path=f"{base}/alice/demo/{segment}"),
        ]
    return cases


SCM_BODY = {
    "package_name": "new",
    "clone_url": "https://git.example.org/new.git",
    "committish": "",
    "subdirectory": "",
    "spec": "",
    "scm_type": "git",
    "source_build_method": "rpkg",
    "max_builds": None,
    "timeout": None,
    "chroot_denylist": None,
    "webhook_rebuild": None,
}
# What a case may get wrong in a package's source or settings: (label, fields).
BAD_PACKAGE_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("clone-url-file", {"clone_url": "file:///etc"}),
    ("clone-url-path", {"clone_url": "/srv/git/x"}),
    ("clone-url-missing", {"clone_url": None}),
    ("clone-url-list", {"clone_url": ["https://x"]}),
    ("committish-option", {"committish": "--upload-pack=x"}),
    ("committish-nul", {"committish": "main\x00"}),
    ("subdirectory-dotdot", {"subdirectory": "../x"}),
    ("spec-dotdot", {"spec": "../../x.spec"}),
    ("spec-not-spec", {"spec": "x.txt"}),
    ("scm-type", {"scm_type": "hg"}),
    ("method", {"source_build_method": "make"}),
    ("max-builds-string", {"max_builds": "many"}),
    ("max-builds-negative", {"max_builds": "-1"}),
    ("timeout-string", {"timeout": "soon"}),
    ("timeout-negative", {"timeout": "-1"}),
    ("timeout-over-30h", {"timeout": "108001"}),
    ("timeout-long", {"timeout": str(10**9)}),
    ("denylist-dotdot", {"chroot_denylist": "fedora-*,../x"}),
    ("denylist-object", {"chroot_denylist": {"a": 1}}),
    ("webhook-rebuild-string", {"webhook_rebuild": "maybe"}),
    # The path names the package; the body's package_name (python-copr repeats it) must
    # still be a package name.
    ("package-name-bad", {"package_name": "../x"}),
]


def package_read_cases() -> list[Case]:
    p = "/api_3/package"
    good = {"ownername": "alice", "projectname": "demo", "packagename": "hello"}
    cases = [
        get("pkg-get-unknown-owner", p, {**good, "ownername": "nobody"}, 404),
        get("pkg-get-unknown-project", p, {**good, "projectname": "nope"}, 404),
        get("pkg-get-unknown-package", p, {**good, "packagename": "nope"}, 404),
        get("pkg-get-flag", p, {**good, "with_latest_build": "maybe"}, 400),
        get("pkg-get-flag-succeeded", p, {**good, "with_latest_succeeded_build": "2"}, 400),
        get("pkg-list-flag", f"{p}/list", {**good, "with_latest_build": "maybe"}, 400),
        get("pkg-list-missing-project", f"{p}/list", {"ownername": "alice"}, 400),
        get("pkg-list-unknown-project", f"{p}/list", {**good, "projectname": "nope"}, 404),
        send("pkg-list-post", "POST", f"{p}/list", 405),
        send("pkg-get-post", "POST", p, 405),
    ]
    for key in good:
        missing = {k: v for k, v in good.items() if k != key}
        cases.append(get(f"pkg-get-missing-{key}", p, missing, 400))
        for label, value in BAD_NAMES:
            cases.append(get(f"pkg-get-{key}-{label}", p, {**good, key: value}, 400))
    for label, page in BAD_PAGES:
        cases.append(get(f"pkg-list-{label}", f"{p}/list", {**good, **page}, 400))
    return cases


def package_add_cases() -> list[Case]:
    base = "/api_3/package/add"
    add = f"{base}/alice/demo/new/scm"
    cases = [
        *refused_logins("pkg-add", "POST", add, SCM_BODY),
        *not_json_objects("pkg-add", "POST", add),
        send("pkg-add-no-body", "POST", add, 400),
        send("pkg-add-by-bob", "POST", add, 403, SCM_BODY, who="bob"),
        send(
            "pkg-add-exists",
            "POST",
            f"{base}/alice/demo/hello/scm",
            409,
            {**SCM_BODY, "package_name": "hello"},
        ),
        send("pkg-add-unknown-project", "POST", f"{base}/alice/nope/new/scm", 404, SCM_BODY),
        send("pkg-add-unknown-owner", "POST", f"{base}/nobody/demo/new/scm", 404, SCM_BODY),
        send("pkg-add-type-unset", "POST", f"{base}/alice/demo/new/unset", 400, SCM_BODY),
        send("pkg-add-type-upload", "POST", f"{base}/alice/demo/new/upload", 400, SCM_BODY),
        send("pkg-add-type-unknown", "POST", f"{base}/alice/demo/new/hg", 400, SCM_BODY),
        send("pkg-add-type-none", "POST", f"{base}/alice/demo/new/None", 400, SCM_BODY),
        send(
            "pkg-add-pypi-name",
            "POST",
            f"{base}/alice/demo/new/pypi",
            400,
            {"package_name": "new", "pypi_package_name": "-rf"},
        ),
        send(
            "pkg-add-pypi-versions",
            "POST",
            f"{base}/alice/demo/new/pypi",
            400,
            {"package_name": "new", "pypi_package_name": "x", "python_versions": [4]},
        ),
        send(
            "pkg-add-gem-missing",
            "POST",
            f"{base}/alice/demo/new/rubygems",
            400,
            {"package_name": "new", "gem_name": None},
        ),
        send(
            "pkg-add-custom-no-script",
            "POST",
            f"{base}/alice/demo/new/custom",
            400,
            {"package_name": "new", "script_chroot": "fedora-rawhide-x86_64"},
        ),
        send(
            "pkg-add-custom-repos",
            "POST",
            f"{base}/alice/demo/new/custom",
            400,
            {"package_name": "new", "script": "#!/bin/sh", "script_repos": "file:///etc"},
        ),
        send(
            "pkg-add-distgit-instance",
            "POST",
            f"{base}/alice/demo/new/distgit",
            400,
            {"package_name": "new", "distgit": "nowhere"},
        ),
        send("pkg-add-get", "GET", add, 405),
        raw("pkg-add-body-oversized", "POST", add, HUGE_JSON, status=413),
    ]
    for label, fields in BAD_PACKAGE_FIELDS:
        cases.append(send(f"pkg-add-{label}", "POST", add, 400, {**SCM_BODY, **fields}))
    for label, segment, status in BAD_SEGMENTS:
        cases += [
            send(
                f"pkg-add-package-{label}",
                "POST",
                f"{base}/alice/demo/{segment}/scm",
                status,
                SCM_BODY,
            ),
            send(
                f"pkg-add-type-{label}",
                "POST",
                f"{base}/alice/demo/new/{segment}",
                status,
                SCM_BODY,
            ),
        ]
    return cases


def package_edit_cases() -> list[Case]:
    base = "/api_3/package/edit"
    edit = f"{base}/alice/demo/hello/scm"
    body = {**SCM_BODY, "package_name": "hello"}
    cases = [
        *refused_logins("pkg-edit", "POST", edit, body),
        *not_json_objects("pkg-edit", "POST", edit),
        send("pkg-edit-by-bob", "POST", edit, 403, body, who="bob"),
        send("pkg-edit-by-bob-keep-type", "POST", f"{base}/alice/demo/hello/None", 403, {}, "bob"),
        send("pkg-edit-unknown-package", "POST", f"{base}/alice/demo/nope/scm", 404, body),
        send("pkg-edit-unknown-package-none", "POST", f"{base}/alice/demo/nope/None", 404, {}),
        send("pkg-edit-unknown-project", "POST", f"{base}/alice/nope/hello/scm", 404, body),
        send("pkg-edit-type-unknown", "POST", f"{base}/alice/demo/hello/hg", 400, body),
        send("pkg-edit-type-unset", "POST", f"{base}/alice/demo/hello/unset", 400, body),
        send(
            "pkg-edit-keep-type-bad-committish",
            "POST",
            f"{base}/alice/demo/hello/None",
            400,
            {"committish": "-x"},
        ),
        send(
            "pkg-edit-no-type-bad-timeout",
            "POST",
            f"{base}/alice/demo/hello",
            400,
            {"timeout": "soon"},
        ),
        send("pkg-edit-put", "PUT", edit, 405, body),
    ]
    for label, fields in BAD_PACKAGE_FIELDS:
        # null is "not given": an edit keeps the stored clone_url (test_packages.py).
        if label != "clone-url-missing":
            cases.append(send(f"pkg-edit-{label}", "POST", edit, 400, {**body, **fields}))
    for label, segment, status in BAD_SEGMENTS:
        cases.append(
            send(
                f"pkg-edit-package-{label}",
                "POST",
                f"{base}/alice/demo/{segment}/scm",
                status,
                body,
            )
        )
    return cases


def package_target_cases() -> list[Case]:
    """``package/reset``, ``package/build``, ``package/delete``: JSON names the package."""
    cases = []
    hello = {"ownername": "alice", "projectname": "demo", "package_name": "hello"}
    for what, method, path in (
        ("reset", "PUT", "/api_3/package/reset"),
        ("build", "POST", "/api_3/package/build"),
        ("delete", "DELETE", "/api_3/package/delete"),
    ):
        p = f"pkg-{what}"
        cases += [
            *refused_logins(p, method, path, hello),
            *not_json_objects(p, method, path),
            send(f"{p}-by-bob", method, path, 403, hello, who="bob"),
            send(f"{p}-no-body", method, path, 400),
            send(f"{p}-unknown-package", method, path, 404, {**hello, "package_name": "nope"}),
            send(f"{p}-unknown-project", method, path, 404, {**hello, "projectname": "nope"}),
            send(f"{p}-missing-package", method, path, 400, {**hello, "package_name": None}),
            send(f"{p}-package-int", method, path, 400, {**hello, "package_name": 5}),
            send(f"{p}-get", "GET", path, 405),
        ]
        for label, value in BAD_NAMES:
            cases += [
                send(f"{p}-package-{label}", method, path, 400, {**hello, "package_name": value}),
                send(f"{p}-project-{label}", method, path, 400, {**hello, "projectname": value}),
            ]
    build = "/api_3/package/build"
    cases += [
        send("pkg-build-unset", "POST", build, 400, {**hello, "package_name": "bare"}),
        send("pkg-build-chroot-unknown", "POST", build, 400, {**hello, "chroots": ["fedora-1-*"]}),
        send("pkg-build-timeout", "POST", build, 400, {**hello, "timeout": "soon"}),
        send("pkg-build-after-unknown", "POST", build, 400, {**hello, "after_build_id": 99999}),
        send("pkg-build-dirname", "POST", build, 400, {**hello, "project_dirname": "other:x"}),
        send("pkg-build-isolation", "POST", build, 400, {**hello, "isolation": "chroot"}),
        send("pkg-delete-running", "DELETE", "/api_3/package/delete", 400, hello),
    ]
    return cases


def webhook_and_resubmit_cases() -> list[Case]:
    gen = "/api_3/webhook/generate/alice/demo"
    resubmit = "/api_3/build/resubmit/1"
    cases = [
        *refused_logins("hook-gen", "POST", gen),
        send("hook-gen-by-bob", "POST", gen, 403, who="bob"),
        send("hook-gen-unknown-project", "POST", "/api_3/webhook/generate/alice/nope", 404),
        send("hook-gen-unknown-owner", "POST", "/api_3/webhook/generate/nobody/demo", 404),
        send("hook-gen-get", "GET", gen, 405),
        *refused_logins("resubmit", "POST", resubmit),
        send("resubmit-by-bob", "POST", resubmit, 403, who="bob"),
        send("resubmit-unknown", "POST", "/api_3/build/resubmit/99999", 404),
        send("resubmit-huge", "POST", "/api_3/build/resubmit/99999999999999999999", 404),
        send("resubmit-zero", "POST", "/api_3/build/resubmit/0", 404),
        send("resubmit-not-int", "POST", "/api_3/build/resubmit/abc", 400),
        send("resubmit-chroot-unknown", "POST", resubmit, 400, {"chroots": ["fedora-1-*"]}),
        send("resubmit-timeout", "POST", resubmit, 400, {"timeout": "soon"}),
        send("resubmit-body-list", "POST", resubmit, 400, ["x"]),
        raw("resubmit-body-broken", "POST", resubmit, b'{"chroots": '),
        send("resubmit-get", "GET", resubmit, 405),
    ]
    for label, segment, status in BAD_SEGMENTS:
        cases += [
            send(
                f"hook-gen-owner-{label}", "POST", f"/api_3/webhook/generate/{segment}/demo", status
            ),
            send(
                f"hook-gen-project-{label}",
                "POST",
                f"/api_3/webhook/generate/alice/{segment}",
                status,
            ),
        ]
    return cases


CASES = [
    *general_cases(),
    *project_read_cases(),
    *project_add_cases(),
    *project_edit_cases(),
    *project_delete_cases(),
    *project_fork_cases(),
    *permission_cases(),
    *chroot_read_cases(),
    *chroot_edit_cases(),
    *package_read_cases(),
    *package_add_cases(),
    *package_edit_cases(),
    *package_target_cases(),
    *webhook_and_resubmit_cases(),
]


class V3Stage(Stage):
    """alice's ``demo`` (packages ``hello``, with build 1 pending, and ``bare``) and her
    persistent ``keep``, arranged through APIv3."""

    def arrange(self) -> None:
        demo = {"name": "demo", "chroots": [RAWHIDE]}
        r = self.client.post("/api_3/project/add/alice", json=demo, headers=self.headers("alice"))
        assert r.status_code == 200, r.text
        keep = {"name": "keep", "chroots": [RAWHIDE], "persistent": True}
        r = self.client.post("/api_3/project/add/alice", json=keep, headers=self.headers("admin"))
        assert r.status_code == 200, r.text
        # alice's package hello, with a build that has not ended, and her package bare,
        # which has no source.
        alice = self.headers("alice")
        for name in ("hello", "bare"):
            scm = {**SCM_BODY, "package_name": name}
            r = self.client.post(
                f"/api_3/package/add/alice/demo/{name}/scm", json=scm, headers=alice
            )
            assert r.status_code == 200, r.text
        target = {"ownername": "alice", "projectname": "demo"}
        r = self.client.put(
            "/api_3/package/reset", json={**target, "package_name": "bare"}, headers=alice
        )
        assert r.status_code == 200, r.text
        r = self.client.post(
            "/api_3/package/build", json={**target, "package_name": "hello"}, headers=alice
        )
        assert r.status_code == 200 and r.json()["id"] == 1, r.text


@pytest.fixture(scope="module")
def _stages() -> Iterator[list[V3Stage]]:
    yield from stages()


@pytest.fixture
def stage(
    _stages: list[V3Stage], _template: str, tmp_path_factory: pytest.TempPathFactory
) -> V3Stage:
    return next_stage(_stages, lambda: V3Stage(_template, tmp_path_factory.mktemp("bad-input")))


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def send_case(stage: Stage, case: Case) -> httpx.Response:
    """Send ``case`` as its actor (APIv2's table sends its cases so too)."""
    kwargs: dict[str, Any] = {
        "params": case.params,
        "headers": {**stage.headers(case.who), **case.headers},
    }
    if case.json is not UNSET:
        kwargs["json"] = case.json
    if case.content is not None:
        kwargs["content"] = case.content
    if case.files is not None:
        kwargs["files"] = case.files
    return stage.client.request(case.method, case.path, **kwargs)


def check_refusal(r: httpx.Response, case: Case, key: str) -> None:
    """A 4xx (``case.status`` exactly, if given) whose JSON body is ``{key: message}``."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    if case.status is not None:
        assert r.status_code == case.status, r.text[:500]
    # python-copr 1.63 needs exactly this content type to read an APIv2 error.
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert isinstance(body, dict) and list(body) == [key], body
    assert isinstance(body[key], str) and body[key].strip(), body


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_and_changes_nothing(case: Case, stage: V3Stage) -> None:
    before = snapshot(stage.engine)
    check_refusal(send_case(stage, case), case, "error")
    assert snapshot(stage.engine) == before
    stage.dirty = False
