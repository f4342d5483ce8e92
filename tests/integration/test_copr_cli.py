"""copr-cli 2.6, unchanged, against a real coprd process: the flows of the foundation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
COMPS = """<?xml version="1.0" encoding="UTF-8"?>
<comps><group><id>core</id><name>Core</name><packagelist>
<packagereq type="mandatory">bash</packagereq></packagelist></group></comps>
"""


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    # The acceptance flow literally: coprd user add alice && coprd token alice > ~/.config/copr
    server.coprd("user", "add", "alice")
    config = server.home / ".config" / "copr"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(server.coprd("token", "alice").stdout)
    return config


@pytest.fixture(scope="module")
def bob(server: Server) -> Path:
    return server.add_user("bob")


def ok(result: object) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"  # type: ignore[attr-defined]
    return result.stdout  # type: ignore[attr-defined,no-any-return]


def test_first_start_creates_an_admin_with_a_ready_config(server: Server) -> None:
    log = server.server_log()
    assert f"serving on {server.url}" in log
    match = re.search(r"its copr-cli config is (\S+)", log)
    assert match, log
    assert ok(server.copr_cli(Path(match.group(1)), "whoami")).strip() == "admin"


def test_token_block_is_what_copr_cli_reads(server: Server, alice: Path) -> None:
    text = alice.read_text()
    assert text.startswith("[copr-cli]\n")
    for key in (
        "login = ",
        "username = alice",
        "token = ",
        f"copr_url = {server.url}",
        "encrypted = False",
        "# expiration date: ",
    ):
        assert key in text
    # No --config: copr-cli reads ~/.config/copr, as a user would have it.
    assert ok(server.copr_cli(None, "whoami")).strip() == "alice"


def test_create_list_get_modify_delete(server: Server, alice: Path) -> None:
    out = ok(
        server.copr_cli(
            None,
            "create",
            "demo",
            "--chroot",
            RAWHIDE,
            "--chroot",
            "epel-9-x86_64",
            "--description",
            "Demo packages",
            "--instructions",
            "dnf copr enable alice/demo",
            "--repo",
            "https://example.com/extra/",
            "--enable-net",
            "on",
        )
    )
    assert out.strip() == f"New project was successfully created: {server.url}/coprs/alice/demo/"

    listing = ok(server.copr_cli(None, "list", "alice"))
    assert "Name: demo" in listing
    assert "Description: Demo packages" in listing
    assert f"{RAWHIDE}: {server.url}/results/alice/demo/{RAWHIDE}/" in listing
    assert "Additional repo: https://example.com/extra/" in listing

    ok(
        server.copr_cli(
            None,
            "modify",
            "demo",
            "--description",
            "Changed",
            "--unlisted-on-hp",
            "on",
            "--chroot",
            RAWHIDE,
        )
    )
    got = ok(server.copr_cli(None, "get", "demo"))
    assert "Description: Changed" in got
    assert "epel-9-x86_64" not in got

    out = ok(server.copr_cli(None, "delete", "demo"))
    assert out.strip() == "Project demo has been deleted."
    missing = server.copr_cli(None, "get", "demo")
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr


def test_create_twice_is_refused(server: Server, alice: Path) -> None:
    ok(server.copr_cli(None, "create", "twice", "--chroot", RAWHIDE))
    again = server.copr_cli(None, "create", "twice", "--chroot", RAWHIDE)
    assert again.returncode == 1
    assert "already have a project" in again.stderr


def test_unknown_chroot_is_refused_by_name(server: Server, alice: Path) -> None:
    result = server.copr_cli(None, "create", "nochroot", "--chroot", "fedora-1-x86_64")
    assert result.returncode == 1
    assert "fedora-1-x86_64" in result.stderr
    assert server.copr_cli(None, "get", "nochroot").returncode == 1


def test_chroot_settings_and_comps(server: Server, alice: Path, tmp_path: Path) -> None:
    ok(server.copr_cli(None, "create", "chroots", "--chroot", RAWHIDE))
    comps = tmp_path / "comps.xml"
    comps.write_text(COMPS)
    out = ok(
        server.copr_cli(
            None,
            "edit-chroot",
            f"chroots/{RAWHIDE}",
            "--upload-comps",
            str(comps),
            "--packages",
            "make gcc",
            "--repos",
            "https://example.com/r1 copr://alice/other",
            "--rpmbuild-with",
            "docs",
            "--rpmbuild-without",
            "tests",
            "--isolation",
            "simple",
        )
    )
    assert "Edit chroot operation was successful." in out
    chroot = json.loads(ok(server.copr_cli(None, "get-chroot", f"chroots/{RAWHIDE}")))
    assert chroot["mock_chroot"] == RAWHIDE
    assert chroot["comps_name"] == "comps.xml"
    assert chroot["additional_packages"] == ["make", "gcc"]
    assert chroot["additional_repos"] == ["https://example.com/r1", "copr://alice/other"]
    assert chroot["with_opts"] == ["docs"]
    assert chroot["without_opts"] == ["tests"]
    assert chroot["isolation"] == "simple"
    # The comps is in the repository and its metadata, as dnf's group commands want it.
    repo = f"{server.url}/results/alice/chroots/{RAWHIDE}/"
    assert httpx.get(repo + "comps.xml").text == COMPS
    assert 'type="group"' in httpx.get(repo + "repodata/repomd.xml").text

    config = ok(server.copr_cli(None, "mock-config", "chroots", RAWHIDE))
    assert f"include('/etc/mock/{RAWHIDE}.cfg')" in config
    assert f"baseurl={server.url}/results/alice/chroots/{RAWHIDE}/" in config
    assert f"baseurl={server.url}/results/alice/other/{RAWHIDE}/" in config

    ok(
        server.copr_cli(
            None,
            "edit-chroot",
            f"chroots/{RAWHIDE}",
            "--delete-comps",
            "--reset",
            "additional_packages",
        )
    )
    chroot = json.loads(ok(server.copr_cli(None, "get-chroot", f"chroots/{RAWHIDE}")))
    assert chroot["comps_name"] is None
    assert chroot["additional_packages"] == []
    assert httpx.get(repo + "comps.xml").status_code == 404
    assert 'type="group"' not in httpx.get(repo + "repodata/repomd.xml").text


def test_list_chroots_shows_the_active_set(server: Server) -> None:
    lines = ok(server.copr_cli(None, "list-chroots")).split()
    for name in (RAWHIDE, "fedora-rawhide-aarch64", "epel-9-x86_64", "epel-10-x86_64"):
        assert name in lines
    server.coprd("chroot", "add", "fedora-43-x86_64")
    server.coprd("chroot", "eol", "fedora-43-x86_64")
    assert "fedora-43-x86_64" not in ok(server.copr_cli(None, "list-chroots")).split()


def test_permissions_request_edit_list(server: Server, alice: Path, bob: Path) -> None:
    ok(server.copr_cli(None, "create", "shared", "--chroot", RAWHIDE))
    assert ok(server.copr_cli(bob, "request-permissions", "alice/shared", "--builder")).strip() == (
        "success"
    )
    listed = ok(server.copr_cli(None, "list-permissions", "shared"))
    assert "bob:\n  builder: request\n  admin: nothing" in listed

    assert ok(server.copr_cli(None, "edit-permissions", "shared", "--admin", "bob")).strip() == (
        "success"
    )
    listed = ok(server.copr_cli(None, "list-permissions", "shared"))
    assert "bob:\n  builder: request\n  admin: approved" in listed
    # An approved admin may change the project.
    ok(server.copr_cli(bob, "modify", "alice/shared", "--description", "by bob"))
    assert "Description: by bob" in ok(server.copr_cli(None, "get", "shared"))


def test_others_cannot_touch_alices_project(server: Server, alice: Path, bob: Path) -> None:
    ok(server.copr_cli(None, "create", "private", "--chroot", RAWHIDE, "--description", "mine"))
    for args in (
        ("modify", "alice/private", "--description", "hacked"),
        ("delete", "alice/private"),
        ("edit-permissions", "alice/private", "--admin", "bob"),
        ("edit-chroot", f"alice/private/{RAWHIDE}", "--packages", "evil"),
        ("list-permissions", "alice/private"),
    ):
        result = server.copr_cli(bob, *args)
        assert result.returncode == 7, (args, result.stderr)
        assert "may not change project alice/private" in result.stderr
    assert "Description: mine" in ok(server.copr_cli(None, "get", "private"))
    listed = server.copr_cli(None, "list-permissions", "private")
    assert listed.returncode == 1, listed.stdout
    assert "No permissions set on alice/private project" in listed.stderr


def test_wrong_token_is_refused(server: Server, alice: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text(re.sub(r"token = .*", "token = not-the-token", alice.read_text()))
    result = server.copr_cli(bad, "create", "never", "--chroot", RAWHIDE)
    assert result.returncode == 1
    assert "Login invalid/expired" in result.stderr
    assert server.copr_cli(None, "get", "never").returncode == 1


def test_group_members_edit_group_projects(server: Server, alice: Path, bob: Path) -> None:
    server.coprd("group", "add", "devs")
    server.coprd("group", "add-member", "devs", "alice")
    out = ok(server.copr_cli(None, "create", "@devs/tools", "--chroot", RAWHIDE))
    assert "/coprs/g/devs/tools/" in out
    refused = server.copr_cli(bob, "modify", "@devs/tools", "--description", "x")
    assert refused.returncode == 7
    server.coprd("group", "add-member", "devs", "bob")
    ok(server.copr_cli(bob, "modify", "@devs/tools", "--description", "team work"))
    assert "Description: team work" in ok(server.copr_cli(None, "get", "@devs/tools"))
    assert "Name: tools" in ok(server.copr_cli(None, "list", "@devs"))


def test_new_api_token_rewrites_the_config(server: Server, tmp_path: Path) -> None:
    config = server.add_user("carol")
    before = config.read_text()
    out = ok(server.copr_cli(config, "new-api-token"))
    assert out.strip() == f"New API token was updated in {config}."
    after = config.read_text()
    old_token = re.search(r"token = (.*)", before).group(1)  # type: ignore[union-attr]
    assert f"token = {old_token}" not in after
    assert re.search(r"# expiration date: \d{4}-\d{2}-\d{2}", after)
    # The new token works and the old one no longer does.
    ok(server.copr_cli(config, "create", "carols", "--chroot", RAWHIDE))
    old = tmp_path / "old.conf"
    old.write_text(before)
    assert server.copr_cli(old, "create", "carols2", "--chroot", RAWHIDE).returncode == 1


def test_disabled_user_is_refused(server: Server) -> None:
    config = server.add_user("dave")
    server.coprd("user", "disable", "dave")
    result = server.copr_cli(config, "create", "daves", "--chroot", RAWHIDE)
    assert result.returncode == 1
    assert "disabled" in result.stderr
