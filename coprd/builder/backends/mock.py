"""The mock backend: the real mock, with the chroot's own config, on a Fedora or EL builder.

Needs a host where mock and its configs for the chroots (``/etc/mock/<chroot>.cfg``, from
mock-core-configs) are installed, and an agent user allowed to run mock (member of the
``mock`` group). mock is not packaged for Debian; on such hosts use the local backend.
Running it needs mock; the tests run a script in its place.

The task's settings go into a mock config file of its own, ``coprd-mock.cfg`` in the
work directory, which includes the chroot's (``include('/etc/mock/<chroot>.cfg')``) and sets,
as Copr's builders do:

* network: ``rpmbuild_networking`` and ``use_host_resolv``, on or off explicitly, so that a
  site-wide mock config cannot switch them on for a project that did not ask;
* buildroot packages as ``chroot_additional_packages`` (installed after the minimal
  buildroot);
* the buildroot's repositories as sections of ``dnf.conf``, each with its ``priority`` and
  ``module_hotfixes``;
* module streams to enable or disable before the build (``module_setup_commands``);
* ``isolation`` (simple, nspawn) and the bootstrap chroot (``use_bootstrap``,
  ``use_bootstrap_image``, ``bootstrap_image``), from the task; where the task says
  ``default``, the agent's own setting (``MockBackend(isolation=…, bootstrap=…)``) or else
  the host's mock defaults apply.

Every value is written as a Python literal (``repr``) and the repository lines were checked
to be single printable lines (``RpmTask``), so nothing a user typed can add code or a dnf
option to the file. The command is ``mock -r <workdir>/coprd-mock.cfg --resultdir
<workdir>/results --uniqueext=… --with=… --without=… --rebuild <srpm>``; ``--uniqueext`` is a
name per work directory, so that two builds for the same chroot on one host get separate
buildroots instead of waiting on each other's lock.

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
    BuildRepo,
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

CONFIG = "coprd-mock.cfg"
"""The task's mock config, in its work directory."""

Isolation = Literal["nspawn", "simple", "auto"]


def mock_config(
    task: RpmTask, *, isolation: Isolation | None = None, bootstrap: bool | None = None
) -> str:
    """The text of the task's mock config (see the module docstring). ``isolation`` and
    ``bootstrap`` are the agent's settings, used where the task says ``default``."""
    opts: list[tuple[str, object]] = [
        ("rpmbuild_networking", task.enable_net),
        ("use_host_resolv", task.enable_net),
    ]
    if task.buildroot_pkgs:
        opts.append(("chroot_additional_packages", " ".join(task.buildroot_pkgs)))
    chosen = task.isolation if task.isolation != "default" else isolation
    if chosen is not None:
        opts.append(("isolation", chosen))
    if task.bootstrap == "on" or (task.bootstrap == "default" and bootstrap is True):
        opts += [("use_bootstrap", True), ("use_bootstrap_image", False)]
    elif task.bootstrap == "off" or (task.bootstrap == "default" and bootstrap is False):
        opts += [("use_bootstrap", False), ("use_bootstrap_image", False)]
    elif task.bootstrap in ("image", "custom_image"):
        opts += [("use_bootstrap", True), ("use_bootstrap_image", True)]
        if task.bootstrap_image:
            opts.append(("bootstrap_image", task.bootstrap_image))
    if task.modules:
        commands = [
            ("disable", m[1:]) if m.startswith("!") else ("enable", m) for m in task.modules
        ]
        opts.append(("module_setup_commands", commands))
    lines = [
        "# Written by coprd for one build.",
        f"include({f'/etc/mock/{task.chroot}.cfg'!r})",
        *(f"config_opts[{key!r}] = {value!r}" for key, value in opts),
    ]
    if task.repos:
        sections = "".join(_dnf_section(repo, i) for i, repo in enumerate(task.repos))
        lines.append(f"config_opts['dnf.conf'] += {sections!r}")
    return "\n".join(lines) + "\n"


def _dnf_section(repo: BuildRepo, index: int) -> str:
    # Ids must differ; two repositories may sanitize to the same one.
    ident = repo.id if index == 0 else f"{repo.id}-{index}"
    lines = [
        "",
        f"[{ident}]",
        f"name={repo.name or ident}",
        f"baseurl={repo.baseurl}",
        "gpgcheck=0",
        "enabled=1",
        "skip_if_unavailable=0",
        "metadata_expire=0",
        "cost=1",
        "best=1",
    ]
    if repo.priority is not None:
        lines.append(f"priority={repo.priority}")
    if repo.module_hotfixes:
        lines.append("module_hotfixes=1")
    return "\n".join(lines) + "\n"


def mock_command(task: RpmTask, *, mock: str = "mock") -> list[str]:
    """The mock command line that builds ``task`` with its config file (:data:`CONFIG`)."""
    command = [mock, "-r", str(task.workdir / CONFIG), "--resultdir", str(task.workdir / RESULTS)]
    command.append(f"--uniqueext={uniqueext(task)}")
    command += [f"--with={option}" for option in task.with_opts]
    command += [f"--without={option}" for option in task.without_opts]
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
            files.remove(CONFIG)
            config = mock_config(task, isolation=self.isolation, bootstrap=self.bootstrap)
            with files.create_file(CONFIG) as out:
                out.write(config.encode())
            command = mock_command(task, mock=executable)
            write_note(on_output, " ".join(command))
            for line in config.splitlines():
                write_note(on_output, f"{CONFIG}: {line}")
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
