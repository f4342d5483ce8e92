"""``.repo`` files for DNF4's copr plugin and the ``rpmrepo`` document for DNF5's."""

from __future__ import annotations

import base64
import configparser
import json
from dataclasses import replace

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.app import create_app
from coprd.config import Settings
from coprd.core import groups
from coprd.core.chroots import add_mock_chroot
from coprd.db.engine import write_session
from tests.conftest import Account

RAWHIDE = ["fedora-rawhide-x86_64", "fedora-rawhide-aarch64", "epel-9-x86_64"]


def add(client: TestClient, account: Account, owner: str, name: str, **fields: object) -> None:
    created = client.post(
        f"/api_3/project/add/{owner}",
        json={"name": name, "chroots": RAWHIDE, **fields},
        headers=account.headers,
    )
    assert created.status_code == 200, created.text


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_the_repo_file_dnf_copr_enable_asks_for(client: TestClient, alice: Account) -> None:
    add(client, alice, "alice", "demo")
    got = client.get("/coprs/alice/demo/repo/fedora-rawhide/dnf.repo", params={"arch": "x86_64"})
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/plain")
    repo = parse(got.text)
    assert repo.sections() == ["copr:coprd.test:alice:demo"]
    section = repo["copr:coprd.test:alice:demo"]
    assert section["name"] == "Copr repo for demo owned by alice"
    assert section["baseurl"] == (
        "http://coprd.test/results/alice/demo/fedora-$releasever-$basearch/"
    )
    assert section["type"] == "rpm-md"
    assert section["enabled"] == "1"
    assert section["gpgcheck"] == "1"
    assert section["gpgkey"] == "http://coprd.test/results/alice/demo/pubkey.gpg"
    assert section["repo_gpgcheck"] == "0"
    # epel's version is written out; dnf's $releasever there is "9", not "epel-9".
    epel = parse(client.get("/coprs/alice/demo/repo/epel-9/").text)
    assert epel["copr:coprd.test:alice:demo"]["baseurl"].endswith("/epel-9-$basearch/")


def test_options_and_runtime_dependencies_show_in_the_file(
    client: TestClient, alice: Account
) -> None:
    add(
        client,
        alice,
        "alice",
        "tuned",
        module_hotfixes=True,
        repo_priority=5,
        runtime_dependencies="copr://bob/libs https://mirror.example/el9/",
    )
    repo = parse(client.get("/coprs/alice/tuned/repo/fedora-rawhide/x.repo").text)
    main, copr_dep, external = repo.sections()
    assert repo[main]["module_hotfixes"] == "1"
    assert repo[main]["priority"] == "5"
    assert copr_dep == "coprdep:coprd.test:bob:libs"
    assert repo[copr_dep]["baseurl"].endswith("/results/bob/libs/fedora-$releasever-$basearch/")
    assert repo[copr_dep]["gpgcheck"] == "1"
    assert repo[copr_dep]["gpgkey"] == "http://coprd.test/results/bob/libs/pubkey.gpg"
    assert repo[external]["baseurl"] == "https://mirror.example/el9/"
    assert repo[external]["gpgcheck"] == "0"
    assert "gpgkey" not in repo[external]


def test_multilib_sections_check_the_same_key(
    client: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    with write_session(session_factory) as db:
        add_mock_chroot(db, "fedora-rawhide-i386")
    add(
        client,
        alice,
        "alice",
        "both",
        multilib=True,
        chroots=["fedora-rawhide-x86_64", "fedora-rawhide-i386"],
    )
    got = client.get("/coprs/alice/both/repo/fedora-rawhide/dnf.repo", params={"arch": "x86_64"})
    repo = parse(got.text)
    main, multilib = repo.sections()
    assert multilib == f"{main}:ml"
    assert repo[multilib]["baseurl"].endswith("/fedora-$releasever-i386/")
    assert repo[multilib]["gpgcheck"] == "1"
    assert repo[multilib]["gpgkey"] == repo[main]["gpgkey"]


def test_with_signing_off_nothing_is_checked(
    settings: Settings, engine: Engine, alice: Account
) -> None:
    unsigned = TestClient(create_app(replace(settings, signing=False), engine))
    add(unsigned, alice, "alice", "plain", runtime_dependencies="copr://bob/libs")
    repo = parse(unsigned.get("/coprs/alice/plain/repo/fedora-rawhide/dnf.repo").text)
    for section in repo.sections():
        assert repo[section]["gpgcheck"] == "0"
        assert "gpgkey" not in repo[section]


def test_a_chroot_the_project_lacks_is_404_with_the_available_ones(
    client: TestClient, alice: Account
) -> None:
    add(client, alice, "alice", "demo")
    missing = client.get("/coprs/alice/demo/repo/fedora-41/dnf.repo", params={"arch": "x86_64"})
    assert missing.status_code == 404
    data = json.loads(base64.b64decode(missing.headers["Copr-Error-Data"]))
    assert data == {"available chroots": sorted(RAWHIDE)}
    wrong_arch = client.get("/coprs/alice/demo/repo/epel-9/dnf.repo", params={"arch": "ppc64le"})
    assert wrong_arch.status_code == 404
    assert client.get("/coprs/alice/nope/repo/fedora-rawhide/dnf.repo").status_code == 404
    for bad in ("../etc", "Fedora 41", "fedora-41%0a"):
        assert client.get(f"/coprs/alice/demo/repo/{bad}/dnf.repo").status_code == 404
    assert client.get("/coprs/alice/demo/repo/fedora-rawhide/x.txt").status_code == 404


def test_group_projects_under_both_paths(
    client: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    with write_session(session_factory) as db:
        group = groups.create_group(db, "devs")
        groups.add_member(db, group, db.merge(alice.user))
    add(client, alice, "@devs", "tools")
    for path in (
        "/coprs/g/devs/tools/repo/fedora-rawhide/",
        "/coprs/@devs/tools/repo/fedora-rawhide/",
    ):
        repo = parse(client.get(path).text)
        assert repo.sections() == ["copr:coprd.test:group_devs:tools"]
        assert "/results/@devs/tools/" in repo["copr:coprd.test:group_devs:tools"]["baseurl"]


def test_rpmrepo_for_dnf5(client: TestClient, alice: Account) -> None:
    add(client, alice, "alice", "demo", module_hotfixes=True)
    got = client.get("/api_3/rpmrepo/alice/demo/fedora-rawhide/")
    assert got.status_code == 200
    assert got.json() == {
        "results_url": "http://coprd.test/results",
        "repos": {
            "fedora-rawhide": {
                "arch": {
                    "aarch64": {"opts": {"module_hotfixes": True}},
                    "x86_64": {"opts": {"module_hotfixes": True}},
                }
            }
        },
        "directories": {"demo": {}},
        "dependencies": [],
    }
    assert client.get("/api_3/rpmrepo/alice/demo/fedora-41/").json()["repos"] == {}
    unknown = client.get("/api_3/rpmrepo/alice/nope/fedora-rawhide/")
    assert unknown.status_code == 404 and "error" in unknown.json()
