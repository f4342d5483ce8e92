"""Chain builds end to end with copr-cli 2.6: each link's BuildRequires come from the
project's own repository (the local backend resolves them there and lays them over /usr),
and the finished chain installs with dnf over HTTP."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from coprd.builder.buildroot import solver_problem
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import make_srpm
from tests.publish.conftest import dnf

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(solver_problem() is not None, reason="needs python3-solv"),
]

CHROOT = "fedora-rawhide-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-chain"), builders=2)
    yield srv
    stop_server(srv)


def live_log(
    server: Server, owner: str, project: str, build_id: int, name: str, log: str = "builder-live"
) -> str:
    path = server.data_dir / "results" / owner / project / CHROOT / f"{build_id:08d}-{name}"
    logs = list(path.glob(f"{log}.log*"))
    assert logs, f"no log in {path}"
    raw = logs[0].read_bytes()
    return (gzip.decompress(raw) if logs[0].suffix == ".gz" else raw).decode(errors="replace")


def build_one(server: Server, config: Path, project: str, srpm: Path) -> int:
    built = server.copr_cli(config, "build", project, str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
    assert f"Build {build_id}: succeeded" in built.stdout, built.stdout
    return build_id


def test_each_link_builds_against_the_previous_ones_published_package(
    server: Server, tmp_path: Path
) -> None:
    alice = server.add_user_with_project("alice", "chain", CHROOT)
    srpms = {
        name: make_srpm(f"chain-{name}.spec", tmp_path / f"srpm-{name}")
        for name in ("libfoo", "bar", "app")
    }
    ids = {name: build_one(server, alice, "chain", srpms[name]) for name in srpms}

    bar_log = live_log(server, "alice", "chain", ids["bar"], "bar")
    assert "[buildroot] installed: libfoo-devel-1.0-1.noarch from copr_base" in bar_log
    assert "bar 2.0 built against libfoo 1.0, magic 42" in bar_log
    app_log = live_log(server, "alice", "chain", ids["app"], "app")
    assert "[buildroot] installed: bar-2.0-1.noarch from copr_base" in app_log
    assert "app 3.0 saw: bar 2.0 built against libfoo 1.0, magic 42" in app_log
    root_log = live_log(server, "alice", "chain", ids["app"], "app", "root")
    assert "installed: bar-2.0-1.noarch from copr_base" in root_log

    # All three install from the project's repository, as its users would.
    url = f"{server.url}/results/alice/chain/{CHROOT}/"
    done = dnf(tmp_path / "root", url, "install", "app", "libfoo-devel")
    assert done.returncode == 0, done.stderr
    said = (tmp_path / "root/usr/share/app/built-with").read_text()
    assert said == "bar 2.0 built against libfoo 1.0, magic 42\n"
    assert (tmp_path / "root/usr/bin/bar-info").is_file()
    assert (tmp_path / "root/usr/include/libfoo.h").is_file()


def test_a_buildrequire_nobody_provides_is_assumed_on_debian(
    server: Server, tmp_path: Path
) -> None:
    alice = server.add_user_with_project("bob", "lonely", CHROOT)
    srpm = make_srpm("chain-app.spec", tmp_path / "srpm")
    built = server.copr_cli(alice, "build", "lonely", str(srpm))
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
    log = live_log(server, "bob", "lonely", build_id, "app")
    # bar is in no repository; this host has no rpm database, so it is taken as the
    # host's, said so, and the build then fails where bar-info is missing.
    assert "[buildroot] assumed from the host's toolchain (no rpm database here): bar" in log
    assert f"Build {build_id}: failed" in built.stdout
