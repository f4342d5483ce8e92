"""Fixtures: SRPMs built from the spec files in ``data/`` with the host's real rpmbuild."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from coprd.builder.backends import Backend, RpmResult, RpmTask
from coprd.builder.backends.local import host_target_cpu

DATA = Path(__file__).parent / "data"

BuildSrpm = Callable[..., Path]

requires_tools = pytest.mark.skipif(
    not (shutil.which("rpmbuild") and shutil.which("bwrap")),
    reason="needs rpmbuild and bubblewrap",
)


def _rpmbuild(args: list[str], topdir: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(topdir)}
    subprocess.run(
        ["rpmbuild", "--define", f"_topdir {topdir}", *args],
        check=True,
        capture_output=True,
        env=env,
    )


@pytest.fixture
def build_srpm(tmp_path: Path) -> BuildSrpm:
    """``build_srpm("hello", probe_port="8080")``: the SRPM of ``data/hello.spec``.

    Keyword arguments become ``%global`` lines put before the spec, which is how the probe
    and sleeper specs get their paths, ports and markers.
    """

    def build(name: str, **macros: str) -> Path:
        topdir = tmp_path / f"srpm-{name}-{len(list(tmp_path.glob('srpm-*')))}"
        topdir.mkdir()
        lines = [f"%global {key} {value}\n" for key, value in macros.items()]
        spec = topdir / f"{name}.spec"
        spec.write_text("".join(lines) + (DATA / f"{name}.spec").read_text())
        _rpmbuild(["-bs", str(spec)], topdir)
        (srpm,) = (topdir / "SRPMS").glob("*.src.rpm")
        return srpm

    return build


@pytest.fixture
def build_binary_rpm(tmp_path: Path) -> Callable[[str], Path]:
    """The binary RPM of a ``data/`` spec, built on the host without a sandbox."""

    def build(name: str) -> Path:
        topdir = tmp_path / f"rpm-{name}"
        topdir.mkdir()
        _rpmbuild(["-bb", str(DATA / f"{name}.spec")], topdir)
        (rpm,) = (topdir / "RPMS").rglob("*.rpm")
        return rpm

    return build


@pytest.fixture
def outside() -> Iterator[Path]:
    """An empty host directory under /tmp. A build can plant a symlink to the same path
    and work on through it in the sandbox, whose /tmp is a tmpfs of its own; the agent on
    the host, following that symlink, would land here instead."""
    path = Path(tempfile.mkdtemp(prefix="coprd-outside-", dir="/tmp"))
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="session")
def host_arch() -> str:
    """This host's rpm architecture, which is also the arch of the chroots it can build."""
    return host_target_cpu()


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains ``marker``."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found


class Build:
    """Runs one task and keeps what the backend streamed."""

    def __init__(self, backend: Backend, task: RpmTask) -> None:
        self.backend = backend
        self.task = task
        self.output = bytearray()
        self.cancel = threading.Event()

    def on_output(self, chunk: bytes) -> None:
        self.output += chunk

    def run(self) -> RpmResult:
        return self.backend.build_rpm(self.task, self.on_output, self.cancel)


def rpm_task(srpm: Path, tmp_path: Path, host_arch: str, **changes: Any) -> RpmTask:
    """A task for ``fedora-45-<host arch>`` working in ``tmp_path``, changed as given."""
    task = RpmTask(
        srpm=srpm,
        chroot=f"fedora-45-{host_arch}",
        outdir=tmp_path / "out",
        workdir=tmp_path / "work",
        enable_net=False,
        timeout_s=120,
        memory_bytes=None,
        with_opts=(),
        without_opts=(),
        repos=(),
        buildroot_pkgs=(),
    )
    return replace(task, **changes)


@pytest.fixture
def make_task(tmp_path: Path, host_arch: str) -> Callable[..., RpmTask]:
    """``make_task(srpm, timeout_s=2)``: a task for ``fedora-45-<host arch>``, changed as given."""

    def make(srpm: Path, **changes: Any) -> RpmTask:
        return rpm_task(srpm, tmp_path, host_arch, **changes)

    return make


def binary_rpms(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.rpm") if not p.name.endswith(".src.rpm"))
