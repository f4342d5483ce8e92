"""Legacy build endpoints: submitting (URLs, upload), detail, status and cancel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.app import create_app
from coprd.config import Settings
from coprd.core import builders
from coprd.db.engine import write_session
from coprd.uploads import MULTIPART_ALLOWANCE, uploads_dir
from tests.conftest import Account, snapshot

X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
URL = "https://example.com/hello-1.0-1.src.rpm"
# An RPM lead: magic, version 3.0, type 1 (source) / 0 (binary).
SRPM_BYTES = b"\xed\xab\xee\xdb\x03\x00\x00\x01" + b"\x00" * 200
RPM_BYTES = b"\xed\xab\xee\xdb\x03\x00\x00\x00" + b"\x00" * 200
NEW_BUILD = "/api/coprs/alice/demo/new_build/"
UPLOAD = "/api/coprs/alice/demo/new_build_upload/"


@pytest.fixture
def demo(client: TestClient, alice: Account) -> str:
    r = client.post(
        "/api/coprs/alice/new/", data={"name": "demo", X86: "y", ARM: "y"}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    return "demo"


def multipart(**fields: str) -> dict[str, tuple[None, str]]:
    """Plain multipart fields, as 1.63's MultipartEncoder sends them."""
    return {name: (None, value) for name, value in fields.items()}


def submit(client: TestClient, who: Account, **fields: str) -> dict[str, object]:
    body = {"pkgs": URL, "memory_reqs": "", "timeout": "", **fields}
    r = client.post(NEW_BUILD, files=multipart(**body), headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def v3_build(client: TestClient, build_id: int) -> dict[str, object]:
    return client.get(f"/api_3/build/{build_id}").json()  # type: ignore[no-any-return]


def test_new_build_as_1_63_sends_it(client: TestClient, alice: Account, demo: str) -> None:
    answer = submit(client, alice)
    assert answer == {
        "output": "ok",
        "message": "Build was added to demo.",
        "ids": [1],
        "id": 1,
    }
    # No chroot selected: every chroot of the project; empty strings: the defaults.
    assert v3_build(client, 1)["chroots"] == [ARM, X86]
    config = client.get("/api_3/build/source-build-config/1").json()
    assert (config["timeout"], config["memory_limit"]) == (5 * 3600, None)


def test_chroots_timeout_and_memory(client: TestClient, alice: Account, demo: str) -> None:
    submit(client, alice, timeout="7200", memory_reqs="2048", **{X86: "y"})
    assert v3_build(client, 1)["chroots"] == [X86]
    config = client.get("/api_3/build/source-build-config/1").json()
    assert (config["timeout"], config["memory_limit"]) == (7200, 2048)


def test_new_build_as_the_last_legacy_clients_send_it(
    client: TestClient, alice: Account, demo: str
) -> None:
    """python-copr 1.x up to 1.109 also sends ``username`` (its own, ignored as Copr
    ignored it) and, for create_new_build(background=True), ``background=y``."""
    submit(client, alice, username="alice", background="y", **{X86: "y"})
    submit(client, alice, username="someone-else", background="")
    assert [v3_build(client, i)["is_background"] for i in (1, 2)] == [True, False]
    assert v3_build(client, 1)["chroots"] == [X86]
    r = client.post(
        UPLOAD,
        files={
            "pkgs": ("hello-1.0-1.src.rpm", SRPM_BYTES, "application/x-rpm"),
            **multipart(username="alice", background="y", memory_reqs="", timeout=""),
        },
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert v3_build(client, r.json()["id"])["is_background"] is True


def test_several_urls_make_several_builds(client: TestClient, alice: Account, demo: str) -> None:
    answer = submit(client, alice, pkgs=f"{URL} https://example.com/other-2-1.src.rpm")
    assert (answer["ids"], answer["id"]) == ([1, 2], 1)
    assert client.get("/api/coprs/build/2/").json()["src_pkg"] == (
        "https://example.com/other-2-1.src.rpm"
    )


def test_new_build_from_form_and_json(client: TestClient, alice: Account, demo: str) -> None:
    r = client.post(NEW_BUILD, data={"pkgs": URL, ARM: "y"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    r = client.post(
        NEW_BUILD, json={"pkgs": [URL], "timeout": 3600, X86: True}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    assert [v3_build(client, i)["chroots"] for i in (1, 2)] == [[ARM], [X86]]


def test_new_build_refusals_change_nothing(
    client: TestClient, alice: Account, bob: Account, demo: str, engine: Engine
) -> None:
    cases = [
        (alice, {"timeout": "abc"}, 400, "timeout: 'abc' is not a whole number"),
        (alice, {"timeout": "108001"}, 400, "timeout: must be a whole number from 0 to"
                                           " 108000"),
        (alice, {"memory_reqs": "-1"}, 400, "memory_reqs: '-1' is not a whole number"),
        (alice, {"memory_reqs": "1"}, 400, "memory_reqs: must be a whole number from 64 to"
                                           " 2147483647"),
        (alice, {"pkgs": ""}, 400, "pkgs: name at least one SRPM URL"),
        (alice, {"pkgs": " ".join([URL] * 101)}, 400, "pkgs: at most 100 items"),
        (alice, {"pkgs": "file:///etc/passwd"}, 400, "pkgs: 'file:///etc/passwd' is not an http,"
                                                     " https or ftp URL"),
        (alice, {"pkgs": f"{URL} /etc/passwd"}, 400, None),
        (alice, {"backgrnd": "y"}, 400, "Unknown arguments passed (non-existing chroot"
                                        " probably): backgrnd"),
        (alice, {"background": "maybe"}, 400, "background: use y to select it (or n)"),
        (alice, {"epel-9-x86_64": "y"}, 400, None),
        (alice, {X86: "maybe"}, 400, None),
        (bob, {}, 403, "user 'bob' may not build in project alice/demo"),
    ]  # fmt: skip
    before = snapshot(engine)
    for who, fields, status, error in cases:
        body = {"pkgs": URL, "memory_reqs": "", "timeout": "", **fields}
        r = client.post(NEW_BUILD, files=multipart(**body), headers=who.headers)
        assert r.status_code == status, (fields, r.text)
        assert r.json()["output"] == "notok"
        if error is not None:
            assert r.json()["error"] == error
    r = client.post("/api/coprs/alice/nope/new_build/", data={"pkgs": URL}, headers=alice.headers)
    assert (r.status_code, r.json()["error"]) == (404, "Project alice/nope does not exist.")
    assert snapshot(engine) == before


def test_upload_builds_the_file(
    client: TestClient, alice: Account, demo: str, settings: Settings
) -> None:
    r = client.post(
        UPLOAD,
        files={
            "memory_reqs": (None, ""),
            "timeout": (None, ""),
            "pkgs": ("hello-1.0-1.src.rpm", SRPM_BYTES, "application/x-rpm"),
            X86: (None, "y"),
        },
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"output": "ok", "message": "Build was added to demo.", "ids": [1], "id": 1}
    # Kept where the build's source task fetches it.
    assert (uploads_dir(settings, 1) / "hello-1.0-1.src.rpm").read_bytes() == SRPM_BYTES
    assert v3_build(client, 1)["chroots"] == [X86]


def test_upload_refusals_leave_nothing(
    client: TestClient, alice: Account, demo: str, settings: Settings, engine: Engine
) -> None:
    before = snapshot(engine)
    cases = [
        ({"pkgs": ("hello-1.0-1.noarch.rpm", RPM_BYTES, "application/x-rpm")}, 400),
        ({"pkgs": ("hello-1.0-1.src.rpm", RPM_BYTES, "application/x-rpm")}, 400),
        ({"pkgs": ("hello-1.0-1.src.rpm", b"not an rpm", "application/x-rpm")}, 400),
        ({"pkgs": (None, URL)}, 400),
        ({"timeout": (None, "")}, 400),
        ({"pkgs": ("h.src.rpm", SRPM_BYTES, "x"), "timeout": (None, "soon")}, 400),
        ({"pkgs": ("h.src.rpm", SRPM_BYTES, "x"), "fedora-1-vax": (None, "y")}, 400),
    ]
    for files, status in cases:
        r = client.post(UPLOAD, files=files, headers=alice.headers)
        assert r.status_code == status, (files, r.text)
        assert r.json()["output"] == "notok" and r.json()["error"]
    r = client.post(UPLOAD, data={"pkgs": "x"}, headers=alice.headers)
    assert (r.status_code, r.json()["error"]) == (
        400,
        "pkgs: the multipart body has no 'pkgs' file part",
    )
    assert snapshot(engine) == before
    assert not (settings.data_dir / "uploads").exists() or not [
        p for p in (settings.data_dir / "uploads").iterdir()
    ]


def test_upload_declared_larger_than_the_limit_is_413(
    client: TestClient, alice: Account, demo: str, settings: Settings, engine: Engine
) -> None:
    before = snapshot(engine)
    declared = settings.max_upload_bytes + MULTIPART_ALLOWANCE + 1
    r = client.post(
        UPLOAD,
        content=b"",
        headers={
            **alice.headers,
            "Content-Length": str(declared),
            "Content-Type": "multipart/form-data; boundary=x",
        },
    )
    assert r.status_code == 413
    assert r.json() == {
        "output": "notok",
        "error": "the upload is larger than this server's limit of "
        f"{settings.max_upload_bytes} bytes",
    }
    assert r.headers["connection"] == "close"
    assert snapshot(engine) == before


def test_upload_over_the_limit_while_streaming(
    client: TestClient, alice: Account, demo: str, settings: Settings, engine: Engine
) -> None:
    small = TestClient(create_app(replace(settings, max_upload_bytes=100), engine))
    before = snapshot(engine)
    r = small.post(
        UPLOAD,
        files={"pkgs": ("hello-1.0-1.src.rpm", SRPM_BYTES, "application/x-rpm")},
        headers=alice.headers,
    )
    assert r.status_code == 413
    assert r.json()["error"] == (
        "pkgs: hello-1.0-1.src.rpm is larger than this server's limit of 100 bytes"
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while it is read
        yield b"--x\r\nContent-Disposition: form-data; name=pkgs; filename=a.src.rpm\r\n\r\n"
        for _ in range(64):
            yield b"\0" * 65536

    r = small.post(
        UPLOAD,
        content=chunks(),
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 413
    assert r.json()["output"] == "notok"
    assert snapshot(engine) == before


def test_detail_and_status_of_a_new_build(client: TestClient, alice: Account, demo: str) -> None:
    submit(client, alice, **{X86: "y"})
    detail = client.get("/api/coprs/build/1/")
    assert detail.status_code == 200
    body = detail.json()
    assert isinstance(body["submitted_on"], int)
    assert body | {"submitted_on": 0} == {
        "output": "ok",
        "id": 1,
        "status": "pending",
        "project": "demo",
        "project_dirname": "demo",
        "owner": "alice",
        "results": "http://coprd.test/results/alice/demo",
        "results_by_chroot": {},
        "built_pkgs": [],
        "src_pkg": URL,
        "src_version": None,
        "chroots": {X86: "pending"},
        "submitted_on": 0,
        "started_on": None,
        "ended_on": None,
        "submitted_by": "alice",
    }
    assert client.get("/api/coprs/build_detail/1/").json() == body
    assert client.get("/api/coprs/build_status/1/").json() == {"output": "ok", "status": "pending"}
    assert v3_build(client, 1)["submitted_on"] == body["submitted_on"]
    missing = client.get("/api/coprs/build/999/")
    assert missing.status_code == 404
    assert missing.json() == {"output": "notok", "error": "Build 999 does not exist."}


def test_detail_of_a_finished_build(
    client: TestClient,
    alice: Account,
    demo: str,
    session_factory: sessionmaker[Session],
) -> None:
    submit(client, alice, **{X86: "y"})
    with write_session(session_factory) as db:
        _, token = builders.create_builder(db, "agent1")
    auth = {"Authorization": f"Bearer {token}"}
    source = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()
    client.post(
        f"/backend/task/{source['task_id']}/finish",
        json={
            "state": "succeeded",
            "source": {"name": "hello", "version": "1.0-1", "srpm_name": "hello-1.0-1.src.rpm"},
        },
        headers=auth,
    )
    rpm = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()
    package = {"name": "hello", "epoch": None, "version": "1.0", "release": "1", "arch": "noarch"}
    done = client.post(
        f"/backend/task/{rpm['task_id']}/finish",
        json={"state": "succeeded", "packages": [package, {**package, "name": "hello-doc"}]},
        headers=auth,
    )
    assert done.json() == {"build_state": "succeeded"}

    body = client.get("/api/coprs/build/1/").json()
    assert body["status"] == "succeeded"
    assert body["chroots"] == {X86: "succeeded"}
    assert body["built_pkgs"] == ["hello 1.0", "hello-doc 1.0"]
    assert body["src_version"] == "1.0-1"
    assert body["results_by_chroot"] == {
        X86: f"http://coprd.test/results/alice/demo/{X86}/00000001-hello/"
    }
    assert body["submitted_on"] <= body["started_on"] <= body["ended_on"]
    v3 = v3_build(client, 1)
    assert (v3["started_on"], v3["ended_on"]) == (body["started_on"], body["ended_on"])
    modified = client.get("/api/coprs/alice/demo/detail/").json()["detail"]["last_modified"]
    assert modified == body["ended_on"]


def test_cancel(client: TestClient, alice: Account, bob: Account, demo: str) -> None:
    submit(client, alice)
    r = client.post("/api/coprs/cancel_build/1/", headers=bob.headers)
    assert (r.status_code, r.json()["error"]) == (
        403,
        "user 'bob' may not build in project alice/demo",
    )
    r = client.post("/api/coprs/cancel_build/1/")
    assert r.status_code == 401
    # 1.63 sends an empty POST, without a Content-Type.
    r = client.post("/api/coprs/cancel_build/1/", headers=alice.headers)
    assert r.status_code == 200
    assert r.json() == {"output": "ok", "status": "Build canceled"}
    assert client.get("/api/coprs/build_status/1/").json()["status"] == "canceled"
    assert v3_build(client, 1)["state"] == "canceled"
    # An ended build is refused as Copr's legacy API refused it.
    again = client.post("/api/coprs/cancel_build/1/", headers=alice.headers)
    assert again.status_code == 409
    assert again.json() == {"output": "notok", "error": "Cannot cancel build 1"}
    # Who may not build hears that first.
    assert client.post("/api/coprs/cancel_build/1/", headers=bob.headers).status_code == 403
    assert client.post("/api/coprs/cancel_build/99/", headers=alice.headers).status_code == 404
