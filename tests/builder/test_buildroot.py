"""The local backend's buildroot: BuildRequires from real repositories (createrepo_c),
resolved by libsolv, unpacked and laid over /usr for a real rpmbuild in the sandbox."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coprd.builder import buildroot
from coprd.builder.backends import BuildRepo, LocalBackend, RpmResult, RpmTask
from coprd.builder.srpm import Nevra
from tests.builder.conftest import DATA, Build, BuildSrpm, requires_tools
from tests.network import host_address

pytestmark = [
    requires_tools,
    pytest.mark.skipif(
        buildroot.solver_problem() is not None or shutil.which("createrepo_c") is None,
        reason="needs python3-solv and createrepo_c",
    ),
]

SERVER = "http://coprd.invalid/results/alice/chain/fedora-45-x86_64/"


def build(task: RpmTask) -> tuple[RpmResult, str]:
    runner = Build(LocalBackend(), task)
    result = runner.run()
    return result, runner.output.decode()


def make_repo(directory: Path, *specs: tuple[str, dict[str, str]]) -> Path:
    """A repository of the binary RPMs of ``data/`` specs (with %global macros)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, macros in specs:
        topdir = directory.parent / f"top-{directory.name}-{name}"
        topdir.mkdir()
        spec = topdir / f"{name}.spec"
        lines = "".join(f"%global {key} {value}\n" for key, value in macros.items())
        spec.write_text(lines + (DATA / f"{name}.spec").read_text())
        subprocess.run(
            ["rpmbuild", "--define", f"_topdir {topdir}", "-bb", str(spec)],
            check=True,
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(topdir), "LC_ALL": "C"},
        )
        for rpm in (topdir / "RPMS").rglob("*.rpm"):
            shutil.copy(rpm, directory)
    subprocess.run(["createrepo_c", "-q", str(directory)], check=True)
    return directory


def served_by(prefix: str, directory: Path) -> Callable[[str, Path], None]:
    """A stand-in for the agent's download of its server's files: URLs under ``prefix``
    are files of ``directory``; anything else is a 404."""

    def fetch(url: str, dest: Path) -> None:
        if not url.startswith(prefix):
            raise RuntimeError(f"404 {url}")
        source = directory / url[len(prefix) :]
        if not source.is_file():
            raise RuntimeError(f"404 {url}")
        shutil.copy(source, dest)

    return fetch


@pytest.fixture
def outside_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server of ``tmp_path/www`` on this host's non-loopback address, which a
    sandbox with network reaches."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer((host_address(), 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host_address()}:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def test_buildrequires_come_from_the_projects_repository(
    tmp_path: Path, build_srpm: BuildSrpm, make_task: Callable[..., RpmTask], host_arch: str
) -> None:
    repo = make_repo(tmp_path / "repo", ("libfoo", {"foo_version": "2.5"}))
    task = make_task(
        build_srpm("foouser"),
        repos=(BuildRepo(SERVER, id="copr_base", served=True),),
        fetch=served_by(SERVER, repo),
    )
    result, output = build(task)
    assert result.state == "succeeded", output
    assert result.packages == [Nevra("foouser", None, "1.0", "1", host_arch)]
    # %build compiled against the header and ran the script the repository's package has.
    assert "built against libfoo 2.5 (-DLIBFOO_FROM_CONFIG=2.5)" in output
    assert "libfoo data" in output  # the runtime package came with -devel
    assert "[buildroot] installed: libfoo-devel-2.5-1.noarch from copr_base" in output
    assert "[buildroot] installed: libfoo-2.5-1.noarch from copr_base" in output
    # Debian has no rpm database: what no repository has is taken as the host's.
    if buildroot.host_rpmdb() is None:
        assert "assumed from the host's toolchain (no rpm database here): gcc" in output
    log = (task.outdir / "root.log").read_text()
    assert "installed: libfoo-devel-2.5-1.noarch from copr_base" in log
    assert f"repository copr_base: {SERVER} (priority 99, this server)" in log
    # Nothing of it reached the host, and no mount outlived the build.
    assert not Path("/usr/include/libfoo.h").exists()
    assert not Path("/usr/bin/libfoo-config").exists()
    assert "coprd-buildroot" not in Path("/proc/self/mountinfo").read_text()


def test_the_build_cannot_see_or_change_its_buildroot_below_the_overlay(
    tmp_path: Path, build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    repo = make_repo(tmp_path / "repo", ("libfoo", {}))
    probe = (
        'test -z "$(ls -A /builddir/buildroot)$(ls -A /builddir/fetched)"'
        " && echo BUILDROOT-HIDDEN; echo x > /usr/include/libfoo.h || echo USR-READ-ONLY"
    )
    task = make_task(
        build_srpm("foouser", extra_build=probe),
        repos=(BuildRepo(SERVER, id="copr_base", served=True),),
        fetch=served_by(SERVER, repo),
    )
    result, output = build(task)
    assert result.state == "succeeded", output
    assert "BUILDROOT-HIDDEN" in output
    assert "USR-READ-ONLY" in output
    tree = task.workdir / "buildroot/tree/usr/include/libfoo.h"
    assert tree.read_text() == '#define LIBFOO_VERSION "1.0"\n'


def test_an_additional_repository_is_fetched_from_inside_the_sandbox(
    tmp_path: Path,
    build_srpm: BuildSrpm,
    make_task: Callable[..., RpmTask],
    outside_server: tuple[str, Path],
) -> None:
    url, root = outside_server
    make_repo(root / "extra", ("libfoo", {"foo_version": "3.1"}))
    task = make_task(
        build_srpm("foouser"),
        repos=(BuildRepo(url + "extra/", id="extra"),),
        fetch=None,  # the agent fetches nothing itself for such a repository
    )
    result, output = build(task)
    assert result.state == "succeeded", output
    assert "built against libfoo 3.1" in output
    assert "[buildroot] installed: libfoo-devel-3.1-1.noarch from extra" in output


def test_priorities_are_dnfs_the_lower_number_wins(
    tmp_path: Path,
    build_srpm: BuildSrpm,
    make_task: Callable[..., RpmTask],
    outside_server: tuple[str, Path],
) -> None:
    url, root = outside_server
    project = make_repo(tmp_path / "repo", ("libfoo", {"foo_version": "1.0"}))
    make_repo(root / "newer", ("libfoo", {"foo_version": "9.0"}))
    task = make_task(
        build_srpm("foouser"),
        repos=(
            BuildRepo(SERVER, id="copr_base", priority=10, served=True),
            BuildRepo(url + "newer/", id="newer", priority=50),
        ),
        fetch=served_by(SERVER, project),
    )
    result, output = build(task)
    assert result.state == "succeeded", output
    assert "built against libfoo 1.0" in output  # the older one, of the preferred repo


def test_a_requirement_nobody_provides_is_assumed_on_a_host_without_rpmdb(
    tmp_path: Path,
    build_srpm: BuildSrpm,
    make_task: Callable[..., RpmTask],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(buildroot, "host_rpmdb", lambda: None)
    repo = make_repo(tmp_path / "repo", ("libfoo", {}))
    task = make_task(
        build_srpm("foouser", extra_requires="no-such-tool >= 2"),
        repos=(BuildRepo(SERVER, id="copr_base", served=True),),
        fetch=served_by(SERVER, repo),
    )
    result, output = build(task)
    assert result.state == "succeeded", output
    line = "[buildroot] assumed from the host's toolchain (no rpm database here): no-such-tool >= 2"
    assert line in output


@pytest.fixture
def fake_rpmdb(tmp_path: Path, build_binary_rpm: Callable[[str], Path]) -> Path:
    """An rpm database (a Fedora host's, in miniature) that has the package hello."""
    dbpath = tmp_path / "rpmdb"
    dbpath.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C"}
    subprocess.run(["rpm", "--dbpath", str(dbpath), "--initdb"], check=True, env=env)
    subprocess.run(
        [
            "rpm",
            "--dbpath",
            str(dbpath),
            "-i",
            "--justdb",
            "--nodeps",
            str(build_binary_rpm("hello")),
        ],
        check=True,
        env=env,
    )
    for path in [tmp_path, dbpath, *dbpath.iterdir()]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return dbpath


def test_a_requirement_nobody_provides_fails_as_mock_fails_on_a_host_with_rpmdb(
    tmp_path: Path,
    build_srpm: BuildSrpm,
    make_task: Callable[..., RpmTask],
    monkeypatch: pytest.MonkeyPatch,
    fake_rpmdb: Path,
) -> None:
    monkeypatch.setattr(buildroot, "host_rpmdb", lambda: fake_rpmdb)
    repo = make_repo(tmp_path / "repo", ("libfoo", {}))
    task = make_task(
        build_srpm("foouser", extra_requires="hello"),
        repos=(BuildRepo(SERVER, id="copr_base", served=True),),
        fetch=served_by(SERVER, repo),
    )
    result, output = build(task)
    # gcc is in no repository and not in this rpm database: the build stops there.
    assert result.message == "No matching package to install: 'gcc'", output
    assert result == RpmResult("failed", [], "No matching package to install: 'gcc'")
    assert "[buildroot] from the host: hello" in output
    assert "No matching package to install: 'gcc'" in (task.outdir / "root.log").read_text()
    assert "rpmbuild --rebuild" not in output.split("[buildroot] No matching")[-1]


def test_buildroot_packages_of_the_chroot_are_installed_too(
    tmp_path: Path,
    build_srpm: BuildSrpm,
    make_task: Callable[..., RpmTask],
) -> None:
    repo = make_repo(tmp_path / "repo", ("libfoo", {}))
    task = make_task(
        build_srpm("hello"),
        repos=(BuildRepo(SERVER, id="copr_base", served=True),),
        buildroot_pkgs=("libfoo-devel",),
        fetch=served_by(SERVER, repo),
    )
    result, output = build(task)
    assert result.state == "succeeded", output
    assert "[buildroot] installed: libfoo-devel-1.0-1.noarch from copr_base" in output


def test_an_unreachable_additional_repository_fails_the_build(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    task = make_task(
        build_srpm("foouser"), repos=(BuildRepo("http://127.0.0.1:9/repo/", id="gone"),)
    )
    result, _ = build(task)
    assert result.state == "failed"
    assert result.message.startswith("could not fetch http://127.0.0.1:9/repo/repodata/repomd.xml")


def test_a_build_without_buildrequires_needs_no_repository(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    task = make_task(build_srpm("hello"), repos=(BuildRepo("http://127.0.0.1:9/r/", id="gone"),))
    result, output = build(task)
    assert result.state == "succeeded", output
    assert "BuildRequires and buildroot packages: 0" in (task.outdir / "root.log").read_text()
