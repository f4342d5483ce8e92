"""Build options from copr-cli and python-copr to the builder and back: the chroot's bconds
reach rpmbuild in a real build, ``build-chroot/build-config`` keeps what the build was
submitted with, and settings this server does not carry out are refused, not ignored."""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from copr.v3 import CoprRequestException

from coprd.builder.buildroot import host_rpmdb
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import make_srpm
from tests.integration.test_python_copr import client_for
from tests.sources.servers import FileServer

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-options"), builders=1)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    return server.add_user_with_project("alice", "opts", CHROOT)


def cli_ok(server: Server, config: Path, *args: str) -> str:
    done = server.copr_cli(config, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def build_log(
    server: Server, build_id: int, package: str, name: str = "builder-live.log.gz"
) -> str:
    url = f"{server.url}/results/alice/opts/{CHROOT}/{build_id:08d}-{package}/{name}"
    body = httpx.get(url).raise_for_status().content
    return (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode()


def test_chroot_options_reach_the_build_and_stay_with_it(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    # A repository of the chroot's, empty, served where the build's sandbox reaches it.
    outside = FileServer(tmp_path / "www")
    (outside.root / "extra" / CHROOT).mkdir(parents=True)
    subprocess.run(["createrepo_c", "-q", str(outside.root / "extra" / CHROOT)], check=True)
    extra = f"{outside.url}/extra/$chroot/"
    try:
        _chroot_options(server, alice, tmp_path, extra)
    finally:
        outside.close()


def _chroot_options(server: Server, alice: Path, tmp_path: Path, extra: str) -> None:
    cli_ok(
        server,
        alice,
        "edit-chroot",
        f"opts/{CHROOT}",
        "--rpmbuild-with",
        "foo",
        "--rpmbuild-without",
        "bar",
        "--packages",
        "gcc make",
        "--repos",
        extra,
        "--modules",
        "nodejs:20,!perl",
        "--isolation",
        "simple",
    )
    srpm = make_srpm("archinfo.spec", tmp_path / "srpm")
    built = cli_ok(
        server, alice, "build", "--timeout", "3000", "--enable-net", "on", "opts", str(srpm)
    )
    build_id = int(built.split("Created builds: ")[1].split()[0])
    assert f"Build {build_id}: succeeded" in built, built

    # The local backend hands the bconds to rpmbuild, resolves the buildroot packages
    # against the chroot's repository (this host has no rpm database: gcc and make are
    # taken as the host's), and says what it cannot use.
    log = build_log(server, build_id, "archinfo")
    assert "foo=1 bar=0" in log, log
    expanded = extra.replace("$chroot", CHROOT)
    root_log = build_log(server, build_id, "archinfo", "root.log.gz")
    assert f": {expanded} (priority 99, fetched in the sandbox)" in root_log, root_log
    if host_rpmdb() is None:
        assert "[buildroot] assumed from the host's toolchain (no rpm database here): gcc" in log
        assert "[buildroot] assumed from the host's toolchain (no rpm database here): make" in log
    assert "not used: modules nodejs:20 !perl; isolation simple" in log

    # Changing the chroot afterwards does not change what the build ran with.
    cli_ok(
        server,
        alice,
        "edit-chroot",
        f"opts/{CHROOT}",
        "--rpmbuild-with",
        "other",
        "--packages",
        "rust",
        "--isolation",
        "nspawn",
    )
    client = client_for(alice)
    config = client.build_chroot_proxy.get_build_config(build_id, CHROOT)
    assert config.with_opts == ["foo"] and config.without_opts == ["bar"]
    assert config.additional_packages == ["gcc", "make"]
    assert config.additional_repos == [extra]
    assert [repo["baseurl"] for repo in config.repos] == [
        f"{server.url}/results/alice/opts/{CHROOT}/",
        extra.replace("$chroot", CHROOT),
    ]
    assert config.isolation == "simple"
    assert config.timeout == 3000 and config.enable_net is True
    assert config.is_background is False
    current = client.project_chroot_proxy.get_build_config("alice", "opts", CHROOT)
    assert current.with_opts == ["other"] and current.additional_packages == ["rust"]
    assert current.isolation == "nspawn"


def test_copr_cli_mock_config_shows_priority_and_module_hotfixes(
    server: Server, alice: Path
) -> None:
    cli_ok(server, alice, "modify", "opts", "--repo-priority", "20", "--module-hotfixes", "on")
    rendered = cli_ok(server, alice, "mock-config", "opts", CHROOT)
    assert "priority=20" in rendered and "module_hotfixes=True" in rendered, rendered
    repo_file = httpx.get(f"{server.url}/coprs/alice/opts/repo/fedora-rawhide/").text
    assert "priority=20" in repo_file and "module_hotfixes=1" in repo_file, repo_file


@pytest.mark.parametrize(
    ("create", "modify", "name"),
    [
        (["--fedora-review"], ["--fedora-review", "on"], "fedora_review"),
        (["--appstream", "on"], ["--appstream", "on"], "appstream"),
    ],
)
def test_copr_cli_hears_an_unsupported_setting_is_refused(
    server: Server, alice: Path, create: list[str], modify: list[str], name: str
) -> None:
    created = server.copr_cli(alice, "create", f"refused-{name}", "--chroot", CHROOT, *create)
    assert created.returncode != 0
    assert f"{name} is not supported by this server" in created.stderr, created.stderr
    assert server.copr_cli(alice, "get", f"refused-{name}").returncode != 0  # not created
    modified = server.copr_cli(alice, "modify", "opts", *modify)
    assert modified.returncode != 0
    assert f"{name} is not supported by this server" in modified.stderr
    # The defaults every client sends are accepted.
    cli_ok(server, alice, "modify", "opts", "--appstream", "off", "--fedora-review", "off")


def test_python_copr_defaults_are_accepted_and_true_is_refused(server: Server) -> None:
    client: Any = client_for(server.add_user("bob"))
    project = client.project_proxy.add("bob", "plain", [CHROOT])  # sends appstream=False
    assert project.appstream is False and project.fedora_review is False
    with pytest.raises(CoprRequestException, match="appstream is not supported by this server"):
        client.project_proxy.edit("bob", "plain", appstream=True)
    with pytest.raises(CoprRequestException, match="fedora_review is not supported"):
        client.project_proxy.add("bob", "review", [CHROOT], fedora_review=True)
    assert client.project_proxy.get("bob", "plain").appstream is False
