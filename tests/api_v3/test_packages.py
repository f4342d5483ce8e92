"""APIv3 package and webhook-secret endpoints: the translation of python-copr's calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from coprd.db.engine import write_session
from coprd.db.models import SOURCE_TASK_CHROOT, Build, BuildState, BuildTask, Package, Project
from tests.api_v3.conftest import ARM, X86
from tests.conftest import Account, snapshot

SCM = {
    "package_name": "hello",
    "clone_url": "https://git.example.org/alice/hello.git",
    "committish": "",
    "subdirectory": "",
    "spec": "",
    "scm_type": "git",
    "source_build_method": "rpkg",
    "max_builds": None,
    "timeout": "3600",
    "chroot_denylist": None,
    "webhook_rebuild": None,
}
Q = {"ownername": "alice", "projectname": "demo"}


def add(
    client: TestClient, who: Account, name: str = "hello", kind: str = "scm", **data: Any
) -> Any:
    """``package/add`` as python-copr sends it: path values repeated in the query string."""
    body = {**SCM, "package_name": name} if kind == "scm" else {"package_name": name}
    return client.post(
        f"/api_3/package/add/alice/demo/{name}/{kind}",
        params={**Q, "package_name": name, "source_type_text": kind},
        json={**body, **data},
        headers=who.headers,
    )


def get(client: TestClient, name: str = "hello", **flags: str) -> Any:
    params = {
        **Q,
        "packagename": name,
        "with_latest_build": "False",
        "with_latest_succeeded_build": "False",
        **flags,
    }
    return client.get("/api_3/package", params=params)


def test_add_get_and_the_package_object(client: TestClient, alice: Account, demo: str) -> None:
    r = add(client, alice, webhook_rebuild=True, chroot_denylist="*-aarch64")
    assert r.status_code == 200, r.text
    package = get(client).json()
    assert package == {
        "id": package["id"],
        "name": "hello",
        "ownername": "alice",
        "projectname": "demo",
        "source_type": "scm",
        "source_dict": {
            "clone_url": "https://git.example.org/alice/hello.git",
            "committish": "",
            "subdirectory": "",
            "spec": "",
            "type": "git",
            "source_build_method": "rpkg",
        },
        "auto_rebuild": True,
        "rebuild_dependents": False,
        "builds": {"latest": None, "latest_succeeded": None},
    }
    assert r.json() == package
    assert add(client, alice).status_code == 409
    assert get(client, "nope").status_code == 404


def test_edit_with_and_without_a_type(client: TestClient, alice: Account, demo: str) -> None:
    add(client, alice)
    # copr-cli's edit-package-* always names the type; python-copr may send None.
    r = client.post(
        "/api_3/package/edit/alice/demo/hello/None",
        params={**Q, "package_name": "hello"},
        json={"package_name": "hello", "committish": "devel", "webhook_rebuild": True},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["source_dict"]["committish"] == "devel"
    assert r.json()["source_dict"]["clone_url"] == SCM["clone_url"]
    assert r.json()["auto_rebuild"] is True
    r = client.post(
        "/api_3/package/edit/alice/demo/hello/pypi",
        json={"package_name": "hello", "pypi_package_name": "hello", "python_versions": None},
        headers=alice.headers,
    )
    assert r.json()["source_type"] == "pypi"
    assert r.json()["source_dict"]["python_versions"] == ["3"]
    r = client.post(
        "/api_3/package/edit/alice/demo/hello",
        json={"spec_template": "fedora"},
        headers=alice.headers,
    )
    assert (r.json()["source_type"], r.json()["source_dict"]["spec_template"]) == (
        "pypi",
        "fedora",
    )
    missing = client.post(
        "/api_3/package/edit/alice/demo/nope/scm", json=SCM, headers=alice.headers
    )
    assert missing.status_code == 404


def test_null_is_not_given_and_the_path_names_the_package(
    client: TestClient, alice: Account, demo: str
) -> None:
    # python-copr repeats the package's name in the body; the path's is the one used.
    r = add(client, alice, "hello", package_name="other")
    assert (r.status_code, r.json()["name"]) == (200, "hello")
    r = client.post(
        "/api_3/package/edit/alice/demo/hello/scm",
        json={"package_name": "other", "clone_url": None, "committish": "devel"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "hello"
    assert r.json()["source_dict"]["clone_url"] == SCM["clone_url"]
    assert r.json()["source_dict"]["committish"] == "devel"
    # A distgit package is the path's package in the dist-git.
    r = client.post(
        "/api_3/package/add/alice/demo/tool/distgit",
        json={"package_name": "tool", "committish": "f41"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["source_dict"]["package_name"] == "tool"
    # Another type needs what that type needs.
    r = client.post(
        "/api_3/package/edit/alice/demo/tool/scm", json={"committish": "x"}, headers=alice.headers
    )
    assert r.status_code == 400 and r.json()["error"].startswith("clone_url: is required")


def test_list_reset_build_and_delete(client: TestClient, alice: Account, demo: str) -> None:
    for name in ("a", "b", "c"):
        assert add(client, alice, name).status_code == 200
    page = client.get(
        "/api_3/package/list",
        params={**Q, "with_latest_build": "False", "limit": "2", "offset": "1"},
    ).json()
    assert [p["name"] for p in page["items"]] == ["b", "c"]
    assert page["meta"] == {"limit": 2, "offset": 1, "order": "id", "order_type": "ASC"}
    assert all(p["builds"] == {"latest": None, "latest_succeeded": None} for p in page["items"])

    target = {**Q, "package_name": "a"}
    build = client.post(
        "/api_3/package/build",
        json={
            **target,
            "project_dirname": "demo",
            "chroots": None,
            "timeout": None,
            "background": False,
            "isolation": "unchanged",
            "progress_callback": None,
        },
        headers=alice.headers,
    )
    assert build.status_code == 200, build.text
    assert build.json()["source_package"]["name"] == "a"
    assert build.json()["chroots"] == [ARM, X86]
    config = client.get(f"/api_3/build/source-build-config/{build.json()['id']}").json()
    assert config["source_type"] == "scm" and config["timeout"] == 3600
    listed = client.get(
        "/api_3/package/list",
        params={**Q, "with_latest_build": "True", "with_latest_succeeded_build": "True"},
    ).json()
    latest = listed["items"][0]["builds"]
    assert latest["latest"]["id"] == build.json()["id"] and latest["latest_succeeded"] is None
    builds_of_a = client.get("/api_3/build/list", params={**Q, "packagename": "a"}).json()
    assert [b["id"] for b in builds_of_a["items"]] == [build.json()["id"]]

    reset = client.put("/api_3/package/reset", json=target, headers=alice.headers)
    assert (reset.json()["source_type"], reset.json()["source_dict"]) == ("unset", {})
    again = client.post("/api_3/package/build", json=target, headers=alice.headers)
    assert again.status_code == 400 and "no default source" in again.json()["error"]

    still_pending = client.request(
        "DELETE", "/api_3/package/delete", json=target, headers=alice.headers
    )
    assert still_pending.status_code == 400
    client.put(f"/api_3/build/cancel/{build.json()['id']}", headers=alice.headers)
    deleted = client.request("DELETE", "/api_3/package/delete", json=target, headers=alice.headers)
    assert deleted.status_code == 200 and deleted.json()["name"] == "a"
    assert get(client, "a").status_code == 404
    assert client.get(f"/api_3/build/{build.json()['id']}").status_code == 404


def test_others_may_read_but_not_change(
    client: TestClient, alice: Account, bob: Account, demo: str, engine: Engine
) -> None:
    add(client, alice)
    before = snapshot(engine)
    assert add(client, bob, "other").status_code == 403
    assert get(client).status_code == 200  # anonymous
    target = {**Q, "package_name": "hello"}
    assert client.put("/api_3/package/reset", json=target, headers=bob.headers).status_code == 403
    assert client.post("/api_3/package/build", json=target, headers=bob.headers).status_code == 403
    assert client.put("/api_3/package/reset", json=target).status_code == 401
    generate = "/api_3/webhook/generate/alice/demo"
    assert client.post(generate, headers=bob.headers).status_code == 403
    assert snapshot(engine) == before


def test_webhook_secret(client: TestClient, alice: Account, demo: str) -> None:
    r = client.post("/api_3/webhook/generate/alice/demo", params=Q, headers=alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "name", "ownername", "full_name", "webhook_secret"}
    assert (body["name"], body["ownername"], body["full_name"]) == ("demo", "alice", "alice/demo")
    second = client.post("/api_3/webhook/generate/alice/demo", headers=alice.headers).json()
    assert second["webhook_secret"] != body["webhook_secret"]


def test_resubmit(client: TestClient, alice: Account, bob: Account, demo: str) -> None:
    url = {**Q, "pkgs": ["https://e.com/x-1-1.src.rpm"], "chroots": [X86], "timeout": "900"}
    first = client.post("/api_3/build/create/url", json=url, headers=alice.headers).json()
    first_id = first["items"][0]["id"]
    again = client.post(f"/api_3/build/resubmit/{first_id}", headers=alice.headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] != first_id and again.json()["chroots"] == [X86]
    config = client.get(f"/api_3/build/source-build-config/{again.json()['id']}").json()
    assert config["source_dict"] == {"url": "https://e.com/x-1-1.src.rpm"}
    assert config["timeout"] == 900
    changed = client.post(
        f"/api_3/build/resubmit/{first_id}",
        json={"chroots": [ARM], "background": True},
        headers=alice.headers,
    ).json()
    assert (changed["chroots"], changed["is_background"]) == ([ARM], True)
    assert client.post(f"/api_3/build/resubmit/{first_id}", headers=bob.headers).status_code == 403
    assert client.post("/api_3/build/resubmit/999999", headers=alice.headers).status_code == 404


# --- no N+1 ----------------------------------------------------------------------------


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def fill(factory: sessionmaker[Session], first: int, n: int) -> None:
    """Packages ``first`` .. ``first + n - 1``, each with a succeeded and a newer failed
    build (each with a source and a chroot task), inserted in bulk."""
    with write_session(factory) as session:
        project = session.scalars(select(Project)).one()
        user_id = project.user_id
        now = dt.datetime(2026, 1, 1)
        ids = session.scalars(
            insert(Package).returning(Package.id, sort_by_parameter_order=True),
            [
                {
                    "project_id": project.id,
                    "name": f"pkg{i:05d}",
                    "source_type": "scm",
                    "source_json": {"clone_url": f"https://git.example.org/p{i}", "committish": ""},
                    "webhook_rebuild": False,
                    "chroot_denylist": [],
                    "created_on": now,
                }
                for i in range(first, first + n)
            ],
        ).all()
        rows = []
        for package_id in ids:
            for state in (BuildState.succeeded, BuildState.failed):
                rows.append(
                    {
                        "project_id": project.id,
                        "submitter_id": user_id,
                        "state": state,
                        "source_type": "scm",
                        "source_json": {},
                        "pkg_name": f"pkg{package_id}",
                        "pkg_version": "1.0-1",
                        "srpm_name": f"pkg{package_id}-1.0-1.src.rpm",
                        "project_dirname": project.name,
                        "is_background": False,
                        "timeout": 3600,
                        "enable_net": False,
                        "package_id": package_id,
                        "submitted_on": now,
                    }
                )
        build_ids = session.scalars(
            insert(Build).returning(Build.id, sort_by_parameter_order=True), rows
        ).all()
        session.execute(
            insert(BuildTask),
            [
                {
                    "build_id": build_id,
                    "chroot_name": chroot,
                    "owner_name": "alice",
                    "state": BuildState.succeeded,
                    "priority": 0,
                    "attempts": 1,
                    "cancel_requested": False,
                    "message": "",
                    "built_packages": [],
                }
                for build_id in build_ids
                for chroot in (SOURCE_TASK_CHROOT, X86)
            ],
        )


def test_a_page_of_2000_packages_with_latest_builds_is_a_constant_number_of_queries(
    client: TestClient, alice: Account, demo: str, engine: Engine, session_factory: Any
) -> None:
    params = {
        **Q,
        "with_latest_build": "True",
        "with_latest_succeeded_build": "True",
        "limit": "5000",
    }
    fill(session_factory, 0, 3)
    with counting(engine) as few:
        small = client.get("/api_3/package/list", params=params)
    assert small.status_code == 200 and len(small.json()["items"]) == 3
    fill(session_factory, 3, 1997)
    with counting(engine) as many:
        r = client.get("/api_3/package/list", params=params)
    items = r.json()["items"]
    assert len(items) == 2000
    assert len(many) == len(few), "\n".join(m[:150] for m in many)
    assert len(many) <= 8, many
    first = items[0]["builds"]
    assert first["latest"]["state"] == "failed"
    assert first["latest_succeeded"]["state"] == "succeeded"
    assert first["latest"]["chroots"] == [X86] and first["latest"]["submitter"] == "alice"
    assert first["latest"]["id"] == first["latest_succeeded"]["id"] + 1


def test_rebuild_all_and_rebuild_dependents(
    client: TestClient, alice: Account, bob: Account, demo: str, engine: Engine
) -> None:
    add(client, alice, "libfoo")
    add(client, alice, "app", rebuild_dependents=True)
    assert get(client, "app").json()["rebuild_dependents"] is True
    assert get(client, "libfoo").json()["rebuild_dependents"] is False

    before = snapshot(engine)
    for body, status, words in (
        # What the project holds decides (409); the request's shape, 400.
        ({**Q, "packages": ["nope*"]}, 409, "nope* matches no package of alice/demo"),
        ({**Q, "packages": ["../x"]}, 400, "is not a package name or glob pattern"),
        ({**Q, "packages": "libfoo"}, 400, "packages"),
    ):
        r = client.post("/api_3/package/rebuild-all", json=body, headers=alice.headers)
        assert r.status_code == status and words in r.json()["error"], r.text
    r = client.post("/api_3/package/rebuild-all", json=Q, headers=bob.headers)
    assert r.status_code == 403
    assert client.post("/api_3/package/rebuild-all", json=Q).status_code == 401
    assert snapshot(engine) == before

    r = client.post("/api_3/package/rebuild-all", json=Q, headers=alice.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [b["source_package"]["name"] for b in items] == ["libfoo", "app"]
    assert all(b["is_background"] and b["wait_reason"] is None for b in items)
    assert r.json()["skipped"] == []
    one = client.post(
        "/api_3/package/rebuild-all", json={**Q, "packages": ["lib*"]}, headers=alice.headers
    )
    assert [b["source_package"]["name"] for b in one.json()["items"]] == ["libfoo"]
    build = client.get(f"/api_3/build/{items[0]['id']}").json()
    assert build["wait_reason"] is None and build["order_note"] is None
