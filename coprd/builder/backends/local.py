"""The local backend: ``rpmbuild --rebuild`` in a bubblewrap sandbox, with the host's toolchain.

Works on any host with rpm and bubblewrap, Debian included. The chroot decides the
distribution macros (``%dist``, ``%fedora``, ``%rhel`` …, see ``macros.py``) and the rpm
target; the toolchain is the host's, so the result is only as close to the real distribution
as the host is. In particular:

* BuildRequires are neither installed nor checked (``rpmbuild --nodeps``): a missing tool
  fails the build where it is used. ``buildroot_pkgs`` and ``repos`` cannot be honoured either;
  the log says so and the build goes on.
* Only the host's own architecture can be built: ``--target s390x`` on x86_64 would label
  x86_64 code s390x, so such a task fails with a message instead.

Layout of the work directory (mounted at ``/builddir`` in the sandbox)::

    srpm/<name>.src.rpm   a copy of the task's SRPM (a copy, so the build cannot alter it)
    build/                %_topdir: SOURCES, SPECS, BUILD, BUILDROOT, RPMS, SRPMS
    tmp/                  %_tmppath (rpm's scriptlet files)
    .rpmdb/               Debian's rpm keeps its (empty) database under $HOME

Collecting results runs on the host as the agent's user, over files the build wrote, so it
trusts nothing in them: only regular files are copied (``O_NOFOLLOW``; symlinks, FIFOs and
devices are skipped with a note), each copy is checked to be an intact binary RPM, and it is
stored under the canonical ``name-version-release.arch.rpm`` whatever the build called it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from coprd.builder.backends.base import (
    RpmResult,
    RpmTask,
    failed,
    rpm_result,
    srpm_problem,
    write_note,
)
from coprd.builder.macros import chroot_macros, chroot_target
from coprd.builder.sandbox import (
    SANDBOX_WORKDIR,
    SandboxSpec,
    SandboxUnavailable,
    run_sandboxed,
)
from coprd.builder.srpm import InvalidPackage, Nevra, inspect_rpm

# Set by --target; defining them as well would only repeat it.
_TARGET_MACROS = frozenset({"_arch", "_target_cpu"})
# The SRPM keeps its name inside the sandbox when it is an ordinary file name.
_SRPM_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+~^-]*\.rpm")


@functools.cache
def host_target_cpu() -> str:
    """The architecture this host's rpm builds for natively (``rpm --eval %{_target_cpu}``)."""
    done = subprocess.run(
        ["rpm", "--eval", "%{_target_cpu}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
    )
    return done.stdout.strip()


class LocalBackend:
    """Builds with the host's rpmbuild inside bubblewrap; see the module docstring."""

    name = "local"

    def __init__(self, *, host_arch: str | None = None) -> None:
        self._host_arch = host_arch

    @property
    def host_arch(self) -> str:
        """The only rpm target this backend builds for."""
        return self._host_arch or host_target_cpu()

    def build_rpm(
        self,
        task: RpmTask,
        on_output: Callable[[bytes], None],
        cancel: threading.Event | None = None,
    ) -> RpmResult:
        """Rebuild ``task.srpm`` for ``task.chroot``; binary RPMs end up in ``task.outdir``."""
        target = chroot_target(task.chroot)
        if target != self.host_arch:
            return failed(
                on_output,
                f"this builder's local backend builds for {self.host_arch} only, not {target}",
            )
        problem = srpm_problem(task)
        if problem is not None:
            return failed(on_output, problem)
        if task.repos:
            write_note(
                on_output,
                "the local backend cannot add repositories to the buildroot; "
                f"not used: {' '.join(task.repos)}",
            )
        if task.buildroot_pkgs:
            write_note(
                on_output,
                "the local backend cannot install packages into the buildroot; "
                f"not installed: {' '.join(task.buildroot_pkgs)}",
            )
        write_note(
            on_output,
            f"rpmbuild --rebuild {task.srpm.name} for {task.chroot} with the host's toolchain "
            f"in a bubblewrap sandbox, network {'on' if task.enable_net else 'off'}; "
            "BuildRequires are not installed or checked",
        )

        task.workdir.mkdir(parents=True, exist_ok=True)
        srpm_dir = _fresh_dir(task.workdir / "srpm")
        topdir = _fresh_dir(task.workdir / "build")
        _fresh_dir(task.workdir / "tmp")
        name = task.srpm.name if _SRPM_NAME.fullmatch(task.srpm.name) else "package.src.rpm"
        srpm_copy = srpm_dir / name
        shutil.copyfile(task.srpm, srpm_copy)
        argv = _rpmbuild_argv(task, target, srpm_copy.name)
        spec = SandboxSpec(
            workdir=task.workdir,
            network=task.enable_net,
            timeout_s=task.timeout_s,
            memory_bytes=task.memory_bytes,
            policy=task.sandbox,
        )
        try:
            result = run_sandboxed(argv, spec, on_output, cancel)
        except SandboxUnavailable as error:
            return failed(on_output, str(error))
        return rpm_result(
            "rpmbuild", result, on_output, lambda: _collect(topdir / "RPMS", task.outdir, on_output)
        )


def _rpmbuild_argv(task: RpmTask, target: str, srpm_name: str) -> list[str]:
    inside = SANDBOX_WORKDIR
    argv = [
        "rpmbuild",
        "--rebuild",
        "--nodeps",
        "--target",
        target,
        "--define",
        f"_topdir {inside / 'build'}",
        "--define",
        f"_tmppath {inside / 'tmp'}",
    ]
    for name, value in chroot_macros(task.chroot).items():
        if name not in _TARGET_MACROS:
            argv += ["--define", f"{name} {value}"]
    argv += [f"--with={option}" for option in task.with_opts]
    argv += [f"--without={option}" for option in task.without_opts]
    argv.append(str(inside / "srpm" / srpm_name))
    return argv


def _fresh_dir(path: Path) -> Path:
    """An empty directory at ``path``, whatever was there (a symlink is removed, not followed)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _collect(rpms_dir: Path, outdir: Path, on_output: Callable[[bytes], None]) -> list[Nevra]:
    """Copy the binary RPMs the build left under ``rpms_dir`` into ``outdir``; see module doc."""
    try:
        if not stat.S_ISDIR(rpms_dir.lstat().st_mode):
            return []
    except FileNotFoundError:
        return []
    outdir.mkdir(parents=True, exist_ok=True)
    packages: list[Nevra] = []
    seen: set[Path] = set()
    for root, _dirs, files in os.walk(rpms_dir, followlinks=False):
        for filename in sorted(files):
            if not filename.endswith(".rpm") or filename.endswith(".src.rpm"):
                continue
            nevra = _copy_package(Path(root) / filename, outdir, seen, on_output)
            if nevra is not None:
                packages.append(nevra)
    return sorted(packages, key=str)


def _copy_package(
    source: Path, outdir: Path, seen: set[Path], on_output: Callable[[bytes], None]
) -> Nevra | None:
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        write_note(on_output, f"skipped {source.name}: not a regular file")
        return None
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            write_note(on_output, f"skipped {source.name}: not a regular file")
            return None
        partial = outdir / f".incoming-{source.name}"
        with partial.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    try:
        nevra = inspect_rpm(partial)
    except InvalidPackage:
        partial.unlink()
        raise
    final = outdir / f"{nevra.name}-{nevra.version}-{nevra.release}.{nevra.arch}.rpm"
    if final in seen:
        partial.unlink()
        write_note(on_output, f"skipped {source.name}: a second copy of {nevra}")
        return None
    partial.replace(final)
    seen.add(final)
    return nevra
