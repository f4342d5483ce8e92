"""The mock backend: the real mock, with the chroot's own config, on a Fedora or EL builder.

Needs a host where mock and its configs for the chroots (``/etc/mock/<chroot>.cfg``, from
mock-core-configs) are installed, and an agent user allowed to run mock (member of the
``mock`` group). mock is not packaged for Debian; on such hosts use the local backend.
Running it needs mock; the tests run a script in its place.

The command is ``mock -r <chroot> --rebuild <srpm> --resultdir <workdir>/results`` plus, per
task:

* network: ``--enable-network`` (mock turns on ``rpmbuild_networking`` and the host's
  resolv.conf), otherwise both are turned off explicitly with ``--config-opts``, so that a
  site-wide mock config cannot switch them on for a project that did not ask;
* ``--with=``/``--without=`` for the bconds, ``--addrepo=`` for each extra repository;
* buildroot packages with ``--additional-package=`` (mock ≥ 2.13, ``--rebuild`` mode only),
  which installs them after the chroot's minimal buildroot as Copr's generated
  ``chroot_additional_packages`` config does, without writing a config file;
* ``--uniqueext``: a name per work directory, so that two builds for the same chroot on one
  host get separate buildroots instead of waiting on each other's lock;
* ``--isolation`` and ``--bootstrap-chroot``/``--no-bootstrap-chroot`` when the agent's
  settings choose them; otherwise the host's mock defaults apply.

mock isolates the build itself (systemd-nspawn or a chroot), so it is not wrapped in
bubblewrap. It runs as its own process group like a sandboxed build: a timeout or cancel
sends SIGTERM (mock then kills what runs in its buildroot and unmounts it) and SIGKILL after
:data:`KILL_GRACE_S`. Processes inside an nspawn container belong to systemd's machine scope
rather than to that group; mock's own SIGTERM handling is what stops them. Where mock runs
setuid (consolehelper) and the agent is not root, the agent's signals may not reach it.
``memory_bytes`` is not enforced here: mock has no per-build limit, and RLIMIT_AS on mock
itself would constrain dnf rather than the build. Limit the agent's cgroup instead.

mock copies the build's RPMs (and the rebuilt SRPM, and its logs) into its result directory,
from a buildroot the build controlled. That directory lies in the work directory and is read
like the local backend's ``build/RPMS``: through a handle taken before mock starts, the
binary RPMs copied into ``outdir`` and nothing followed (``base.collect_packages``); so
are its logs (:data:`MOCK_LOGS`, ``base.collect_logs``), whether the build succeeded or not.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from typing import Literal

from coprd.builder._process import describe_exit, run_process_group
from coprd.builder.backends.base import (
    RpmResult,
    RpmTask,
    collect_logs,
    collect_packages,
    failed,
    rpm_result,
    srpm_problem,
    write_note,
)
from coprd.builder.confined import ConfinedDir

KILL_GRACE_S = 30.0
RESULTS = "results"
"""mock's ``--resultdir``, in the task's work directory."""
MOCK_LOGS = ("build.log", "root.log", "state.log", "hw_info.log", "installed_pkgs.log")
"""The logs mock leaves in its result directory, kept with the results as on Copr."""

Isolation = Literal["nspawn", "simple", "auto"]


def mock_command(
    task: RpmTask,
    *,
    mock: str = "mock",
    isolation: Isolation | None = None,
    bootstrap: bool | None = None,
) -> list[str]:
    """The mock command line that builds ``task``; see the module docstring for each part."""
    command = [mock, "-r", task.chroot, "--resultdir", str(task.workdir / RESULTS)]
    command.append(f"--uniqueext={uniqueext(task)}")
    if task.enable_net:
        command.append("--enable-network")
    else:
        command += [
            "--config-opts=rpmbuild_networking=False",
            "--config-opts=use_host_resolv=False",
        ]
    command += [f"--with={option}" for option in task.with_opts]
    command += [f"--without={option}" for option in task.without_opts]
    command += [f"--addrepo={repo}" for repo in task.repos]
    command += [f"--additional-package={package}" for package in task.buildroot_pkgs]
    if isolation is not None:
        command.append(f"--isolation={isolation}")
    if bootstrap is not None:
        command.append("--bootstrap-chroot" if bootstrap else "--no-bootstrap-chroot")
    command += ["--rebuild", str(task.srpm)]
    return command


def uniqueext(task: RpmTask) -> str:
    """A buildroot suffix that is the same for a work directory and differs between them."""
    return "coprd-" + hashlib.sha256(os.fsencode(task.workdir)).hexdigest()[:12]


class MockBackend:
    """Builds with mock; see the module docstring. Options are the agent's settings."""

    name = "mock"

    def __init__(
        self,
        *,
        mock: str = "mock",
        isolation: Isolation | None = None,
        bootstrap: bool | None = None,
    ) -> None:
        self.mock = mock
        self.isolation: Isolation | None = isolation
        self.bootstrap = bootstrap

    def build_rpm(
        self,
        task: RpmTask,
        on_output: Callable[[bytes], None],
        cancel: threading.Event | None = None,
    ) -> RpmResult:
        """Run mock for ``task``; the binary RPMs it makes are copied into ``task.outdir``."""
        executable = shutil.which(self.mock)
        if executable is None:
            return failed(on_output, f"mock ({self.mock}) is not installed on this builder")
        problem = srpm_problem(task)
        if problem is not None:
            return failed(on_output, problem)
        if task.memory_bytes is not None:
            write_note(on_output, "the mock backend does not enforce a memory limit")
        task.workdir.mkdir(parents=True, exist_ok=True)
        with ConfinedDir(task.workdir) as files:
            files.remove(RESULTS)
            files.make_dir(RESULTS)
            command = mock_command(
                task, mock=executable, isolation=self.isolation, bootstrap=self.bootstrap
            )
            write_note(on_output, " ".join(command))
            env = {
                "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
                "LANG": "C.UTF-8",
                "HOME": os.environ.get("HOME", str(task.workdir)),
            }
            result = run_process_group(
                command,
                env=env,
                on_output=on_output,
                timeout_s=task.timeout_s,
                cancel=cancel,
                kill_grace_s=KILL_GRACE_S,
                cwd=str(task.workdir),
            )
            logs = collect_logs(
                files,
                RESULTS,
                MOCK_LOGS,
                task.outdir,
                on_output,
                max_files=task.max_result_files - task.reserved_files,
                max_bytes=task.max_result_bytes - task.reserved_bytes,
            )
            return rpm_result(
                "mock",
                result,
                on_output,
                lambda: collect_packages(
                    files,
                    RESULTS,
                    task.outdir,
                    on_output,
                    max_files=task.max_result_files,
                    max_bytes=task.max_result_bytes,
                    besides_files=task.reserved_files + len(logs),
                    besides_bytes=task.reserved_bytes + sum(log.stat().st_size for log in logs),
                ),
                exit_text=describe_exit(result.returncode),
            )
