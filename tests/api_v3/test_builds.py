"""APIv3 build endpoints: the translation of python-copr's calls into core calls."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from coprd.app import create_app
from coprd.config import Settings
from coprd.db.models import BuildTask
from tests.api_v3.conftest import ARM, X86
from tests.conftest import Account, snapshot

# An RPM lead: magic, version 3.0, type 1 (source) / 0 (binary). Enough for the upload
# check; real packages are built in the integration tests.
SRPM_BYTES = b"\xed\xab\xee\xdb\x03\x00\x00\x01" + b"\x00" * 200
RPM_BYTES = b"\xed\xab\xee\xdb\x03\x00\x00\x00" + b"\x00" * 200


def upload(client: TestClient, who: Account, data: bytes, name: str, **opts: object):
    body = {"ownername": "alice", "projectname": "demo", "project_dirname": "demo", **opts}
    return client.post(
        "/api_3/build/create/upload",
        files={
            "pkgs": (name, data, "application/x-rpm"),
            "json": ("json", json.dumps(body).encode(), "application/json"),
        },
        headers=who.headers,
    )


def test_create_from_urls_answers_a_list(client: TestClient, alice: Account, demo: str) -> None:
    r = client.post(
        "/api_3/build/create/url",
        json={
            "ownername": "alice",
            "projectname": "demo",
            "project_dirname": "demo",
            "pkgs": ["https://example.com/a-1-1.src.rpm", "https://example.com/b-1-1.src.rpm"],
            "chroots": ["*-x86_64"],
            "timeout": "3600",
            "background": False,
            "isolation": "unchanged",
        },
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"] == {}
    assert [b["state"] for b in body["items"]] == ["pending", "pending"]
    assert body["items"][0]["chroots"] == [X86]
    assert body["items"][0]["submitter"] == "alice"
    assert body["items"][0]["repo_url"] == "http://coprd.test/results/alice/demo"
    source = client.get(f"/api_3/build/source-build-config/{body['items'][0]['id']}").json()
    assert source["source_dict"] == {"url": "https://example.com/a-1-1.src.rpm"}
    assert source["timeout"] == 3600


def test_upload_keeps_the_srpm_for_the_source_task(
    client: TestClient, alice: Account, demo: str, settings: Settings
) -> None:
    r = upload(client, alice, SRPM_BYTES, "hello-1.0-1.src.rpm")
    assert r.status_code == 200, r.text
    build = r.json()
    assert build["chroots"] == [ARM, X86]
    kept = settings.data_dir / "uploads" / f"{build['id']:08d}" / "hello-1.0-1.src.rpm"
    assert kept.read_bytes() == SRPM_BYTES


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"just text", "hello-1.0-1.src.rpm", "not an RPM"),
        (SRPM_BYTES[:5], "hello-1.0-1.src.rpm", "not an RPM"),
        (RPM_BYTES, "hello-1.0-1.src.rpm", "not a source RPM"),
        (SRPM_BYTES, "hello.tar.gz", "not named like"),
    ],
)
def test_bad_uploads_are_refused(
    client: TestClient,
    alice: Account,
    demo: str,
    engine: Engine,
    settings: Settings,
    data: bytes,
    name: str,
    message: str | None,
) -> None:
    before = snapshot(engine)
    r = upload(client, alice, data, name)
    assert r.status_code == 400, r.text
    if message:
        assert message in r.json()["error"]
    assert snapshot(engine) == before
    assert not any((settings.data_dir / "uploads").glob("*/*"))


def test_directories_in_upload_names_are_dropped(
    client: TestClient, alice: Account, demo: str, settings: Settings
) -> None:
    build = upload(client, alice, SRPM_BYTES, "../../etc/x-1-1.src.rpm").json()
    kept = settings.data_dir / "uploads" / f"{build['id']:08d}"
    assert [p.name for p in kept.iterdir()] == ["x-1-1.src.rpm"]
    assert not (settings.data_dir / "etc").exists()


def test_upload_over_the_limit(
    settings: Settings, engine: Engine, alice: Account, demo: str, client: TestClient
) -> None:
    small = TestClient(create_app(replace(settings, max_upload_bytes=100), engine))
    before = snapshot(engine)
    r = upload(small, alice, SRPM_BYTES, "hello-1.0-1.src.rpm")
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert r.headers["connection"] == "close"  # the client may still be sending
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"pkgs": ["file:///etc/passwd"]}, 400),
        ({"pkgs": []}, 400),
        ({"pkgs": "https://example.com/x.src.rpm"}, 400),
        ({"pkgs": ["https://example.com/x.src.rpm"], "chroots": ["fedora-1-*"]}, 400),
        ({"pkgs": ["https://example.com/x.src.rpm"], "timeout": "soon"}, 400),
        ({"pkgs": ["https://example.com/x.src.rpm"], "after_build_id": 999}, 400),
        # Past the databases' integer: PostgreSQL cannot compare it with an id (it was a 500).
        ({"pkgs": ["https://example.com/x.src.rpm"], "with_build_id": 2**62}, 400),
        ({"pkgs": ["https://example.com/x.src.rpm"], "after_build_id": 2**31}, 400),
        # A JSON boolean is not a number of seconds (pydantic's lax int read true as 1).
        ({"pkgs": ["https://example.com/x.src.rpm"], "timeout": True}, 400),
        # Past the databases' integer: stored, it was a 500 on PostgreSQL.
        ({"pkgs": ["https://example.com/x.src.rpm"], "memory": 2**40}, 400),
        ({"pkgs": ["https://example.com/x.src.rpm"], "projectname": "nope"}, 404),
    ],
)
def test_bad_url_builds_change_nothing(
    client: TestClient,
    alice: Account,
    demo: str,
    engine: Engine,
    body: dict[str, object],
    status: int,
) -> None:
    before = snapshot(engine)
    full = {"ownername": "alice", "projectname": "demo", **body}
    r = client.post("/api_3/build/create/url", json=full, headers=alice.headers)
    assert r.status_code == status, r.text
    assert "error" in r.json()
    assert snapshot(engine) == before


def test_others_may_not_build_or_cancel(
    client: TestClient, alice: Account, bob: Account, demo: str, engine: Engine
) -> None:
    url = {"ownername": "alice", "projectname": "demo", "pkgs": ["https://e.com/x.src.rpm"]}
    build_id = client.post("/api_3/build/create/url", json=url, headers=alice.headers).json()[
        "items"
    ][0]["id"]
    before = snapshot(engine)
    assert client.post("/api_3/build/create/url", json=url, headers=bob.headers).status_code == 403
    assert upload(client, bob, SRPM_BYTES, "x-1-1.src.rpm").status_code == 403
    assert client.put(f"/api_3/build/cancel/{build_id}", headers=bob.headers).status_code == 403
    assert client.put(f"/api_3/build/cancel/{build_id}").status_code == 401
    assert snapshot(engine) == before


def test_list_cancel_delete(client: TestClient, alice: Account, demo: str) -> None:
    url = {"ownername": "alice", "projectname": "demo", "pkgs": ["https://e.com/x.src.rpm"]}
    ids = [
        client.post("/api_3/build/create/url", json=url, headers=alice.headers).json()["items"][0][
            "id"
        ]
        for _ in range(3)
    ]
    canceled = client.put(f"/api_3/build/cancel/{ids[0]}", headers=alice.headers).json()
    assert canceled["state"] == "canceled"
    # As on Copr: an ended build cannot be canceled, a conflict (409), not bad input.
    again = client.put(f"/api_3/build/cancel/{ids[0]}", headers=alice.headers)
    assert again.status_code == 409
    assert again.json()["error"].startswith(f"Cannot cancel build {ids[0]}")
    query = {"ownername": "alice", "projectname": "demo"}
    listed = client.get("/api_3/build/list", params={**query, "status": "pending"}).json()
    assert sorted(b["id"] for b in listed["items"]) == ids[1:]
    page = client.get("/api_3/build/list", params={**query, "limit": 2, "offset": 2}).json()
    assert len(page["items"]) == 1 and page["meta"]["limit"] == 2
    refused = client.request(
        "DELETE", "/api_3/build/delete/list", json={"builds": ids[:2]}, headers=alice.headers
    )
    assert refused.status_code == 400  # ids[1] still pending: all or nothing
    assert client.get(f"/api_3/build/{ids[0]}").status_code == 200
    deleted = client.request(
        "DELETE", "/api_3/build/delete/list", json={"builds": [ids[0]]}, headers=alice.headers
    )
    assert deleted.json() == {"builds": [ids[0]]}
    assert client.get(f"/api_3/build/{ids[0]}").status_code == 404


def test_build_chroots(client: TestClient, alice: Account, demo: str) -> None:
    url = {"ownername": "alice", "projectname": "demo", "pkgs": ["https://e.com/x.src.rpm"]}
    build_id = client.post("/api_3/build/create/url", json=url, headers=alice.headers).json()[
        "items"
    ][0]["id"]
    chroots = client.get("/api_3/build-chroot/list", params={"build_id": build_id}).json()
    assert [c["name"] for c in chroots["items"]] == [ARM, X86]
    assert chroots["items"][0]["result_url"] is None  # no package name before the SRPM
    one = client.get("/api_3/build-chroot", params={"build_id": build_id, "chrootname": X86})
    assert one.json()["state"] == "pending"
    config = client.get(
        "/api_3/build-chroot/build-config", params={"build_id": build_id, "chrootname": X86}
    ).json()
    assert config["chroot"] == X86
    missing = client.get("/api_3/build-chroot", params={"build_id": build_id, "chrootname": "x"})
    assert missing.status_code == 404
    assert client.get(f"/api_3/build/source-chroot/{build_id}").json()["name"] == "srpm-builds"
    assert client.get(f"/api_3/build/built-packages/{build_id}").json() == {
        ARM: {"packages": []},
        X86: {"packages": []},
    }


def test_check_before_build(client: TestClient, alice: Account, bob: Account, demo: str) -> None:
    body = {"ownername": "alice", "projectname": "demo", "chroots": [X86]}
    ok = client.post("/api_3/build/check-before-build", json=body, headers=alice.headers)
    assert ok.status_code == 200 and "safe" in ok.json()["message"]
    assert (
        client.post("/api_3/build/check-before-build", json=body, headers=bob.headers).status_code
        == 403
    )


def test_builds_from_each_source_type(client: TestClient, alice: Account, demo: str) -> None:
    target = {"ownername": "alice", "projectname": "demo", "chroots": [X86]}
    sent = {
        "scm": {
            "clone_url": "https://git.example.org/hello.git",
            "committish": "main",
            "subdirectory": "",
            "spec": "",
            "scm_type": "git",
            "source_build_method": "rpkg",
        },
        "pypi": {"pypi_package_name": "hello", "python_versions": [3, 2]},
        "rubygems": {"gem_name": "hello"},
        "custom": {"script": "#!/bin/sh\necho\n", "chroot": X86, "builddeps": None},
        "distgit": {"package_name": "hello", "distgit": None, "namespace": None},
    }
    for source_type, fields in sent.items():
        r = client.post(
            f"/api_3/build/create/{source_type}", json={**target, **fields}, headers=alice.headers
        )
        assert r.status_code == 200, (source_type, r.text)
        assert r.json()["chroots"] == [X86]
        config = client.get(f"/api_3/build/source-build-config/{r.json()['id']}").json()
        assert config["source_type"] == source_type
    assert config["source_dict"]["clone_url"] == "https://src.fedoraproject.org/rpms/hello.git"


@pytest.mark.parametrize(
    ("source_type", "fields", "message"),
    [
        ("scm", {"clone_url": "file:///srv/git/hello"}, "clone_url"),
        ("scm", {"clone_url": "https://x.org/a", "committish": "-b"}, "committish"),
        ("scm", {"clone_url": "https://x.org/a", "subdirectory": "../.."}, "subdirectory"),
        ("pypi", {"pypi_package_name": ""}, "pypi_package_name"),
        ("rubygems", {}, "gem_name"),
        ("custom", {"script": ""}, "script"),
        ("distgit", {"package_name": "x", "distgit": "nowhere"}, "dist-git"),
        ("scm", {"clone_url": "https://x.org/a", "chroots": "x86"}, "chroots"),
    ],
)
def test_bad_source_builds_are_refused_and_change_nothing(
    client: TestClient,
    engine: Engine,
    alice: Account,
    demo: str,
    source_type: str,
    fields: dict[str, object],
    message: str,
) -> None:
    before = snapshot(engine)
    r = client.post(
        f"/api_3/build/create/{source_type}",
        json={"ownername": "alice", "projectname": "demo", **fields},
        headers=alice.headers,
    )
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]
    assert snapshot(engine) == before


def test_source_builds_need_rights(client: TestClient, bob: Account, demo: str) -> None:
    r = client.post(
        "/api_3/build/create/rubygems",
        json={"ownername": "alice", "projectname": "demo", "gem_name": "x"},
        headers=bob.headers,
    )
    assert r.status_code == 403
    r = client.post(
        "/api_3/build/create/rubygems",
        json={"ownername": "alice", "projectname": "nope", "gem_name": "x"},
        headers=bob.headers,
    )
    assert r.status_code == 404


def test_build_config_is_what_the_build_was_submitted_with(
    client: TestClient, alice: Account, demo: str
) -> None:
    edit = {
        "additional_packages": "gcc make",
        "additional_repos": "https://example.org/$chroot/",
        "additional_modules": "nodejs:20,!perl",
        "with_opts": "tests",
        "without_opts": "docs",
        "bootstrap": "off",
        "isolation": "simple",
    }
    url = f"/api_3/project-chroot/edit/alice/demo/{X86}"
    put = client.put(url, files={"json": (None, json.dumps(edit))}, headers=alice.headers)
    assert put.status_code == 200, put.text
    r = client.post(
        "/api_3/build/create/url",
        json={
            "ownername": "alice",
            "projectname": "demo",
            "pkgs": ["https://e.com/x-1-1.src.rpm"],
            "chroots": [X86],
            "timeout": "3600",
            "memory": 4096,
            "background": True,
            "enable_net": True,
            "bootstrap": "on",
            "isolation": "unchanged",
        },
        headers=alice.headers,
    )
    build_id = r.json()["items"][0]["id"]
    query = {"build_id": build_id, "chrootname": X86}
    before = client.get("/api_3/build-chroot/build-config", params=query).json()
    assert before["timeout"] == 3600 and before["memory_limit"] == 4096
    assert before["enable_net"] is True and before["is_background"] is True
    assert (before["bootstrap"], before["isolation"]) == ("on", "simple")
    assert before["additional_packages"] == ["gcc", "make"]
    assert before["additional_modules"] == ["nodejs:20", "!perl"]
    assert (before["with_opts"], before["without_opts"]) == (["tests"], ["docs"])
    assert [repo["baseurl"] for repo in before["repos"]][1:] == [f"https://example.org/{X86}/"]

    changed = {
        "additional_packages": "rust",
        "additional_repos": "https://example.net/",
        "additional_modules": "",
        "with_opts": "other",
        "isolation": "nspawn",
    }
    client.put(url, files={"json": (None, json.dumps(changed))}, headers=alice.headers)
    project = {"description": "x", "enable_net": False, "repo_priority": 3}
    assert (
        client.put("/api_3/project/edit/alice/demo", json=project, headers=alice.headers)
    ).status_code == 200
    after = client.get("/api_3/build-chroot/build-config", params=query).json()
    assert after == before
    # The path form upstream still serves answers the same.
    assert client.get(f"/api_3/build-chroot/build-config/{build_id}/{X86}").json() == before
    # The project chroot's config is the current one.
    now = client.get(
        "/api_3/project-chroot/build-config",
        params={"ownername": "alice", "projectname": "demo", "chrootname": X86},
    ).json()
    assert now["additional_packages"] == ["rust"] and now["isolation"] == "nspawn"
    assert now["repos"][0]["priority"] == 3
    assert "memory_limit" not in now and "is_background" not in now


def test_a_chroots_timeout_applies_unless_the_build_names_one(
    client: TestClient, alice: Account, demo: str
) -> None:
    url = f"/api_3/project-chroot/edit/alice/demo/{X86}"
    client.put(url, files={"json": (None, json.dumps({"timeout": 900}))}, headers=alice.headers)
    timeouts = []
    for given in (None, "7200"):
        body = {"ownername": "alice", "projectname": "demo", "pkgs": ["https://e.com/x.src.rpm"]}
        r = client.post(
            "/api_3/build/create/url", json={**body, "timeout": given}, headers=alice.headers
        )
        build_id = r.json()["items"][0]["id"]
        timeouts.append(
            [
                client.get(
                    "/api_3/build-chroot/build-config",
                    params={"build_id": build_id, "chrootname": chroot},
                ).json()["timeout"]
                for chroot in (X86, ARM)
            ]
        )
    assert timeouts == [[900, 5 * 3600], [7200, 7200]]


def test_a_task_from_before_tasks_kept_their_settings_reads_the_chroots(
    client: TestClient, alice: Account, demo: str, engine: Engine
) -> None:
    body = {"ownername": "alice", "projectname": "demo", "pkgs": ["https://e.com/x.src.rpm"]}
    r = client.post("/api_3/build/create/url", json=body, headers=alice.headers)
    build_id = r.json()["items"][0]["id"]
    with engine.begin() as conn:  # as migration 0008 leaves the tasks of older builds
        conn.execute(update(BuildTask).where(BuildTask.build_id == build_id).values(config=None))
    edit = {"with_opts": "late"}
    url = f"/api_3/project-chroot/edit/alice/demo/{X86}"
    client.put(url, files={"json": (None, json.dumps(edit))}, headers=alice.headers)
    query = {"build_id": build_id, "chrootname": X86}
    config = client.get("/api_3/build-chroot/build-config", params=query).json()
    assert config["with_opts"] == ["late"] and config["timeout"] == 5 * 3600
    # Its chroot disabled since: there is nothing to read.
    client.put("/api_3/project/edit/alice/demo", json={"chroots": [ARM]}, headers=alice.headers)
    gone = client.get("/api_3/build-chroot/build-config", params=query)
    assert gone.status_code == 404
