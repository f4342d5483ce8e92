"""Every APIv2 endpoint refuses bad input with a 4xx ``{"message": ...}`` and changes nothing.

One table of cases, one test, as for APIv3 (``tests/api_v3/test_bad_input.py``, whose
request helpers and shared server this reuses). The server's database holds alice's
project ``demo`` (id 1, chroot ``fedora-rawhide-x86_64``) with a pending build 1 from a
URL, and her persistent project ``keep`` (id 2). Each case checks the status, the envelope
python-copr 1.63 parses (exactly ``application/json``, a ``message``), that every row of
every table is as it was, and that no uploaded file was left behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api_v2.conftest import RAWHIDE, SRPM_BYTES, project_body
from tests.api_v3.test_bad_input import (
    BAD_LOGINS,
    NOT_ENABLED,
    UNSET,
    Case,
    Files,
    check_refusal,
    get,
    not_json_objects,
    raw,
    refused_logins,
    send,
    send_case,
)
from tests.bad_input import INACTIVE, LONG, Stage, next_stage, stages
from tests.conftest import snapshot

DEMO = 1
KEEP = 2
BUILD = 1
URL = "https://example.com/hello-1-1.src.rpm"
# JSON may escape a lone surrogate, which is not text any database or file name can hold.
SURROGATE = "\\ud800"
HUGE_JSON = json.dumps({"name": "x", "description": "x" * 2 * 1024 * 1024}).encode()


def _surrogate(body: dict[str, Any], field: str, value: Any = "x") -> bytes:
    """``body`` as JSON, with a lone surrogate in ``field`` (its first item, for a list)."""
    text = json.dumps({**body, field: value})
    marker = json.dumps(value[0] if isinstance(value, list) else value)
    return text.replace(marker, f'"{SURROGATE}"', 1).encode()


def upload(
    id: str,
    status: int,
    metadata: Any = UNSET,
    data: bytes = SRPM_BYTES,
    name: str = "hello-1-1.src.rpm",
    who: str = "alice",
    srpm: bool = True,
) -> Case:
    """A build from a file, multipart as 1.63 sends it."""
    files: Files = []
    if metadata is not UNSET:
        text = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode()
        files.append(("metadata", (None, text, "application/json")))  # type: ignore[arg-type]
    if srpm:
        files.append(("srpm", (name, data, "appliction/x-rpm")))
    return Case(id, "POST", "/api_2/builds", status, who=who, files=files)


def general_cases() -> list[Case]:
    return [
        send("root-post", "POST", "/api_2", 405),
        send("unknown-path", "GET", "/api_2/no-such-thing", 404, who="anon"),
        get("mock-chroots-bad-bool", "/api_2/mock_chroots", {"active_only": "maybe"}, 400),
        send("mock-chroot-unknown", "GET", "/api_2/mock_chroots/fedora-1-x86_64", 404, who="anon"),
        send("mock-chroot-dotdot", "GET", "/api_2/mock_chroots/%2E%2E", None, who="anon"),
        send("mock-chroots-post", "POST", "/api_2/mock_chroots", 405),
    ]


def project_read_cases() -> list[Case]:
    p = "/api_2/projects"
    return [
        send("get-unknown", "GET", f"{p}/999", 404, who="anon"),
        send("get-zero", "GET", f"{p}/0", 404, who="anon"),
        send("get-negative", "GET", f"{p}/-1", 404, who="anon"),
        send("get-huge", "GET", f"{p}/99999999999999999999", 404, who="anon"),
        send("get-not-int", "GET", f"{p}/abc", 400, who="anon"),
        send("get-dotdot", "GET", f"{p}/%2E%2E", 400, who="anon"),
        get("list-limit-not-int", p, {"limit": "abc"}, 400),
        get("list-offset-negative", p, {"offset": "-1"}, 400),
        get("list-offset-huge", p, {"offset": "99999999999999999999"}, 400),
        get("list-owner-slash", p, {"owner": "a/b"}, 400),
        get("list-owner-dotdot", p, {"owner": ".."}, 400),
        get("list-name-dotdot", p, {"name": "../demo"}, 400),
        get("list-name-long", p, {"name": LONG}, 400),
        get("list-search-empty", p, {"search_query": " "}, 400),
        get("list-search-nul", p, {"search_query": "de\x00mo"}, 400),
        get("list-search-long", p, {"search_query": LONG}, 400),
    ]


def project_create_cases() -> list[Case]:
    p = "/api_2/projects"

    def create(id: str, status: int, who: str = "alice", **fields: Any) -> Case:
        return send(id, "POST", p, status, {**project_body("new"), **fields}, who=who)

    return [
        *refused_logins("create", "POST", p, project_body("new")),
        *not_json_objects("create", "POST", p),
        raw("create-huge", "POST", p, HUGE_JSON, status=413),
        send("create-no-name", "POST", p, 400, {"chroots": [RAWHIDE]}),
        send("create-empty-body", "POST", p, 400, {}),
        create("create-name-int", 400, name=5),
        create("create-name-dotdot", 400, name=".."),
        create("create-name-path", 400, name="../etc"),
        create("create-name-slash", 400, name="a/b"),
        create("create-name-digits", 400, name="123"),
        create("create-name-long", 400, name=LONG),
        create("create-taken", 409, name="demo"),
        create("create-chroots-string", 400, chroots="x"),
        create("create-chroots-none", 400, chroots=None),
        create("create-chroots-empty", 400, chroots=[]),
        create("create-chroots-ints", 400, chroots=[1]),
        create("create-chroot-unknown", 400, chroots=["fedora-1-x86_64"]),
        create("create-chroot-inactive", 400, chroots=[INACTIVE]),
        create("create-chroot-path", 400, chroots=["../../etc-1-x"]),
        create("create-for-bob", 403, owner="bob"),
        create("create-for-nobody", 404, owner="nobody"),
        create("create-for-group", 403, owner="@devs"),
        create("create-owner-slash", 400, owner="a/b"),
        create("create-description-int", 400, description=5),
        create("create-description-nul", 400, description="a\x00b"),
        create("create-repos-string", 400, repos="https://example.com/repo"),
        create("create-repos-file", 400, repos=["file:///etc"]),
        create("create-net-not-bool", 400, build_enable_net="maybe"),
        create("create-homepage-list", 400, homepage=["x"]),
        raw("create-surrogate", "POST", p, _surrogate(project_body("new"), "contact")),
    ]


def project_change_cases() -> list[Case]:
    one = f"/api_2/projects/{DEMO}"
    good = {"description": "changed"}
    return [
        *refused_logins("update", "PUT", one, good),
        *not_json_objects("update", "PUT", one),
        send("update-by-bob", "PUT", one, 403, good, who="bob"),
        send("update-unknown", "PUT", "/api_2/projects/999", 404, good),
        send("update-not-int", "PUT", "/api_2/projects/abc", 400, good),
        send("update-description-int", "PUT", one, 400, {"description": 5}),
        send("update-repos-string", "PUT", one, 400, {"repos": "https://example.com/r"}),
        send("update-repos-file", "PUT", one, 400, {"repos": ["file:///etc"]}),
        send("update-contact-nul", "PUT", one, 400, {"contact": "a\x00b"}),
        send("update-createrepo-not-bool", "PUT", one, 400, {"disable_createrepo": "maybe"}),
        raw("update-surrogate", "PUT", one, _surrogate({}, "homepage")),
        *refused_logins("delete", "DELETE", one),
        send("delete-by-bob", "DELETE", one, 403, who="bob"),
        send("delete-unknown", "DELETE", "/api_2/projects/999", 404),
        send("delete-persistent", "DELETE", f"/api_2/projects/{KEEP}", 403),
        send("project-post-to-one", "POST", one, 405),
    ]


def chroot_cases() -> list[Case]:
    base = f"/api_2/projects/{DEMO}/chroots"
    one = f"{base}/{RAWHIDE}"

    def body(name: str = NOT_ENABLED, **more: Any) -> dict[str, Any]:
        return {"name": name, "buildroot_pkgs": [], "comps": None, "comps_name": None, **more}

    return [
        send("chroots-unknown-project", "GET", "/api_2/projects/999/chroots", 404, who="anon"),
        send("chroot-not-enabled", "GET", f"{base}/{NOT_ENABLED}", 404, who="anon"),
        send("chroot-dotdot", "GET", f"{base}/%2E%2E", 400, who="anon"),
        send("chroot-long", "GET", f"{base}/{LONG}", 400, who="anon"),
        send("chroot-nul", "GET", f"{base}/a%00b", 400, who="anon"),
        *refused_logins("enable", "POST", base, body()),
        *not_json_objects("enable", "POST", base),
        send("enable-by-bob", "POST", base, 403, body(), who="bob"),
        send("enable-unknown-project", "POST", "/api_2/projects/999/chroots", 404, body()),
        send("enable-no-name", "POST", base, 400, {"buildroot_pkgs": []}),
        send("enable-name-int", "POST", base, 400, body(5)),
        send("enable-name-path", "POST", base, 400, body("../fedora-1-x86_64")),
        send("enable-unknown", "POST", base, 400, body("fedora-1-x86_64")),
        send("enable-inactive", "POST", base, 400, body(INACTIVE)),
        send("enable-enabled", "POST", base, 409, body(RAWHIDE)),
        # The enable happens first: these show that a refused setting undoes it.
        send("enable-pkgs-string", "POST", base, 400, body(buildroot_pkgs="make")),
        send("enable-pkgs-nul", "POST", base, 400, body(buildroot_pkgs=["a\x00b"])),
        send("enable-comps-not-xml", "POST", base, 400, body(comps="not xml")),
        send("enable-comps-int", "POST", base, 400, body(comps=5)),
        raw("enable-comps-surrogate", "POST", base, _surrogate(body(), "comps")),
        raw("enable-comps-name-surrogate", "POST", base, _surrogate(body(), "comps_name")),
        *refused_logins("chroot-update", "PUT", one, body(RAWHIDE)),
        *not_json_objects("chroot-update", "PUT", one),
        send("chroot-update-by-bob", "PUT", one, 403, body(RAWHIDE), who="bob"),
        send("chroot-update-not-enabled", "PUT", f"{base}/{NOT_ENABLED}", 404, body()),
        send("chroot-update-pkgs-string", "PUT", one, 400, body(RAWHIDE, buildroot_pkgs="x")),
        send("chroot-update-comps-bad", "PUT", one, 400, body(RAWHIDE, comps="<x/>")),
        *refused_logins("disable", "DELETE", one),
        send("disable-by-bob", "DELETE", one, 403, who="bob"),
        send("disable-not-enabled", "DELETE", f"{base}/{NOT_ENABLED}", 404),
        # The request is well formed; the project as it is (one chroot left) refuses it.
        send("disable-the-last", "DELETE", one, 409),
    ]


def build_cases() -> list[Case]:
    p = "/api_2/builds"
    one = f"{p}/{BUILD}"
    good = {"project_id": DEMO, "srpm_url": URL, "chroots": [], "enable_net": True}
    meta = {"project_id": DEMO, "chroots": [], "enable_net": True}

    def build(id: str, status: int, who: str = "alice", **fields: Any) -> Case:
        return send(id, "POST", p, status, {**good, **fields}, who=who)

    return [
        send("build-unknown", "GET", f"{p}/999", 404, who="anon"),
        send("build-not-int", "GET", f"{p}/abc", 400, who="anon"),
        send("build-huge", "GET", f"{p}/99999999999999999999", 404, who="anon"),
        get("builds-project-unknown", p, {"project_id": "999"}, 404),
        get("builds-project-not-int", p, {"project_id": "abc"}, 400),
        get("builds-owner-slash", p, {"owner": "a/b"}, 400),
        get("builds-limit-not-int", p, {"limit": "x"}, 400),
        *refused_logins("build-url", "POST", p, good),
        *not_json_objects("build-url", "POST", p),
        raw("build-url-huge", "POST", p, HUGE_JSON, status=413),
        raw("build-text-body", "POST", p, json.dumps(good).encode(), content_type="text/plain"),
        build("build-by-bob", 403, who="bob"),
        build("build-project-unknown", 404, project_id=999),
        build("build-project-not-int", 400, project_id="abc"),
        build("build-project-none", 400, project_id=None),
        build("build-chroots-string", 400, chroots="x"),
        build("build-chroot-not-enabled", 400, chroots=[NOT_ENABLED]),
        build("build-chroot-unknown", 400, chroots=["fedora-1-x86_64"]),
        build("build-url-file", 400, srpm_url="file:///etc/passwd"),
        build("build-url-none", 400, srpm_url=None),
        build("build-url-spaces", 400, srpm_url="https://example.com/a b.src.rpm"),
        build("build-net-not-bool", 400, enable_net="maybe"),
        send("build-no-url", "POST", p, 400, {"project_id": DEMO}),
        raw("build-url-surrogate", "POST", p, _surrogate(good, "srpm_url")),
        upload("upload-anon", 401, meta, who="anon"),
        upload("upload-wrong-token", 401, meta, who="wrong"),
        upload("upload-by-bob", 403, meta, who="bob"),
        upload("upload-no-metadata", 400),
        upload("upload-metadata-not-json", 400, b"{not json"),
        upload("upload-metadata-list", 400, [DEMO]),
        upload("upload-no-srpm", 400, meta, srpm=False),
        upload("upload-project-unknown", 404, {**meta, "project_id": 999}),
        upload("upload-project-not-int", 400, {**meta, "project_id": "abc"}),
        upload("upload-chroots-string", 400, {**meta, "chroots": "x"}),
        upload("upload-chroots-surrogate", 400, _surrogate(meta, "chroots", [RAWHIDE])),
        upload("upload-chroot-not-enabled", 400, {**meta, "chroots": [NOT_ENABLED]}),
        upload("upload-not-rpm", 400, meta, data=b"just text"),
        upload("upload-binary-rpm", 400, meta, data=SRPM_BYTES[:7] + b"\x00"),
        upload("upload-bad-name", 400, meta, name="hello.tar.gz"),
        upload("upload-hidden-name", 400, meta, name=".hello-1-1.src.rpm"),
        raw(
            "upload-bad-boundary",
            "POST",
            p,
            b"--x\r\nnothing",
            content_type="multipart/form-data; boundary=y",
        ),
        *refused_logins("cancel", "PUT", one, {"state": "canceled"}),
        *not_json_objects("cancel", "PUT", one),
        send("cancel-by-bob", "PUT", one, 403, {"state": "canceled"}, who="bob"),
        send("cancel-unknown", "PUT", f"{p}/999", 404, {"state": "canceled"}),
        send("cancel-other-state", "PUT", one, 400, {"state": "running"}),
        send("cancel-no-state", "PUT", one, 400, {}),
        send("cancel-state-int", "PUT", one, 400, {"state": 5}),
        *refused_logins("build-delete", "DELETE", one),
        send("build-delete-by-bob", "DELETE", one, 403, who="bob"),
        send("build-delete-unknown", "DELETE", f"{p}/999", 404),
        send("build-delete-unfinished", "DELETE", one, 400),
    ]


def build_task_cases() -> list[Case]:
    p = "/api_2/build_tasks"
    return [
        get("tasks-state-unknown", p, {"state": "forked"}, 400),
        get("tasks-build-unknown", p, {"build_id": "999"}, 404),
        get("tasks-build-not-int", p, {"build_id": "abc"}, 400),
        get("tasks-project-unknown", p, {"project_id": "999"}, 404),
        get("tasks-owner-slash", p, {"owner": "a/b"}, 400),
        get("tasks-offset-negative", p, {"offset": "-5"}, 400),
        send("task-source", "GET", f"{p}/{BUILD}/srpm-builds", 404, who="anon"),
        send("task-not-a-chroot", "GET", f"{p}/{BUILD}/{NOT_ENABLED}", 404, who="anon"),
        send("task-unknown-build", "GET", f"{p}/999/{RAWHIDE}", 404, who="anon"),
        send("task-post", "POST", f"{p}/{BUILD}/{RAWHIDE}", 405),
    ]


CASES = [
    *general_cases(),
    *project_read_cases(),
    *project_create_cases(),
    *project_change_cases(),
    *chroot_cases(),
    *build_cases(),
    *build_task_cases(),
]


class V2Stage(Stage):
    """alice's ``demo`` with build 1 and her persistent ``keep``, arranged for APIv2
    through APIv2 itself where it can."""

    def arrange(self) -> None:
        alice = self.headers("alice")
        r = self.client.post("/api_2/projects", json=project_body("demo"), headers=alice)
        assert r.status_code == 201 and r.json()["project"]["id"] == DEMO, r.text
        # Persistent projects are made by admins, through APIv3 (1.63 cannot ask for one).
        keep = {"name": "keep", "chroots": [RAWHIDE], "persistent": True}
        r = self.client.post("/api_3/project/add/alice", json=keep, headers=self.headers("admin"))
        assert r.status_code == 200 and r.json()["id"] == KEEP, r.text
        build = {"project_id": DEMO, "srpm_url": URL, "chroots": [], "enable_net": True}
        r = self.client.post("/api_2/builds", json=build, headers=alice)
        assert r.status_code == 201 and r.json()["build"]["id"] == BUILD, r.text

    def leftovers(self) -> list[Path]:
        return sorted((self.directory / "uploads").glob("*/*")) + sorted(
            (self.directory / "uploads").glob(".upload-*")
        )


@pytest.fixture(scope="module")
def _stages() -> Iterator[list[V2Stage]]:
    yield from stages()


@pytest.fixture
def stage(
    _stages: list[V2Stage], _template: str, tmp_path_factory: pytest.TempPathFactory
) -> V2Stage:
    return next_stage(_stages, lambda: V2Stage(_template, tmp_path_factory.mktemp("bad-input-v2")))


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_bad_login_is_tried() -> None:
    tried = {case.id.rsplit("-", 1)[-1] for case in CASES if case.status == 401}
    assert {who.rsplit("-", 1)[-1] for who in BAD_LOGINS} <= tried


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_and_changes_nothing(case: Case, stage: V2Stage) -> None:
    before = snapshot(stage.engine)
    check_refusal(send_case(stage, case), case, "message")
    assert snapshot(stage.engine) == before
    assert stage.leftovers() == []
    stage.dirty = False
