"""The local backend: ``rpmbuild --rebuild`` in a bubblewrap sandbox, with the host's toolchain.

Works on any host with rpm and bubblewrap, Debian included. The chroot decides the
distribution macros (``%dist``, ``%fedora``, ``%rhel`` …, see ``macros.py``) and the rpm
target; the toolchain is the host's, so the result is only as close to the real distribution
as the host is. In particular:

* BuildRequires (and the chroot's ``buildroot_pkgs``) are resolved against the task's
  repositories (the project's own first, then its additional ones, with their priorities);
  what those provide is installed into a tree the build sees over the host's ``/usr``,
  what only the host has is the host's, and what nobody has fails the build, or, on a host
  without an rpm database (Debian), is assumed to be the host's (``buildroot.py``). The
  record is ``root.log``. rpmbuild then runs with ``--nodeps``: its own check would consult
  the host's rpm database, which knows nothing of the tree. mock's ``modules``,
  ``isolation`` and ``bootstrap`` cannot be honoured; the log says so and the build goes
  on. ``with_opts``/``without_opts`` (``--with``/``--without``), the timeout, the memory
  limit and the network setting apply.
* Only the host's own architecture can be built: ``--target s390x`` on x86_64 would label
  x86_64 code s390x, so such a task fails with a message instead.

Layout of the work directory (mounted at ``/builddir`` in the sandbox)::

    srpm/<name>.src.rpm   a copy of the task's SRPM (a copy, so the build cannot alter it)
    buildroot/, fetched/  the buildroot being made (``buildroot.py``); hidden from rpmbuild
    build/                %_topdir: SOURCES, SPECS, BUILD, BUILDROOT, RPMS, SRPMS
    tmp/                  %_tmppath (rpm's scriptlet files)
    .rpmdb/               Debian's rpm keeps its (empty) database under $HOME

Collecting results runs on the host as the agent's user, over files the build wrote, so it
trusts nothing in them. The work directory is opened as a
:class:`~coprd.builder.confined.ConfinedDir` before rpmbuild starts and the RPMs are read
through it (:func:`~coprd.builder.backends.base.collect_packages`): if the build replaced
``build/`` or ``build/RPMS`` by a symlink the task fails ("build is a symlink"); a symlink,
FIFO or device inside ``build/RPMS`` (a subdirectory included) is skipped with a note; each
copy is checked to be an intact binary RPM and stored under the canonical
``name-version-release.arch.rpm`` whatever the build called it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable

from coprd.builder.backends.base import (
    RpmResult,
    RpmTask,
    collect_packages,
    failed,
    rpm_result,
    srpm_problem,
    write_note,
)
from coprd.builder.buildroot import BuildrootCanceled, BuildrootFailed, prepare
from coprd.builder.confined import ConfinedDir
from coprd.builder.macros import chroot_macros, chroot_target
from coprd.builder.sandbox import (
    SANDBOX_WORKDIR,
    SandboxSpec,
    SandboxUnavailable,
    run_sandboxed,
)

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
        mock_only = [
            f"{name} {value}"
            for name, value in (
                ("modules", " ".join(task.modules)),
                ("isolation", "" if task.isolation == "default" else task.isolation),
                ("bootstrap", "" if task.bootstrap == "default" else task.bootstrap),
            )
            if value
        ]
        if mock_only:
            write_note(
                on_output,
                "the local backend has no module streams, isolation modes or bootstrap "
                f"chroot (mock's); not used: {'; '.join(mock_only)}",
            )
        write_note(
            on_output,
            f"rpmbuild --rebuild {task.srpm.name} for {task.chroot} with the host's toolchain "
            f"in a bubblewrap sandbox, network {'on' if task.enable_net else 'off'}",
        )

        task.workdir.mkdir(parents=True, exist_ok=True)
        # Taken before the build runs: everything read back afterwards goes through it.
        with ConfinedDir(task.workdir) as files:
            # Whatever an earlier build left here (a symlink included) is replaced.
            for directory in ("srpm", "build", "tmp"):
                files.remove(directory)
                files.make_dir(directory)
            name = task.srpm.name if _SRPM_NAME.fullmatch(task.srpm.name) else "package.src.rpm"
            with task.srpm.open("rb") as source, files.create_file(f"srpm/{name}") as copy:
                shutil.copyfileobj(source, copy)
            started = time.monotonic()
            try:
                buildroot = prepare(task, files, on_output, cancel)
            except BuildrootCanceled:
                write_note(on_output, "canceled")
                return RpmResult("canceled", [], "canceled")
            except BuildrootFailed as error:
                return failed(on_output, str(error))
            # The buildroot's time is the task's too.
            left = task.timeout_s - (time.monotonic() - started)
            if left <= 0:
                return failed(on_output, f"timed out after {task.timeout_s:.0f} s")
            argv = _rpmbuild_argv(task, target, name)
            spec = SandboxSpec(
                workdir=task.workdir,
                network=task.enable_net,
                timeout_s=left,
                memory_bytes=task.memory_bytes,
                policy=task.sandbox,
                usr_overlay=buildroot.usr,
                hidden=buildroot.hidden,
            )
            try:
                result = run_sandboxed(argv, spec, on_output, cancel)
            except SandboxUnavailable as error:
                return failed(on_output, str(error))
            return rpm_result(
                "rpmbuild",
                result,
                on_output,
                lambda: collect_packages(
                    files,
                    "build/RPMS",
                    task.outdir,
                    on_output,
                    max_files=task.max_result_files,
                    max_bytes=task.max_result_bytes,
                    besides_files=task.reserved_files,
                    besides_bytes=task.reserved_bytes,
                ),
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
