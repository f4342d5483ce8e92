"""Every legacy endpoint refuses bad input with ``{"output": "notok", "error": ...}`` and a
4xx status, and changes nothing.

One table of cases, one test. The server's database holds alice's project ``demo`` (chroot
``fedora-rawhide-x86_64``) with build 1 pending and build 2 canceled, and her persistent
project ``keep``; each case checks the status, the envelope, and that every row of every
table is as it was before the request. Cases share that server until one fails.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from tests.bad_input import INACTIVE, LONG, Stage, next_stage, stages
from tests.conftest import snapshot

RAWHIDE = "fedora-rawhide-x86_64"
NOT_ENABLED = "epel-9-x86_64"  # active, but not a chroot of alice/demo
URL = "https://example.com/hello-1.0-1.src.rpm"
UNSET: Any = object()
SRPM = b"\xed\xab\xee\xdb\x03\x00\x00\x01" + b"\x00" * 200
RPM = b"\xed\xab\xee\xdb\x03\x00\x00\x00" + b"\x00" * 200

BAD_NAMES = [("slash", "a/b"), ("dotdot", ".."), ("nul", "a\x00b"), ("long", LONG), ("empty", "")]
# As path segments; an encoded "/" no longer matches the route: any 4xx.
BAD_SEGMENTS: list[tuple[str, str, int | None]] = [
    ("slash", "a%2Fb", None),
    ("dotdot", "%2E%2E", 400),
    ("nul", "a%00b", 400),
    ("long", LONG, 400),
]
BAD_LOGINS = ("anon", "none-none", "wrong", "garbage", "bearer", "expired", "disabled")
Files = dict[str, tuple[str | None, bytes | str, str | None]]


@dataclass(frozen=True)
class Case:
    """One request that must be refused with ``status`` (any 4xx when None)."""

    id: str
    method: str
    path: str
    status: int | None
    who: str = "alice"
    data: Mapping[str, str] | None = None
    json: Any = UNSET
    content: bytes | None = None
    content_type: str | None = None
    files: Files | None = None


def get(id: str, path: str, status: int | None) -> Case:
    return Case(id, "GET", path, status, who="anon")


def form(
    id: str, path: str, status: int | None, data: Mapping[str, str], who: str = "alice"
) -> Case:
    """A form-encoded POST, as python-copr 1.63 sends create, modify and delete."""
    return Case(id, "POST", path, status, who=who, data=data)


def multipart(id: str, path: str, status: int | None, fields: Mapping[str, str], **kw: Any) -> Case:
    """A multipart POST of plain fields, as 1.63 sends new_build."""
    files: Files = {name: (None, value, None) for name, value in fields.items()}
    return Case(id, "POST", path, status, files=files, **kw)


def as_json(id: str, path: str, status: int | None, payload: Any, who: str = "alice") -> Case:
    return Case(id, "POST", path, status, who=who, json=payload)


def raw(id: str, path: str, body: bytes, content_type: str, status: int = 400) -> Case:
    return Case(id, "POST", path, status, content=body, content_type=content_type)


def refused_logins(prefix: str, path: str, data: Mapping[str, str]) -> list[Case]:
    return [form(f"{prefix}-login-{who}", path, 401, data, who=who) for who in BAD_LOGINS]


def not_bodies(prefix: str, path: str) -> list[Case]:
    """Bodies that are neither a form nor a JSON object."""
    return [
        raw(f"{prefix}-text-plain", path, b"name=demo", "text/plain"),
        raw(f"{prefix}-xml", path, b"<name>demo</name>", "application/xml"),
        raw(f"{prefix}-truncated-json", path, b'{"name": ', "application/json"),
        raw(f"{prefix}-json-not-utf8", path, b'{"name": "\xff\xfe"}', "application/json"),
        raw(f"{prefix}-deep-json", path, b"[" * 100_000 + b"]" * 100_000, "application/json"),
        raw(f"{prefix}-bad-boundary", path, b"--y\r\nnonsense", "multipart/form-data; boundary=x"),
        raw(f"{prefix}-no-boundary", path, b"--x\r\n", "multipart/form-data"),
        as_json(f"{prefix}-json-list", path, 400, ["demo"]),
        as_json(f"{prefix}-json-string", path, 400, "demo"),
        raw(f"{prefix}-json-null", path, b"null", "application/json"),
    ]


def read_cases() -> list[Case]:
    p = "/api/coprs"
    cases = [
        get("list-no-user", p, 400),
        get("list-empty-user", f"{p}?username=", 400),
        get("search-blank", f"{p}/search?project=%20", 400),
        get("search-empty", f"{p}/search", 400),
        get("search-nul", f"{p}/search/de%00mo", 400),
        get("search-long", f"{p}/search/{LONG}", 400),
        get("detail-unknown-project", f"{p}/alice/nope/detail", 404),
        get("detail-unknown-owner", f"{p}/nobody/demo/detail", 404),
        get("detail-unknown-group", f"{p}/@nobody/demo/detail", 404),
        get("detail-digits", f"{p}/alice/123/detail", 400),
        get("chroot-detail-not-enabled", f"{p}/alice/demo/detail/{NOT_ENABLED}", 404),
        get("chroot-detail-unknown", f"{p}/alice/demo/detail/fedora-1-vax", 404),
        get("chroot-detail-dotdot", f"{p}/alice/demo/detail/%2E%2E", 400),
        get("chroot-detail-nul", f"{p}/alice/demo/detail/fedora-rawhide-x86_64%00", 400),
        get("chroot-detail-unknown-project", f"{p}/alice/nope/detail/{RAWHIDE}", 404),
        get("no-such-path", f"{p}/alice/demo/nothing/here/at/all", 404),
        Case("detail-post", "POST", f"{p}/alice/demo/detail", 405),
        Case("new-get", "GET", f"{p}/alice/new", 405, who="anon"),
        Case("modify-get", "GET", f"{p}/alice/demo/modify", 405, who="anon"),
        Case("cancel-get", "GET", f"{p}/cancel_build/1", 405, who="anon"),
    ]
    for label, value in (("slash", "a/b"), ("dotdot", ".."), ("nul", "a%00b"), ("long", LONG)):
        cases.append(get(f"list-user-{label}", f"{p}?username={value}", 400))
    for label, segment, status in BAD_SEGMENTS:
        cases += [
            get(f"list-path-user-{label}", f"{p}/{segment}", status),
            get(f"detail-owner-{label}", f"{p}/{segment}/demo/detail", status),
            get(f"detail-project-{label}", f"{p}/alice/{segment}/detail", status),
            get(f"chroot-project-{label}", f"{p}/alice/{segment}/detail/{RAWHIDE}", status),
        ]
    for what in ("build", "build_detail", "build_status"):
        cases += [
            get(f"{what}-unknown", f"{p}/{what}/999", 404),
            get(f"{what}-zero", f"{p}/{what}/0", 404),
            get(f"{what}-negative", f"{p}/{what}/-1", 404),
            get(f"{what}-huge", f"{p}/{what}/99999999999999999999", 404),
            get(f"{what}-not-int", f"{p}/{what}/abc", 400),
            get(f"{what}-float", f"{p}/{what}/1.5", 400),
        ]
    return cases


def _new(**fields: str) -> dict[str, str]:
    return {"name": "new", RAWHIDE: "y", **fields}


def create_cases() -> list[Case]:
    new = "/api/coprs/alice/new"
    cases = [
        *refused_logins("new", new, _new()),
        *not_bodies("new", new),
        form("new-no-fields", new, 400, {}),
        form("new-missing-name", new, 400, {RAWHIDE: "y"}),
        form("new-name-digits", new, 400, _new(name="123")),
        form("new-name-dash", new, 400, _new(name="-rf")),
        form("new-name-traversal", new, 400, _new(name="../x")),
        form("new-no-chroot", new, 400, {"name": "new"}),
        form("new-chroot-n", new, 400, _new(**{RAWHIDE: "n"})),
        form("new-chroot-maybe", new, 400, _new(**{RAWHIDE: "maybe"})),
        form("new-chroot-unknown", new, 400, _new(**{"fedora-1-vax": "y"})),
        form("new-chroot-inactive", new, 400, _new(**{INACTIVE: "y"})),
        form("new-unknown-field", new, 400, _new(colour="blue")),
        form("new-unknown-field-traversal", new, 400, _new(**{"../../etc": "y"})),
        form("new-repos-file", new, 400, _new(repos="file:///etc")),
        form("new-repos-nul", new, 400, _new(repos="https://x/\x00")),
        form("new-description-nul", new, 400, _new(description="a\x00b")),
        form("new-bool-maybe", new, 400, _new(disable_createrepo="maybe")),
        form("new-initial-pkg-file", new, 400, _new(initial_pkgs=f"{URL} file:///etc/passwd")),
        form("new-initial-pkg-relative", new, 400, _new(initial_pkgs="hello.src.rpm")),
        form("new-persistent", new, 403, _new(persistent="y")),
        form("new-exists", new, 409, _new(name="demo")),
        form("new-for-bob", "/api/coprs/bob/new", 403, _new()),
        form("new-for-unknown-user", "/api/coprs/nobody/new", 404, _new()),
        form("new-for-unknown-group", "/api/coprs/@nobody/new", 404, _new()),
        form("new-for-others-group", "/api/coprs/@devs/new", 403, _new()),
        form("new-for-bare-at", "/api/coprs/@/new", 400, _new()),
        as_json("new-json-name-int", new, 400, {"name": 7, RAWHIDE: "y"}),
        as_json("new-json-name-list", new, 400, {"name": ["new"], RAWHIDE: "y"}),
        as_json("new-json-chroot-int", new, 400, {"name": "new", RAWHIDE: 5}),
        as_json("new-json-chroot-null", new, 400, {"name": "new", RAWHIDE: None}),
        as_json("new-json-description-list", new, 400, _new(description=["a"])),  # type: ignore[arg-type]
        as_json("new-json-repos-object", new, 400, _new(repos={"a": "b"})),  # type: ignore[arg-type]
        as_json("new-json-initial-pkgs-int", new, 400, _new(initial_pkgs=3)),  # type: ignore[arg-type]
        Case(
            "new-name-twice",
            "POST",
            new,
            400,
            content=f"name=new&name=other&{RAWHIDE}=y".encode(),
            content_type="application/x-www-form-urlencoded",
        ),
        Case(
            "new-body-oversized",
            "POST",
            new,
            413,
            json={"name": "new", RAWHIDE: "y", "description": "x" * 2 * 1024 * 1024},
        ),
    ]
    for label, value in BAD_NAMES:
        cases.append(form(f"new-name-{label}", new, 400, _new(name=value)))
    for label, segment, status in BAD_SEGMENTS:
        cases.append(form(f"new-owner-{label}", f"/api/coprs/{segment}/new", status, _new()))
    return cases


def modify_cases() -> list[Case]:
    modify = "/api/coprs/alice/demo/modify"
    change = {"description": "x"}
    return [
        *refused_logins("modify", modify, change),
        *not_bodies("modify", modify),
        form("modify-by-bob", modify, 403, change, who="bob"),
        form("modify-unknown-project", "/api/coprs/alice/nope/modify", 404, change),
        form("modify-unknown-owner", "/api/coprs/nobody/demo/modify", 404, change),
        form("modify-unknown-field", modify, 400, {"colour": "blue"}),
        form("modify-chroot-field", modify, 400, {RAWHIDE: "y"}),
        form("modify-repos-file", modify, 400, {"repos": "file:///etc"}),
        form("modify-bool-maybe", modify, 400, {"disable_createrepo": "maybe"}),
        form("modify-instructions-nul", modify, 400, {"instructions": "a\x00b"}),
        as_json("modify-json-description-int", modify, 400, {"description": 5}),
        as_json("modify-json-bool-list", modify, 400, {"auto_prune": [True]}),
    ]


def delete_cases() -> list[Case]:
    delete = "/api/coprs/alice/demo/delete"
    yes = {"verify": "yes"}
    return [
        *refused_logins("delete", delete, yes),
        *not_bodies("delete", delete),
        form("delete-no-verify", delete, 400, {}),
        form("delete-verify-no", delete, 400, {"verify": "no"}),
        form("delete-verify-YES", delete, 400, {"verify": "YES please"}),
        form("delete-unknown-field", delete, 400, {**yes, "force": "y"}),
        form("delete-by-bob", delete, 403, yes, who="bob"),
        form("delete-persistent", "/api/coprs/alice/keep/delete", 403, yes),
        form("delete-unknown-project", "/api/coprs/alice/nope/delete", 404, yes),
        as_json("delete-json-verify-list", delete, 400, {"verify": ["yes"]}),
    ]


def chroot_cases() -> list[Case]:
    modify = f"/api/coprs/alice/demo/modify/{RAWHIDE}"
    pkgs = {"buildroot_pkgs": "make"}
    return [
        *refused_logins("chroot", modify, pkgs),
        *not_bodies("chroot", modify),
        form("chroot-by-bob", modify, 403, pkgs, who="bob"),
        form("chroot-not-enabled", f"/api/coprs/alice/demo/modify/{NOT_ENABLED}", 404, pkgs),
        form("chroot-dotdot", "/api/coprs/alice/demo/modify/%2E%2E", 400, pkgs),
        form("chroot-unknown-project", f"/api/coprs/alice/nope/modify/{RAWHIDE}", 404, pkgs),
        form("chroot-unknown-field", modify, 400, {**pkgs, "comps": "x"}),
        form("chroot-pkgs-control", modify, 400, {"buildroot_pkgs": "make \x01gcc"}),
        form("chroot-repos-file", modify, 400, {"repos": "file:///etc"}),
        as_json("chroot-json-pkgs-int", modify, 400, {"buildroot_pkgs": 5}),
    ]


def _build(**fields: str) -> dict[str, str]:
    return {"pkgs": URL, "memory_reqs": "", "timeout": "", **fields}


def new_build_cases() -> list[Case]:
    new = "/api/coprs/alice/demo/new_build"
    cases = [
        *[multipart(f"build-login-{who}", new, 401, _build(), who=who) for who in BAD_LOGINS],
        *not_bodies("build", new),
        multipart("build-by-bob", new, 403, _build(), who="bob"),
        multipart("build-unknown-project", "/api/coprs/alice/nope/new_build", 404, _build()),
        multipart("build-no-pkgs", new, 400, _build(pkgs="")),
        multipart("build-missing-pkgs", new, 400, {"timeout": ""}),
        multipart("build-pkgs-file", new, 400, _build(pkgs="file:///etc/passwd")),
        multipart("build-pkgs-relative", new, 400, _build(pkgs=f"{URL} hello.src.rpm")),
        multipart("build-pkgs-too-many", new, 400, _build(pkgs=" ".join([URL] * 101))),
        multipart("build-timeout-word", new, 400, _build(timeout="soon")),
        multipart("build-timeout-over-30h", new, 400, _build(timeout="108001")),
        multipart("build-timeout-long", new, 400, _build(timeout=str(10**9))),
        multipart("build-timeout-float", new, 400, _build(timeout="3600.5")),
        multipart("build-timeout-negative", new, 400, _build(timeout="-3600")),
        multipart(
            "build-timeout-unicode-digits", new, 400, _build(timeout="\u0663\u0666\u0660\u0660")
        ),
        multipart("build-memory-word", new, 400, _build(memory_reqs="lots")),
        multipart("build-memory-small", new, 400, _build(memory_reqs="1")),
        multipart("build-chroot-not-enabled", new, 400, _build(**{NOT_ENABLED: "y"})),
        multipart("build-chroot-inactive", new, 400, _build(**{INACTIVE: "y"})),
        multipart("build-chroot-glob", new, 400, _build(**{"fedora-*-x86_64": "y"})),
        multipart("build-chroot-maybe", new, 400, _build(**{RAWHIDE: "maybe"})),
        multipart("build-unknown-field", new, 400, _build(backgrnd="y")),
        as_json("build-json-pkgs-int", new, 400, {"pkgs": 5}),
        as_json("build-json-pkgs-list-int", new, 400, {"pkgs": [5]}),
        as_json("build-json-timeout-bool", new, 400, {"pkgs": URL, "timeout": True}),
        as_json("build-json-timeout-list", new, 400, {"pkgs": URL, "timeout": [3600]}),
        as_json("build-json-chroot-int", new, 400, {"pkgs": URL, RAWHIDE: 1}),
        Case(
            "build-file-part",
            "POST",
            new,
            400,
            files={"pkgs": ("a.src.rpm", SRPM, "application/x-rpm")},
        ),
    ]
    for label, segment, status in BAD_SEGMENTS:
        path = f"/api/coprs/alice/{segment}/new_build"
        cases.append(multipart(f"build-project-{label}", path, status, _build()))
    return cases


def _upload(name: str = "hello-1.0-1.src.rpm", data: bytes = SRPM, **fields: str) -> Files:
    parts: Files = {key: (None, value, None) for key, value in _build(**fields).items()}
    parts["pkgs"] = (name, data, "application/x-rpm")
    return parts


def upload_cases() -> list[Case]:
    up = "/api/coprs/alice/demo/new_build_upload"

    def case(id: str, status: int, files: Files, who: str = "alice") -> Case:
        return Case(id, "POST", up, status, who=who, files=files)

    return [
        *[case(f"upload-login-{who}", 401, _upload(), who) for who in BAD_LOGINS],
        case("upload-by-bob", 403, _upload(), "bob"),
        Case(
            "upload-unknown-project",
            "POST",
            "/api/coprs/alice/nope/new_build_upload",
            404,
            files=_upload(),
        ),
        case("upload-no-file", 400, {key: (None, v, None) for key, v in _build().items()}),
        case("upload-binary-rpm", 400, _upload("hello-1.0-1.noarch.rpm", RPM)),
        case("upload-binary-named-src", 400, _upload(data=RPM)),
        case("upload-not-rpm", 400, _upload(data=b"#!/bin/sh\nrm -rf /\n")),
        case("upload-empty", 400, _upload(data=b"")),
        case("upload-bad-name", 400, _upload(name="hello.tar.gz")),
        case("upload-dotfile", 400, _upload(name=".hidden.src.rpm")),
        case("upload-timeout-word", 400, _upload(timeout="soon")),
        case("upload-chroot-unknown", 400, _upload(**{"fedora-1-vax": "y"})),
        case("upload-unknown-field", 400, _upload(colour="blue")),
        case(
            "upload-two-files",
            400,
            {**_upload(), "extra": ("b.src.rpm", SRPM, "application/x-rpm")},
        ),
        form("upload-form-encoded", up, 400, {"pkgs": URL}),
        as_json("upload-json", up, 400, {"pkgs": URL}),
    ]


def cancel_cases() -> list[Case]:
    cancel = "/api/coprs/cancel_build/1"
    return [
        *[Case(f"cancel-login-{who}", "POST", cancel, 401, who=who) for who in BAD_LOGINS],
        Case("cancel-by-bob", "POST", cancel, 403, who="bob"),
        Case("cancel-ended", "POST", "/api/coprs/cancel_build/2", 409),
        Case("cancel-unknown", "POST", "/api/coprs/cancel_build/999", 404),
        Case("cancel-huge", "POST", "/api/coprs/cancel_build/99999999999999999999", 404),
        Case("cancel-not-int", "POST", "/api/coprs/cancel_build/abc", 400),
    ]


CASES = [
    *read_cases(),
    *create_cases(),
    *modify_cases(),
    *delete_cases(),
    *chroot_cases(),
    *new_build_cases(),
    *upload_cases(),
    *cancel_cases(),
]


class LegacyStage(Stage):
    """A running app on a database holding alice's ``demo`` and ``keep``, and two builds."""

    def arrange(self) -> None:
        """Through the legacy API itself."""
        alice = self.headers("alice")
        r = self.client.post("/api/coprs/alice/new", data=_new(name="demo"), headers=alice)
        assert r.status_code == 200, r.text
        keep = _new(name="keep", persistent="y")
        r = self.client.post("/api/coprs/alice/new", data=keep, headers=self.headers("admin"))
        assert r.status_code == 200, r.text
        for _ in range(2):
            r = self.client.post("/api/coprs/alice/demo/new_build", data=_build(), headers=alice)
            assert r.status_code == 200, r.text
        r = self.client.post("/api/coprs/cancel_build/2", headers=alice)
        assert r.status_code == 200, r.text

    def uploads(self) -> list[str]:
        root = self.directory / "uploads"
        return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


@pytest.fixture(scope="module")
def _stages() -> Iterator[list[LegacyStage]]:
    yield from stages()


@pytest.fixture
def stage(
    _stages: list[LegacyStage], _template: str, tmp_path_factory: pytest.TempPathFactory
) -> LegacyStage:
    return next_stage(
        _stages, lambda: LegacyStage(_template, tmp_path_factory.mktemp("legacy-bad-input"))
    )


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_and_changes_nothing(case: Case, stage: LegacyStage) -> None:
    headers = stage.headers(case.who)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    kwargs: dict[str, Any] = {"headers": headers}
    if case.data is not None:
        kwargs["data"] = case.data
    if case.json is not UNSET:
        kwargs["json"] = case.json
    if case.content is not None:
        kwargs["content"] = case.content
    if case.files is not None:
        kwargs["files"] = case.files
    before = snapshot(stage.engine)
    uploads = stage.uploads()
    r = stage.client.request(case.method, case.path, **kwargs)

    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    if case.status is not None:
        assert r.status_code == case.status, r.text[:500]
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert isinstance(body, dict) and sorted(body) == ["error", "output"], body
    assert body["output"] == "notok"
    assert isinstance(body["error"], str) and body["error"].strip(), body
    assert snapshot(stage.engine) == before
    assert stage.uploads() == uploads
    stage.dirty = False
