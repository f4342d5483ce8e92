"""Legacy project endpoints: the translation of python-copr 1.63's calls into core calls."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from tests.conftest import Account

X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
REPOS = "http://coprd.test/results/alice/demo"
# What an unconfigured 1.63 client sends, even on public reads.
NONE_NONE = {"Authorization": "Basic " + base64.b64encode(b"None:None").decode()}


def create(client: TestClient, who: Account, **fields: str) -> dict[str, object]:
    """``create_project`` as 1.63 sends it: form-encoded, one ``<chroot>=y`` per chroot."""
    body = {"name": "demo", X86: "y", **fields}
    r = client.post("/api/coprs/alice/new/", data=body, headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def detail(client: TestClient, name: str = "demo") -> dict[str, object]:
    r = client.get(f"/api/coprs/alice/{name}/detail/")
    assert r.status_code == 200, r.text
    return r.json()["detail"]  # type: ignore[no-any-return]


def test_create_from_the_form_1_63_sends(client: TestClient, alice: Account) -> None:
    answer = create(
        client,
        alice,
        description="A demo",
        instructions="dnf copr enable alice/demo",
        repos="https://example.com/a copr://bob/b",
        **{ARM: "y"},
    )
    assert answer == {"output": "ok", "message": "New project was successfully created."}
    assert detail(client) == {
        "name": "demo",
        "username": "alice",
        "description": "A demo",
        "instructions": "dnf copr enable alice/demo",
        "additional_repos": "https://example.com/a copr://bob/b",
        # Every enabled chroot from the start: 1.63 knows chroots only through yum_repos.
        "yum_repos": {ARM: f"{REPOS}/{ARM}/", X86: f"{REPOS}/{X86}/"},
        "auto_createrepo": True,
        "last_modified": None,
        "persistent": False,
        "unlisted_on_hp": False,
        "auto_prune": True,
    }


def test_the_same_repo_urls_as_apiv3(client: TestClient, alice: Account) -> None:
    create(client, alice)
    v3 = client.get("/api_3/project", params={"ownername": "alice", "projectname": "demo"})
    assert detail(client)["yum_repos"] == v3.json()["chroot_repos"]


def test_create_from_json_and_multipart(client: TestClient, alice: Account) -> None:
    # The seed's httpie example: a JSON object with the chroots as keys.
    r = client.post(
        "/api/coprs/alice/new/",
        json={"name": "viajson", X86: "y", ARM: True, "description": "json"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert sorted(detail(client, "viajson")["yum_repos"]) == [ARM, X86]  # type: ignore[arg-type]
    r = client.post(
        "/api/coprs/alice/new/",
        files={"name": (None, "viamultipart"), X86: (None, "y")},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert list(detail(client, "viamultipart")["yum_repos"]) == [X86]  # type: ignore[call-overload]


def test_initial_pkgs_become_builds(client: TestClient, alice: Account) -> None:
    create(client, alice, initial_pkgs="https://e.org/a-1-1.src.rpm https://e.org/b-1-1.src.rpm")
    for build_id, url in ((1, "https://e.org/a-1-1.src.rpm"), (2, "https://e.org/b-1-1.src.rpm")):
        build = client.get(f"/api/coprs/build/{build_id}/").json()
        assert (build["owner"], build["project"], build["src_pkg"]) == ("alice", "demo", url)


def test_unknown_fields_are_named(client: TestClient, alice: Account) -> None:
    r = client.post(
        "/api/coprs/alice/new/",
        data={"name": "demo", X86: "y", "colour": "blue", "size": "big"},
        headers=alice.headers,
    )
    assert r.status_code == 400
    assert r.json() == {
        "output": "notok",
        "error": "Unknown arguments passed (non-existing chroot probably): colour, size",
    }
    r = client.post(
        "/api/coprs/alice/new/", data={"name": "demo", "fedora-1-vax": "y"}, headers=alice.headers
    )
    assert (r.status_code, r.json()["error"]) == (400, "chroots: unknown chroot(s): fedora-1-vax")
    # "n" selects nothing.
    r = client.post("/api/coprs/alice/new/", data={"name": "demo", X86: "n"}, headers=alice.headers)
    assert (r.status_code, r.json()["error"]) == (400, "chroots: select at least one chroot")


def test_create_needs_a_token_and_says_where_to_get_one(client: TestClient) -> None:
    r = client.post("/api/coprs/alice/new/", data={"name": "demo", X86: "y"}, headers=NONE_NONE)
    assert r.status_code == 401
    assert r.json() == {
        "output": "notok",
        "error": "Login invalid/expired. See http://coprd.test/api for how to get an API token.",
    }
    info = client.get("/api/")
    assert info.status_code == 200
    assert info.json()["token_command"] == "coprd token NAME"
    assert info.json()["apis"]["legacy"] == "http://coprd.test/api/coprs/"


def test_create_for_someone_else_is_forbidden(
    client: TestClient, alice: Account, bob: Account
) -> None:
    r = client.post("/api/coprs/alice/new/", data={"name": "demo", X86: "y"}, headers=bob.headers)
    assert r.status_code == 403
    assert r.json()["error"] == "user 'bob' may not create projects for 'alice'"


def test_list_and_search_ignore_junk_credentials(client: TestClient, alice: Account) -> None:
    create(client, alice, description="Has a Needle inside")
    create(client, alice, name="other")
    junk = [{}, NONE_NONE, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}]
    for headers in junk:
        for path in ("/api/coprs/alice/", "/api/coprs/?username=alice"):
            r = client.get(path, headers=headers)
            assert r.status_code == 200, r.text
            assert [p["name"] for p in r.json()["repos"]] == ["demo", "other"]
        for path in ("/api/coprs/search/needle/", "/api/coprs/search/?project=NEEDLE"):
            found = client.get(path, headers=headers).json()["repos"]
            assert [(p["username"], p["coprname"]) for p in found] == [("alice", "demo")]
    item = client.get("/api/coprs/alice/").json()["repos"][0]
    assert item["yum_repos"] == {X86: f"{REPOS}/{X86}/"}
    assert item["description"] == "Has a Needle inside"
    assert client.get("/api/coprs/nobody/").json() == {"output": "ok", "repos": []}
    # requests percent-encodes a space in the search path.
    assert client.get("/api/coprs/search/the%20needle/").json()["repos"] == []
    assert client.get("/api/coprs/search/has%20a/").json()["repos"][0]["name"] == "demo"


def test_list_without_a_user_is_refused(client: TestClient) -> None:
    r = client.get("/api/coprs/")
    assert r.status_code == 400
    assert r.json()["error"].startswith("username: ")


def test_doubled_leading_slash_reaches_the_route(client: TestClient, alice: Account) -> None:
    # A copr_url with a trailing slash: 1.63 sends //api/coprs/…; no redirect.
    r = client.post(
        "http://testserver//api/coprs/alice/new/",
        data={"name": "demo", X86: "y"},
        headers=alice.headers,
        follow_redirects=False,
    )
    assert r.status_code == 200, r.text
    assert client.get("http://testserver//api/coprs/alice/demo/detail/").status_code == 200


def test_modify_answers_top_level_and_detail(client: TestClient, alice: Account) -> None:
    create(client, alice)
    r = client.post(
        "/api/coprs/alice/demo/modify/",
        data={
            "description": "new words",
            "instructions": "read me",
            "repos": "https://example.com/x https://example.com/y",
            "disable_createrepo": "true",
        },
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "output": "ok",
        "message": "Project was updated successfully.",
        "description": "new words",
        "instructions": "read me",
        "repos": "https://example.com/x https://example.com/y",
        "chroots": [X86],
        "detail": {
            "name": "demo",
            "description": "new words",
            "instructions": "read me",
            "last_modified": None,
        },
        "buildroot_pkgs": {X86: ""},
    }
    after = detail(client)
    assert after["auto_createrepo"] is False
    assert after["additional_repos"] == "https://example.com/x https://example.com/y"


def test_modify_keeps_what_is_not_sent(client: TestClient, alice: Account) -> None:
    create(client, alice, description="kept", instructions="also kept")
    r = client.post(
        "/api/coprs/alice/demo/modify/", data={"description": "changed"}, headers=alice.headers
    )
    assert r.status_code == 200
    assert (detail(client)["description"], detail(client)["instructions"]) == (
        "changed",
        "also kept",
    )


def test_the_fields_the_last_legacy_clients_send(client: TestClient, alice: Account) -> None:
    """python-copr 1.x up to 1.109 adds ``username`` to every form, creates projects with
    more flags, and modify_project(chroots=[...]) sends the chroots to have, space-joined."""
    create(
        client,
        alice,
        username="alice",
        unlisted_on_hp="y",
        build_enable_net="",
        persistent="",
        auto_prune="y",
        use_bootstrap_container="",
    )
    path = "/api/coprs/alice/demo/modify/"
    fields = {
        "username": "alice",
        "unlisted_on_hp": "",
        "build_enable_net": "y",
        "auto_prune": "y",
        "use_bootstrap_container": "y",
        "chroots": f"{ARM} {X86}",
    }
    r = client.post(path, data=fields, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["chroots"] == [ARM, X86]
    project = client.get("/api_3/project", params={"ownername": "alice", "projectname": "demo"})
    got = project.json()
    assert sorted(got["chroot_repos"]) == [ARM, X86]
    assert (got["unlisted_on_hp"], got["enable_net"], got["bootstrap"]) == (False, True, "on")
    # The chroots named are the ones kept: the others are disabled.
    r = client.post(path, data={"username": "alice", "chroots": ARM}, headers=alice.headers)
    assert r.json()["chroots"] == [ARM]
    r = client.post(path, data={"chroots": ""}, headers=alice.headers)
    assert (r.status_code, r.json()["error"]) == (
        400,
        "chroots: a project needs at least one chroot",
    )
    chroot = client.post(
        f"/api/coprs/alice/demo/modify/{ARM}/",
        data={"username": "alice", "buildroot_pkgs": "make"},
        headers=alice.headers,
    )
    assert chroot.status_code == 200, chroot.text
    gone = client.post(
        "/api/coprs/alice/demo/delete/",
        data={"username": "alice", "verify": "yes"},
        headers=alice.headers,
    )
    assert gone.status_code == 200, gone.text


def test_modify_refusals(client: TestClient, alice: Account, bob: Account) -> None:
    create(client, alice, description="before")
    path = "/api/coprs/alice/demo/modify/"
    cases = [
        (bob.headers, {"description": "x"}, 403, "user 'bob' may not change project alice/demo"),
        (NONE_NONE, {"description": "x"}, 401, None),
        (alice.headers, {"colour": "blue"}, 400, "Unknown arguments passed: colour"),
        (alice.headers, {"repos": "file:///etc"}, 400, None),
        (alice.headers, {"disable_createrepo": "maybe"}, 400, None),
    ]
    for headers, data, status, error in cases:
        r = client.post(path, data=data, headers=headers)
        assert r.status_code == status, r.text
        assert r.json()["output"] == "notok"
        if error is not None:
            assert r.json()["error"] == error
    assert detail(client)["description"] == "before"


def test_chroot_detail_and_modify(client: TestClient, alice: Account) -> None:
    create(client, alice)
    path = f"/api/coprs/alice/demo/modify/{X86}/"
    r = client.post(path, data={"buildroot_pkgs": "make gcc"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["buildroot_pkgs"] == "make gcc"
    got = client.get(f"/api/coprs/alice/demo/detail/{X86}/", headers=NONE_NONE)
    assert got.status_code == 200
    assert got.json() == {"output": "ok", "name": X86, "buildroot_pkgs": "make gcc", "repos": ""}
    v3 = client.get(
        "/api_3/project-chroot",
        params={"ownername": "alice", "projectname": "demo", "chrootname": X86},
    )
    assert v3.json()["additional_packages"] == ["make", "gcc"]
    # 1.63 sends buildroot_pkgs="" when given no packages: that empties the list.
    r = client.post(path, data={"buildroot_pkgs": ""}, headers=alice.headers)
    assert r.json()["buildroot_pkgs"] == ""
    assert client.get(f"/api/coprs/alice/demo/detail/{X86}/").json()["buildroot_pkgs"] == ""


def test_chroot_not_enabled_is_not_found(client: TestClient, alice: Account) -> None:
    create(client, alice)
    r = client.get(f"/api/coprs/alice/demo/detail/{ARM}/")
    assert r.status_code == 404
    assert r.json()["error"] == f"Chroot {ARM} is not enabled in project alice/demo."
    r = client.post(
        f"/api/coprs/alice/demo/modify/{ARM}/", data={"buildroot_pkgs": "x"}, headers=alice.headers
    )
    assert r.status_code == 404


def test_delete_needs_verify(client: TestClient, alice: Account, bob: Account) -> None:
    create(client, alice)
    path = "/api/coprs/alice/demo/delete/"
    r = client.post(path, headers=alice.headers)
    assert r.status_code == 400
    assert r.json()["error"] == "verify: send verify=yes to confirm deleting the project"
    r = client.post(path, data={"verify": "yes"}, headers=bob.headers)
    assert r.status_code == 403
    assert detail(client)["name"] == "demo"
    r = client.post(path, data={"verify": "yes"}, headers=alice.headers)
    assert r.status_code == 200
    assert r.json() == {"output": "ok", "message": "Project was deleted successfully."}
    gone = client.get("/api/coprs/alice/demo/detail/")
    assert gone.status_code == 404
    assert gone.json() == {"output": "notok", "error": "Project alice/demo does not exist."}


def test_delete_with_json(client: TestClient, alice: Account) -> None:
    create(client, alice)
    r = client.post("/api/coprs/alice/demo/delete/", json={"verify": "yes"}, headers=alice.headers)
    assert r.status_code == 200
    assert client.get("/api/coprs/alice/").json()["repos"] == []


def test_api_answers_errors_with_an_error_key(client: TestClient) -> None:
    r = client.post("/api")
    assert r.status_code == 405
    assert "error" in r.json()
