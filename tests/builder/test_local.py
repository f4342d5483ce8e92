"""The local backend: real rpmbuild in a real bubblewrap sandbox, with the chroot's macros."""

from __future__ import annotations

import secrets
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coprd.builder.backends import LocalBackend, RpmResult, RpmTask
from coprd.builder.sandbox import SandboxPolicy
from coprd.builder.srpm import Nevra
from coprd.config import Settings
from tests.builder.conftest import Build, BuildSrpm, binary_rpms, processes_with, requires_tools
from tests.network import host_address

pytestmark = requires_tools


def build(task: RpmTask, cancel: threading.Event | None = None) -> tuple[RpmResult, str]:
    runner = Build(LocalBackend(), task)
    if cancel is not None:
        runner.cancel = cancel
    result = runner.run()
    return result, runner.output.decode()


@pytest.mark.parametrize(
    ("release", "dist", "line"),
    [
        ("fedora-45", ".fc45", "dist=.fc45 fedora=45 rhel= epel="),
        ("fedora-rawhide", ".fc46", "dist=.fc46 fedora=46 rhel= epel="),
        ("epel-9", ".el9", "dist=.el9 fedora= rhel=9 epel=9"),
        ("centos-stream-10", ".el10", "dist=.el10 fedora= rhel=10 epel="),
        ("opensuse-tumbleweed", "", "dist= fedora= rhel= epel="),
    ],
)
def test_chroot_macros_reach_the_build(
    build_srpm: BuildSrpm,
    make_task: Callable[..., RpmTask],
    host_arch: str,
    release: str,
    dist: str,
    line: str,
) -> None:
    task = make_task(build_srpm("archinfo"), chroot=f"{release}-{host_arch}")
    result, output = build(task)
    assert result.state == "succeeded", output
    assert result.packages == [Nevra("archinfo", None, "2.0", f"3{dist}", host_arch)]
    assert f"archinfo: arch={host_arch} target={host_arch} {line} foo=0 bar=1" in output
    assert binary_rpms(task.outdir) == [f"archinfo-2.0-3{dist}.{host_arch}.rpm"]


def test_with_and_without_options(build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]) -> None:
    task = make_task(build_srpm("archinfo"), with_opts=("foo",), without_opts=("bar",))
    result, output = build(task)
    assert result.state == "succeeded", output
    assert "foo=1 bar=0" in output


def test_only_the_hosts_architecture(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask], host_arch: str
) -> None:
    other = "s390x" if host_arch != "s390x" else "x86_64"
    task = make_task(build_srpm("hello"), chroot=f"fedora-45-{other}")
    result, _ = build(task)
    assert result == RpmResult(
        "failed", [], f"this builder's local backend builds for {host_arch} only, not {other}"
    )
    assert not task.workdir.exists()  # refused before anything was prepared


def test_mocks_own_settings_are_noted_not_fatal(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    task = make_task(
        build_srpm("hello"),
        modules=("nodejs:20", "!perl"),
        isolation="nspawn",
        bootstrap="image",
    )
    result, output = build(task)
    assert result.state == "succeeded"
    assert "not used: modules nodejs:20 !perl; isolation nspawn; bootstrap image" in output, output


def test_failure_names_rpmbuilds_exit_status(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    result, output = build(make_task(build_srpm("failing")))
    assert result == RpmResult("failed", [], "rpmbuild exited with status 1")
    assert "failing: about to fail" in output


def test_outdir_gets_binary_rpms_only(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    task = make_task(build_srpm("hello"))
    result, _ = build(task)
    assert result.state == "succeeded"
    # and the buildroot's record, as mock's root.log is on Copr
    assert sorted(p.name for p in task.outdir.iterdir()) == [
        "hello-1.0-1.fc45.noarch.rpm",
        "root.log",
    ]


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the build's work directory, standing for the server's data."""
    path = tmp_path / "data" / "secret.txt"
    path.parent.mkdir()
    path.write_text("the-server-secret\n")
    return path


def _listen(address: str) -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen(8)
    server.settimeout(5)
    return server


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A service on the host's loopback only (a database, the server of a laptop setup)."""
    with _listen("127.0.0.1") as server:
        yield server


@pytest.fixture
def outward_listener() -> Iterator[socket.socket]:
    """A service on one of the host's other addresses, as a source server would be."""
    with _listen(host_address()) as server:
        yield server


@pytest.mark.parametrize("network", [False, True])
def test_a_spec_cannot_reach_outside_its_sandbox(
    build_srpm: BuildSrpm,
    make_task: Callable[..., RpmTask],
    secret: Path,
    listener: socket.socket,
    outward_listener: socket.socket,
    network: bool,
) -> None:
    port = listener.getsockname()[1]
    outward = "{}/{}".format(*outward_listener.getsockname())
    srpm = build_srpm("probe", probe_path=str(secret), probe_port=str(port), probe_outward=outward)
    result, output = build(make_task(srpm, enable_net=network))
    assert result.state == "succeeded", output
    assert "probe-read: denied" in output
    assert "the-server-secret" not in output
    assert "probe-write: denied" in output
    assert not secret.with_name("secret.txt.written").exists()
    # The host's loopback stays out of reach even with the network on; the network then
    # reaches the host's other addresses, as it would any other machine.
    assert "probe-connect: refused" in output
    assert ("probe-outward: ok" if network else "probe-outward: refused") in output


def test_symlinks_among_the_results_are_not_followed(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask], secret: Path
) -> None:
    task = make_task(build_srpm("planted", probe_path=str(secret)))
    result, output = build(task)
    assert result.state == "succeeded", output
    assert [p.name for p in result.packages] == ["planted"]
    assert "skipped stolen-1-1.noarch.rpm: not a regular file" in output
    assert binary_rpms(task.outdir) == ["planted-1-1.fc45.noarch.rpm"]


@pytest.mark.parametrize(
    ("swap", "holds", "message"),
    [
        ("topdir", "RPMS/noarch", "rpmbuild's results cannot be collected: build is a symlink"),
        ("rpms", "noarch", "rpmbuild's results cannot be collected: build/RPMS is a symlink"),
        ("arch", "", "rpmbuild produced no binary RPMs"),
    ],
)
def test_a_result_directory_swapped_for_a_symlink_publishes_nothing_from_outside(
    build_srpm: BuildSrpm,
    build_binary_rpm: Callable[[str], Path],
    make_task: Callable[..., RpmTask],
    outside: Path,
    swap: str,
    holds: str,
    message: str,
) -> None:
    # The build replaces %_topdir, %_rpmdir or %_rpmdir/noarch by a symlink to the host
    # directory ``outside``, which holds an RPM that is not the build's.
    foreign = outside / holds
    foreign.mkdir(parents=True, exist_ok=True)
    shutil.copy(build_binary_rpm("hello"), foreign)
    task = make_task(build_srpm("swapper", swap=swap, outside=str(outside)))
    result, output = build(task)
    assert "swapper: /builddir/build" in output
    assert result == RpmResult("failed", [], message), output
    assert not task.outdir.exists() or binary_rpms(task.outdir) == []
    if swap == "arch":
        assert "skipped noarch: not a regular file" in output


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_nothing_of_a_stopped_build_keeps_running(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask], how: str
) -> None:
    marker = f"1000.{secrets.randbelow(10**8)}"
    cancel = threading.Event()
    srpm = build_srpm("sleeper", sleep_marker=marker)
    task = make_task(srpm, timeout_s=1 if how == "timeout" else 60)
    if how == "cancel":
        threading.Timer(0.5, cancel.set).start()
    result, output = build(task, cancel)
    assert result.state == ("canceled" if how == "cancel" else "failed")
    assert "sleeper: sleeping" in output
    assert processes_with(marker) == []


def test_a_second_build_in_the_same_workdir_starts_clean(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask], secret: Path
) -> None:
    # Whatever an earlier build left in the work directory, a symlink to a host directory
    # included, is replaced rather than followed.
    task = make_task(build_srpm("hello"))
    task.workdir.mkdir()
    (task.workdir / "build").symlink_to(secret.parent, target_is_directory=True)
    (task.workdir / "srpm").write_text("left over")
    result, _ = build(task)
    assert result.state == "succeeded"
    assert (task.workdir / "build").is_dir() and not (task.workdir / "build").is_symlink()
    assert sorted(p.name for p in secret.parent.iterdir()) == ["secret.txt"]


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("make")), reason="needs gcc, make")
def test_a_make_j_build_passes_within_the_sandbox_limits(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask], host_arch: str
) -> None:
    """32 compilers at once, /tmp written: the limits of issue 11 let an ordinary parallel
    build through."""
    defaults = SandboxPolicy.of(Settings())  # as coprd worker makes it
    task = make_task(build_srpm("parallel"), sandbox=defaults)
    result, output = build(task)
    assert result.state == "succeeded", output
    assert result.packages[0].name == "parallel"
    assert "\n65\n" in output  # every object file went through /tmp
