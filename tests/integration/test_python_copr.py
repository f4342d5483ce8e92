"""python-copr 2.7's ``Client`` against a real coprd process, asserting the Munch fields."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
from copr.v3 import (
    Client,
    CoprAuthException,
    CoprNoResultException,
    CoprRequestException,
)
from copr.v3.pagination import next_page

from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
EPEL9 = "epel-9-x86_64"


def client_for(config: Path) -> Any:
    parser = configparser.ConfigParser()
    parser.read(config)
    section = dict(parser["copr-cli"])
    return Client(
        {
            "copr_url": section["copr_url"],
            "login": section["login"],
            "token": section["token"],
            "username": section["username"],
        }
    )


@pytest.fixture(scope="module")
def alice(server: Server) -> Any:
    return client_for(server.add_user("alice"))


@pytest.fixture(scope="module")
def bob(server: Server) -> Any:
    return client_for(server.add_user("bob"))


def test_home_and_auth_check(alice: Any) -> None:
    assert alice.base_proxy.home().version == 3
    me = alice.base_proxy.auth_check()
    assert me.name == "alice"
    assert isinstance(me.id, int)


def test_project_add_get_edit_delete(alice: Any, server: Server) -> None:
    project = alice.project_proxy.add(
        "alice",
        "py",
        [RAWHIDE, EPEL9],
        description="From Python",
        homepage="https://example.com",
        contact="alice@example.com",
        additional_repos=["https://example.com/repo"],
        enable_net=True,
        runtime_dependencies="copr://alice/other https://example.com/dep",
        packit_forge_projects_allowed=["github.com/alice/py"],
        repo_priority=10,
        delete_after_days=30,
        follow_fedora_branching=False,
        isolation="simple",
        bootstrap="on",
    )
    assert project.full_name == "alice/py"
    assert project.ownername == "alice"
    assert project.name == "py"
    assert project.description == "From Python"
    assert project.homepage == "https://example.com"
    assert project.contact == "alice@example.com"
    assert project.enable_net is True
    assert project.additional_repos == ["https://example.com/repo"]
    assert project.runtime_dependencies == ["copr://alice/other", "https://example.com/dep"]
    assert project.packit_forge_projects_allowed == ["github.com/alice/py"]
    assert project.repo_priority == 10
    assert project.delete_after_days == 30
    assert project.follow_fedora_branching is False
    assert project.appstream is False
    assert project.isolation == "simple"
    assert project.bootstrap == "on"
    assert project.storage == "backend"
    assert project.chroot_repos == {
        RAWHIDE: f"{server.url}/results/alice/py/{RAWHIDE}/",
        EPEL9: f"{server.url}/results/alice/py/{EPEL9}/",
    }

    same = alice.project_proxy.add("alice", "py", [RAWHIDE], exist_ok=True)
    assert same.id == project.id

    edited = alice.project_proxy.edit(
        "alice",
        "py",
        chroots=[RAWHIDE],
        description="Edited",
        additional_repos=[],
        delete_after_days=-1,
        module_hotfixes=True,
    )
    assert edited.description == "Edited"
    assert edited.additional_repos == []
    assert edited.delete_after_days is None
    assert edited.module_hotfixes is True
    assert list(edited.chroot_repos) == [RAWHIDE]
    fetched = alice.project_proxy.get("alice", "py")
    assert fetched.description == "Edited"
    assert fetched.homepage == "https://example.com"

    deleted = alice.project_proxy.delete("alice", "py")
    assert deleted.name == "py"
    with pytest.raises(CoprNoResultException):
        alice.project_proxy.get("alice", "py")


def test_list_search_and_pagination(alice: Any) -> None:
    for i in range(5):
        alice.project_proxy.add("alice", f"page{i}", [RAWHIDE], description=f"pageable {i}")
    first = alice.project_proxy.get_list("alice", pagination={"limit": 2, "order": "name"})
    assert [p.name for p in first] == ["page0", "page1"]
    assert first.meta.limit == 2 and first.meta.offset == 0
    second = next_page(first)
    assert [p.name for p in second] == ["page2", "page3"]
    everything = alice.project_proxy.get_list("alice")
    assert {f"page{i}" for i in range(5)} <= {p.name for p in everything}
    found = alice.project_proxy.search("pageable 3")
    assert [p.full_name for p in found] == ["alice/page3"]


def test_project_chroot_edit_get_and_build_config(alice: Any, tmp_path: Path) -> None:
    alice.project_proxy.add("alice", "pc", [RAWHIDE], additional_repos=["copr://bob/base"])
    comps = tmp_path / "team-comps.xml"
    comps.write_text('<?xml version="1.0"?><comps><group><id>x</id></group></comps>')
    alice.project_chroot_proxy.edit(
        "alice",
        "pc",
        RAWHIDE,
        additional_packages=["make", "gcc"],
        additional_repos=["https://example.com/chroot-repo"],
        additional_modules=["nodejs:20"],
        comps=str(comps),
        with_opts=["docs"],
        without_opts=["tests"],
        bootstrap_image="registry.example.com/fedora:rawhide",
        isolation="nspawn",
    )
    chroot = alice.project_chroot_proxy.get("alice", "pc", RAWHIDE)
    assert chroot.mock_chroot == RAWHIDE
    assert chroot.comps_name == "team-comps.xml"
    assert chroot.additional_packages == ["make", "gcc"]
    assert chroot.additional_modules == ["nodejs:20"]
    assert chroot.with_opts == ["docs"] and chroot.without_opts == ["tests"]
    assert chroot.bootstrap == "custom_image"
    assert chroot.isolation == "nspawn"

    config = alice.project_chroot_proxy.get_build_config("alice", "pc", RAWHIDE)
    assert config.chroot == RAWHIDE
    assert config.isolation == "nspawn"
    assert config.bootstrap == "custom_image"
    assert config.bootstrap_image == "registry.example.com/fedora:rawhide"
    assert config.additional_packages == ["make", "gcc"]
    ids = [repo["id"] for repo in config.repos]
    assert ids[0] == "copr_base"
    baseurls = [repo["baseurl"] for repo in config.repos]
    assert any(url.endswith(f"/results/bob/base/{RAWHIDE}/") for url in baseurls)
    assert "https://example.com/chroot-repo" in baseurls

    with pytest.raises(CoprNoResultException):
        alice.project_chroot_proxy.get("alice", "pc", EPEL9)


def test_mock_chroots(alice: Any) -> None:
    chroots = alice.mock_chroot_proxy.get_list()
    assert RAWHIDE in chroots
    assert chroots[RAWHIDE] == ""


def test_permissions_through_the_proxies(alice: Any, bob: Any) -> None:
    alice.project_proxy.add("alice", "perm", [RAWHIDE])
    bob.project_proxy.request_permissions("alice", "perm", {"builder": True, "admin": True})
    perms = alice.project_proxy.get_permissions("alice", "perm")
    assert perms.permissions == {"bob": {"builder": "request", "admin": "request"}}
    alice.project_proxy.set_permissions("alice", "perm", {"bob": {"builder": "approved"}})
    bob.project_proxy.request_permissions("alice", "perm", {"admin": False})
    perms = alice.project_proxy.get_permissions("alice", "perm")
    assert perms.permissions == {"bob": {"builder": "approved", "admin": "nothing"}}
    with pytest.raises(CoprAuthException):
        bob.project_proxy.edit("alice", "perm", description="not allowed")
    with pytest.raises(CoprAuthException):
        bob.project_proxy.set_permissions("alice", "perm", {"bob": {"admin": "approved"}})
    with pytest.raises(CoprAuthException):
        bob.project_proxy.delete("alice", "perm")
    assert alice.project_proxy.get("alice", "perm").description == ""


def test_bad_token_raises_request_exception(server: Server) -> None:
    broken = Client(
        {"copr_url": server.url, "login": "nobody", "token": "wrong", "username": "nobody"}
    )
    with pytest.raises(CoprRequestException, match="Login invalid/expired"):
        broken.project_proxy.add("nobody", "x", [RAWHIDE])


def test_new_api_token(server: Server) -> None:
    client = client_for(server.add_user("erin"))
    renewed = client.base_proxy.new_api_token()
    assert renewed.api_login and renewed.api_token and renewed.expiration
    fresh = Client(
        {
            "copr_url": server.url,
            "login": renewed.api_login,
            "token": renewed.api_token,
            "username": "erin",
        }
    )
    assert fresh.base_proxy.auth_check().name == "erin"
