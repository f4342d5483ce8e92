"""``project/regenerate-repos`` and ``project/permissions/can_build_in``, as Copr answers them."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from coprd.config import Settings
from tests.conftest import Account, MakeAccount, snapshot
from tests.publish.conftest import Rpms, place_build, primary
from tests.publish.conftest import rpms as rpms  # the fixture: real RPMs from rpmbuild

RAWHIDE = "fedora-rawhide-x86_64"
EPEL9 = "epel-9-x86_64"
REGENERATE = "/api_3/project/regenerate-repos/alice/demo"


def add(client: TestClient, who: Account, **fields: object) -> None:
    body = {"name": "demo", "chroots": [RAWHIDE, EPEL9], **fields}
    r = client.post(f"/api_3/project/add/{who.name}", json=body, headers=who.headers)
    assert r.status_code == 200, r.text


def names(repo: Path) -> list[str]:
    return sorted(name for name, _arch, _href in primary(repo))


def test_regenerate_repos_publishes_what_devel_mode_held_back(
    client: TestClient, alice: Account, settings: Settings, rpms: Rpms
) -> None:
    add(client, alice, devel_mode=True)
    project_dir = settings.results_dir / "alice" / "demo"
    for chroot in (RAWHIDE, EPEL9):
        place_build(project_dir / chroot, 1, "hello", rpms.hello)
    assert names(project_dir / RAWHIDE) == []

    r = client.put(REGENERATE, headers=alice.headers)

    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "alice/demo" and r.json()["devel_mode"] is True
    for chroot in (RAWHIDE, EPEL9):
        assert names(project_dir / chroot) == ["hello"]
        assert names(project_dir / chroot / "devel") == ["hello"]
    # copr-cli before 2.0 sent POST; upstream still answers it.
    assert client.post(REGENERATE, headers=alice.headers).status_code == 200


def test_regenerate_repos_is_for_those_who_may_edit(
    client: TestClient,
    alice: Account,
    bob: Account,
    make_account: MakeAccount,
    engine: Engine,
) -> None:
    add(client, alice)
    admin = make_account("root", admin=True)
    carol = make_account("carol")
    grant = {"carol": {"admin": "approved"}, "bob": {"builder": "approved"}}
    set_perms = "/api_3/project/permissions/set/alice/demo"
    assert client.put(set_perms, json=grant, headers=alice.headers).status_code == 200

    before = snapshot(engine)
    anonymous = client.put(REGENERATE)
    assert anonymous.status_code == 401
    assert "API token" in anonymous.json()["error"]
    builder = client.put(REGENERATE, headers=bob.headers)  # may build, may not edit
    assert builder.status_code == 403
    assert "bob" in builder.json()["error"]
    assert snapshot(engine) == before
    for who in (alice, carol, admin):
        assert client.put(REGENERATE, headers=who.headers).status_code == 200

    missing = client.put("/api_3/project/regenerate-repos/alice/nope", headers=alice.headers)
    assert missing.status_code == 404
    assert "nope" in missing.json()["error"]


def can_build_in(client: TestClient, who: str, owner: str = "alice", project: str = "demo"):
    # The path python-copr 2.7 asks for, trailing slash included.
    return client.get(f"/api_3/project/permissions/can_build_in/{who}/{owner}/{project}/")


def test_can_build_in_follows_the_rule_builds_follow(
    client: TestClient, alice: Account, bob: Account, make_account: MakeAccount
) -> None:
    add(client, alice)
    make_account("carol")
    make_account("dave")
    make_account("root", admin=True)
    grant = {"bob": {"builder": "approved"}, "carol": {"admin": "approved"}}
    grant |= {"dave": {"builder": "request"}}
    set_perms = "/api_3/project/permissions/set/alice/demo"
    assert client.put(set_perms, json=grant, headers=alice.headers).status_code == 200

    answers = {}
    for who in ("alice", "bob", "carol", "dave", "root"):
        r = can_build_in(client, who)  # anonymously: anyone may ask, as on Copr
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"who", "ownername", "projectname", "can_build_in"}
        assert (r.json()["who"], r.json()["ownername"], r.json()["projectname"]) == (
            who,
            "alice",
            "demo",
        )
        answers[who] = r.json()["can_build_in"]
    assert answers == {"alice": True, "bob": True, "carol": True, "dave": False, "root": True}

    # The answer is what a build submission meets: dave is refused, bob is not.
    body = {
        "ownername": "alice",
        "projectname": "demo",
        "pkgs": ["https://example.com/hello-1-1.src.rpm"],
    }
    dave = make_account("dave2")
    assert can_build_in(client, "dave2").json()["can_build_in"] is False
    refused = client.post("/api_3/build/create/url", json=body, headers=dave.headers)
    assert refused.status_code == 403
    allowed = client.post("/api_3/build/create/url", json=body, headers=bob.headers)
    assert allowed.status_code == 200, allowed.text


def test_can_build_in_of_an_unknown_user_or_project_is_404(
    client: TestClient, alice: Account
) -> None:
    add(client, alice)
    nobody = can_build_in(client, "nobody")
    assert nobody.status_code == 404
    assert "nobody" in nobody.json()["error"]
    missing = can_build_in(client, "alice", project="nope")
    assert missing.status_code == 404
    assert "nope" in missing.json()["error"]
    bad = can_build_in(client, "bad name!")
    assert bad.status_code == 400
    assert "not valid" in bad.json()["error"]


def test_the_new_routes_are_in_the_api_document(client: TestClient) -> None:
    spec = client.get("/api_3/openapi.json").json()
    regenerate = spec["paths"]["/api_3/project/regenerate-repos/{ownername}/{projectname}"]
    assert set(regenerate) == {"put"}  # the POST older clients send is served, not advertised
    assert regenerate["put"]["summary"] and regenerate["put"]["tags"] == ["projects"]
    ok = regenerate["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/ProjectOut")

    path = "/api_3/project/permissions/can_build_in/{who}/{ownername}/{projectname}"
    can = spec["paths"][path]["get"]
    assert {p["name"] for p in can["parameters"]} == {"who", "ownername", "projectname"}
    ok = can["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/CanBuildInOut")
    shape = spec["components"]["schemas"]["CanBuildInOut"]
    assert set(shape["required"]) == {"who", "ownername", "projectname", "can_build_in"}
