"""Run a build command inside bubblewrap: an unprivileged uid in namespaces of its own, the
host's toolchain read-only, one writable directory, limits on everything it can consume.

What the sandboxed command sees:

``/usr``, and ``/bin``, ``/sbin``, ``/lib``, ``/lib64`` … as the host has them
    read-only (symlinks on a merged-/usr host, read-only binds otherwise): the toolchain.
``/builddir``
    the task's work directory, read-write, and the current directory. A fixed path rather
    than the host path: logs, debuginfo and ``%_topdir`` do not reveal or depend on where the
    agent keeps its files, and they read as they do under mock (``/builddir/build``).
``/etc``
    only what rpmbuild and common build tools need: generated ``passwd``, ``group``,
    ``nsswitch.conf`` and ``hosts`` (root, the build's user ``mockbuild`` and nobody;
    localhost and this host's name), and, if the host has them, ``/etc/alternatives``
    (Debian's ``awk`` and friends are symlinks through it), ``/etc/rpm`` and
    ``/etc/ld.so.cache``. With network on, also what name resolution and TLS need: a
    generated ``resolv.conf`` (see ``network.py``), and the host's ``ssl``, ``pki``,
    ``ca-certificates``, ``crypto-policies``, ``services``, ``protocols``.
``/tmp``, ``/var/tmp``
    directories of the work directory (``.coprd-tmp/``), made empty for each command: what
    a build puts there is disk it pays for, not the host's memory.
``/proc``, ``/dev``
    a new procfs for the new pid namespace, with ``/proc/sys`` read-only; a minimal /dev.
``ro_binds``
    extra host paths, read-only, at the same path.
``usr_overlay``
    a directory laid over the host's ``/usr`` (overlayfs, read-only, the directory's files
    winning): the packages the local backend installed into the buildroot
    (``buildroot.py``). bubblewrap before 0.9 cannot mount an overlay, so the overlay is
    mounted over ``/usr`` in a mount namespace of the sandbox's own, made just before
    bubblewrap starts (util-linux's ``unshare``; for a root agent in the host's user
    namespace, then ``setpriv`` to the build uid; for an unprivileged agent in a user
    namespace of its own, which needs Linux 5.11). It never appears on the host.
``hidden``
    paths inside the work directory that the command does not see (an empty tmpfs).

Nothing else of the host: no ``/home``, ``/root``, ``/var``, ``/srv``, ``/run``, no coprd
data directory, no sockets. The rest of ``/`` is a read-only tmpfs. The environment is
``HOME=/builddir``, ``PATH``, ``LANG=C.UTF-8`` and nothing of the agent's.

Who the build is: uid and gid 1000 (``mockbuild``, as in mock's buildroots) in a user
namespace of its own, which is an unprivileged uid on the host: for a root agent, the
build uid of its slot (``workspace.BuildUser``, 2000000000 + slot by default), to which the
work directory is handed before the command runs; for an unprivileged agent, its own uid.
So a build can create no file owned by host root, and a setuid file it makes is its own
uid's. It has no capabilities (``--cap-drop ALL``), may not make user namespaces of its own
(``--disable-userns`` and the filter), and runs under a seccomp filter that refuses what
builds never need (``seccomp.py``: keyrings, mounts, ``bpf``, ``ptrace``-like attacks on
the kernel, …). Namespaces: new user, pid, ipc, uts, cgroup and network namespaces. The
network namespace holds a loopback of its own (so not the host's 127.0.0.1) and, when
``network`` is on, a ``tap0`` that slirp4netns routes to the outside, host loopback refused
(``network.py``).

Limits (``SandboxLimits``, from the agent's settings), each with a sentence in the log when
a build hits it:

- processes: a pids cgroup (``cgroups.py``); the first fork it refuses stops the build
  ("reached its limit of 4096 processes"), so a fork bomb ends at once. Without one,
  ``RLIMIT_NPROC`` on the build's uid and a count of the sandbox's processes.
- memory: the cgroup's ``memory.max`` for everything the build holds; without one,
  ``RLIMIT_AS`` per process (which ``make -j`` multiplies and some runtimes, Go, Java or
  ASan, trip over). A task may ask for less than the agent's limit, never more.
- disk: the work directory may not hold more than a size and a number of files
  (``disk.py``, a watcher that stops the build within seconds), and no single file may
  grow past the size (``RLIMIT_FSIZE``). No core dumps (``RLIMIT_CORE`` 0).
- time: ``timeout_s``.

Where the host lacks a piece (``protections.py``), the agent says so at start and the
sandbox runs with what there is, except that without user namespaces it refuses to run at
all unless ``allow_without_userns`` is set: the build would then be the agent's own uid
(for a root agent, uid 0 without capabilities).

How it starts: bubblewrap reports the sandbox's first process on ``--info-fd`` and waits on
``--block-fd`` before it runs the command. Meanwhile that process goes into the task's
cgroup, get their resource limits (inherited by everything the build starts),
and, with network, their interface; only then does the command run, so nothing of the build
ever ran outside its limits.

Stopping: see ``_process.py``. The whole sandbox hangs off bubblewrap's pid-1 process in the
new pid namespace; when it dies the kernel kills every process in the namespace, so a
timeout, a cancel or a limit (SIGTERM to the group, SIGKILL after :data:`KILL_GRACE_S`)
leaves nothing behind, background children and double-forked daemons included; the cgroup,
if any, is emptied and removed as well. ``--die-with-parent`` does the same if the agent
itself dies.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from coprd.builder import protections as host
from coprd.builder._process import ProcessResult, host_tool, read_until, run_process_group
from coprd.builder.cgroups import TaskGroup
from coprd.builder.disk import DiskWatch
from coprd.builder.network import NetworkUnavailable, UserNetwork, resolv_conf
from coprd.builder.seccomp import filter_fd
from coprd.builder.workspace import (
    BuildUser,
    WorkRootError,
    check_reachable,
    hand_over,
    remove,
)
from coprd.config import Settings
from coprd.core.limits import human_size

SANDBOX_WORKDIR = PurePosixPath("/builddir")
SANDBOX_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
SANDBOX_UID = 1000
SANDBOX_USER = "mockbuild"
KILL_GRACE_S = 5.0
# The sandbox's /tmp and /var/tmp, inside the work directory.
TMP_DIR = ".coprd-tmp"
# How long bubblewrap may take to set up the namespaces (and slirp4netns the network).
SETUP_TIMEOUT_S = 15.0
# Without a pids cgroup: how often the sandbox's processes are counted, and at which share
# of the limit the build counts as having hit it (RLIMIT_NPROC refuses forks silently).
_COUNT_EVERY_S = 0.1
_NPROC_HIT_SHARE = 0.95

# Results are the same shape whether or not the command ran in bubblewrap.
SandboxResult = ProcessResult

_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_HOST_ETC = ("alternatives", "rpm", "ld.so.cache")
_HOST_ETC_NETWORK = (
    "ssl",
    "pki",
    "ca-certificates",
    "crypto-policies",
    "services",
    "protocols",
)
MIB = 1024**2
_DEFAULTS = Settings()


class SandboxUnavailable(RuntimeError):
    """bubblewrap (or, for a sandbox with network, slirp4netns) is missing or failed on
    this host, or the host cannot give builds the isolation the agent's settings demand,
    so the command cannot run in a sandbox."""


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandboxed command may consume (see the module docstring); the defaults
    are those of the settings (``build_max_procs``, ``build_memory_mb``, …).

    ``processes`` counts processes and threads; ``memory_bytes`` is the whole command's
    memory (None: no limit beyond the host's); ``disk_bytes`` and ``disk_files`` bound the
    work directory.
    """

    processes: int = _DEFAULTS.build_max_procs
    memory_bytes: int | None = _DEFAULTS.build_memory_bytes
    disk_bytes: int = _DEFAULTS.build_disk_mb * MIB
    disk_files: int = _DEFAULTS.build_max_files

    def __post_init__(self) -> None:
        if self.processes < 16:
            raise ValueError("processes must be at least 16")
        if self.memory_bytes is not None and self.memory_bytes <= 0:
            raise ValueError("memory_bytes must be positive (or None for no limit)")
        if self.disk_bytes <= 0 or self.disk_files <= 0:
            raise ValueError("disk_bytes and disk_files must be positive")

    @classmethod
    def of(cls, settings: Settings) -> SandboxLimits:
        return cls(
            processes=settings.build_max_procs,
            memory_bytes=settings.build_memory_bytes,
            disk_bytes=settings.build_disk_mb * MIB,
            disk_files=settings.build_max_files,
        )


@dataclass(frozen=True)
class SandboxPolicy:
    """What the agent's settings ask of every sandbox it starts: the limits, the host uid
    builds run as (None: the agent's own; a root agent's default is its first build uid),
    and whether builds may run without a user namespace where the host has none."""

    limits: SandboxLimits = field(default_factory=SandboxLimits)
    user: BuildUser | None = field(default_factory=lambda: BuildUser.for_agent(_DEFAULTS.build_uid))
    allow_without_userns: bool = False

    @classmethod
    def of(cls, settings: Settings, slot: int = 0, first_uid: int | None = None) -> SandboxPolicy:
        """The policy of an agent's slot ``slot`` by ``settings``; a root agent's builds in
        it run as ``first_uid`` (default: the ``build_uid`` setting) + ``slot``."""
        first = settings.build_uid if first_uid is None else first_uid
        return cls(
            limits=SandboxLimits.of(settings),
            user=BuildUser.for_agent(first, slot),
            allow_without_userns=settings.allow_builds_without_userns,
        )


@dataclass(frozen=True)
class SandboxSpec:
    """Where and how long a sandboxed command may work.

    ``workdir`` (an existing host directory) is mounted read-write at ``/builddir``;
    ``network`` routes the sandbox's own network namespace to the outside (not to the
    host's loopback);
    ``timeout_s`` is the wall-clock limit; ``memory_bytes`` the task's own memory limit,
    which can only lower the policy's (None: the policy's); ``ro_binds`` host paths shown
    read-only at the same path; ``policy`` the agent's limits and build uid.
    """

    workdir: Path
    network: bool
    timeout_s: float
    memory_bytes: int | None = None
    ro_binds: tuple[Path, ...] = ()
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    usr_overlay: Path | None = None
    hidden: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.memory_bytes is not None and self.memory_bytes <= 0:
            raise ValueError("memory_bytes must be positive (or None for no limit)")
        for path in self.ro_binds:
            if not path.is_absolute() or path == Path("/"):
                raise ValueError(f"ro_binds entries must be absolute paths below /: {path}")
        if self.usr_overlay is not None and (
            not self.usr_overlay.is_absolute() or set(str(self.usr_overlay)) & set(",:\\\n")
        ):
            # overlayfs's options separate layers with ":" and options with ",".
            raise ValueError(f"usr_overlay: not an absolute path free of , : \\ {self.usr_overlay}")
        for name in self.hidden:
            if not name or name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"hidden entries are paths inside the work directory: {name!r}")

    @property
    def memory_limit(self) -> int | None:
        """The lower of the task's and the policy's memory limits."""
        limits = [m for m in (self.memory_bytes, self.policy.limits.memory_bytes) if m]
        return min(limits) if limits else None


def sandbox_path(spec: SandboxSpec, host_path: Path) -> PurePosixPath:
    """Where ``host_path``, which must lie inside ``spec.workdir``, appears in the sandbox."""
    relative = host_path.resolve().relative_to(spec.workdir.resolve())
    return SANDBOX_WORKDIR / relative.as_posix()


def sandbox_environment() -> dict[str, str]:
    """The whole environment a sandboxed command starts with."""
    return {"HOME": str(SANDBOX_WORKDIR), "PATH": SANDBOX_PATH, "LANG": "C.UTF-8"}


def run_sandboxed(
    argv: Sequence[str],
    spec: SandboxSpec,
    on_output: Callable[[bytes], None],
    cancel: threading.Event | None = None,
) -> SandboxResult:
    """Run ``argv`` inside bubblewrap as described in the module docstring.

    Output (stdout and stderr merged) is passed to ``on_output`` chunk by chunk as it is
    produced. The result says how the command ended: its exit status, or that it
    ``timed_out``, was ``canceled`` or passed a limit (``limit_exceeded``; then ``reason``
    says so and nothing of it is left running). Raises SandboxUnavailable without
    bubblewrap or the isolation the policy demands, ValueError for a workdir or bind that
    does not exist.
    """
    if not argv:
        raise ValueError("argv must not be empty")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed on this builder")
    workdir = spec.workdir.resolve()
    if not workdir.is_dir():
        raise ValueError(f"workdir {spec.workdir} is not a directory")
    for path in spec.ro_binds:
        if not path.exists():
            raise ValueError(f"ro_binds entry {path} does not exist")

    policy = spec.policy
    offered = host.probe(policy.user)
    if not offered.userns and not policy.allow_without_userns:
        raise SandboxUnavailable(
            f"this builder cannot give builds a user namespace ({offered.userns_problem}); "
            "it refuses to run them as its own uid (setting allow_builds_without_userns)"
        )
    user = policy.user if offered.userns else None
    tmp = _fresh_tmp(workdir)
    try:
        if user is not None:
            try:
                check_reachable(workdir, user)
            except WorkRootError as exc:
                raise SandboxUnavailable(str(exc)) from None
            hand_over(workdir, user)
        return _run(bwrap, argv, spec, workdir, tmp, offered, user, on_output, cancel)
    except NetworkUnavailable as exc:
        raise SandboxUnavailable(str(exc)) from None
    finally:
        remove(tmp)


def _run(
    bwrap: str,
    argv: Sequence[str],
    spec: SandboxSpec,
    workdir: Path,
    tmp: Path,
    offered: host.Protections,
    user: BuildUser | None,
    on_output: Callable[[bytes], None],
    cancel: threading.Event | None,
) -> SandboxResult:
    limits = spec.policy.limits
    memory = spec.memory_limit
    with ExitStack() as stack:
        etc_fds = stack.enter_context(_generated_etc(spec.network, offered.userns))
        gate = stack.enter_context(_StartGate())
        fds = [*etc_fds.values(), *gate.child_fds()]
        options = gate.options() + _bwrap_options(spec, workdir, tmp, etc_fds, offered.userns)
        if offered.seccomp:
            seccomp = filter_fd()
            stack.callback(os.close, seccomp)
            fds.append(seccomp)
            options = ["--seccomp", str(seccomp), *options]
        network = stack.enter_context(UserNetwork()) if spec.network else None
        group: TaskGroup | None = None
        if offered.cgroups.hierarchies:
            group = stack.enter_context(TaskGroup(offered.cgroups, limits.processes, memory))
        disk = stack.enter_context(DiskWatch(workdir, limits.disk_bytes, limits.disk_files))
        counter = None
        if group is None or not group.processes:
            counter = _ProcessCount(limits.processes, user.uid if user else os.geteuid())

        # Set by util-linux's prlimit just before it executes bubblewrap, so they hold from
        # the first process on (setting them from here needs CAP_SYS_RESOURCE, which a
        # root agent in a container may lack).
        rlimits = {"fsize": limits.disk_bytes, "core": 0}
        # RLIMIT_NPROC counts a uid's processes. A root agent's slots have a build uid each,
        # so the limit goes on that uid from the start. An unprivileged agent shares its uid
        # with its builds: the limit is set on the sandbox's first process only once that
        # process has made its user namespace (which records the creator's limit as its
        # own, unlimited, ceiling), so that since Linux 5.14 it counts the processes of this
        # sandbox alone, not the agent's nor a sibling slot's.
        nproc_later = counter is not None and user is None
        if counter is not None and not nproc_later:
            rlimits["nproc"] = limits.processes
        if memory is not None and (group is None or group.memory is None):
            rlimits["as"] = memory
        prlimit = [_tool("prlimit"), *(f"--{k}={v}" for k, v in rlimits.items()), "--"]

        def start(bwrap_pid: int) -> None:
            deadline = time.monotonic() + SETUP_TIMEOUT_S
            sandbox_pid = gate.sandbox_pid(deadline, bwrap_pid)
            if group is not None:
                # bubblewrap's own process forks nothing more; moving a process costs a few
                # milliseconds on cgroup v1, so only the sandbox's first one moves.
                group.add(sandbox_pid)
            if counter is not None:
                counter.watch(sandbox_pid)
            if nproc_later:
                resource.prlimit(
                    sandbox_pid, resource.RLIMIT_NPROC, (limits.processes, limits.processes)
                )
            if network is not None and not network.attach(sandbox_pid, deadline):
                return  # bubblewrap failed; its output and status say why
            gate.release()

        def limit_hit() -> str | None:
            if disk.exceeded is not None:
                return disk.exceeded
            if group is not None and group.processes and group.pids_limit_hits():
                return _processes_sentence(limits.processes)
            if counter is not None and counter.at_limit():
                return _processes_sentence(limits.processes)
            return None

        command = [*prlimit, bwrap, *options, "--", *argv]
        as_user = user
        if spec.usr_overlay is not None:
            command = _with_usr_overlay(spec.usr_overlay, command, user)
            as_user = None  # the wrapper becomes the build uid itself, after the mount
        result = run_process_group(
            command,
            env=sandbox_environment(),
            on_output=on_output,
            timeout_s=spec.timeout_s,
            cancel=cancel,
            kill_grace_s=KILL_GRACE_S,
            pass_fds=fds,
            cwd="/",
            on_start=start,
            limit_hit=limit_hit,
            user=as_user.uid if as_user is not None else None,
            group=as_user.gid if as_user is not None else None,
        )
        oom_kills = group.oom_kills() if group is not None else 0
    failed = result.returncode != 0 and not (result.canceled or result.timed_out)
    if oom_kills and memory is not None and failed and not result.limit_exceeded:
        # A build that survives a killed process (make may retry) simply succeeded.
        killed = f"{oom_kills} process{'es' if oom_kills > 1 else ''}"
        reason = (
            f"the build reached its memory limit of {human_size(memory)} and the kernel "
            f"stopped {killed} ({result.reason})"
        )
        result = ProcessResult(result.returncode, False, False, reason, limit_exceeded=True)
    return result


# Run by util-linux's unshare in the sandbox's new mount namespace: $1 is the overlay's
# upper layer, the rest the command to run once it covers /usr.
_MOUNT_USR = (
    'mount -t overlay coprd-buildroot -o "ro,lowerdir=$1:/usr" /usr || '
    '{ echo "the buildroot cannot be laid over /usr (overlayfs)" >&2; exit 125; }; '
    'shift; exec "$@"'
)


def _with_usr_overlay(upper: Path, command: list[str], user: BuildUser | None) -> list[str]:
    """``command``, run with ``upper`` laid over ``/usr`` in a mount namespace of its own
    (see the module docstring); as ``user`` where given (the caller is then root)."""
    if os.geteuid() == 0:
        wrapper = [_tool("unshare"), "--mount", "--propagation", "private"]
        if user is not None:
            switch = [_tool("setpriv"), f"--reuid={user.uid}", f"--regid={user.gid}"]
            command = [*switch, "--clear-groups", *command]
    else:
        wrapper = [_tool("unshare"), "--user", "--map-root-user", "--mount"]
        wrapper += ["--propagation", "private"]
    return [*wrapper, "--", "/bin/sh", "-c", _MOUNT_USR, "sh", str(upper), *command]


@functools.cache
def usr_overlay_problem() -> str | None:
    """Why this host cannot lay a directory over a sandbox's ``/usr``, or None if it can:
    tried once, with an empty directory, as the sandbox would."""
    with tempfile.TemporaryDirectory(prefix="coprd-overlay-probe-") as empty:
        os.chmod(empty, 0o755)
        try:
            command = _with_usr_overlay(Path(empty), ["/usr/bin/true"], None)
        except SandboxUnavailable as error:
            return str(error)
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        return f"overlayfs over /usr failed: {said[0] if said else done.returncode}"
    return None


def _tool(name: str) -> str:
    found = host_tool(name)
    if found is None:
        raise SandboxUnavailable(f"{name} (util-linux) is not installed on this builder")
    return found


def _processes_sentence(limit: int) -> str:
    return f"the build reached its limit of {limit} processes (a fork bomb?)"


def _fresh_tmp(workdir: Path) -> Path:
    """The sandbox's /tmp and /var/tmp, empty, in the work directory."""
    tmp = workdir / TMP_DIR
    remove(tmp)
    tmp.mkdir(mode=0o755)
    for name in ("tmp", "var-tmp"):
        (tmp / name).mkdir()
        os.chmod(tmp / name, 0o1777)
    return tmp


class _StartGate:
    """bubblewrap's ``--info-fd`` and ``--block-fd``: the sandbox's first process is known,
    and held, before the build's command runs."""

    def __init__(self) -> None:
        self._info_r, self._info_w = os.pipe()
        self._block_r, self._block_w = os.pipe()
        self._open = {self._info_r, self._info_w, self._block_r, self._block_w}

    def __enter__(self) -> _StartGate:
        return self

    def __exit__(self, *_: object) -> None:
        for fd in self._open:
            os.close(fd)
        self._open.clear()

    def options(self) -> list[str]:
        return ["--info-fd", str(self._info_w), "--block-fd", str(self._block_r)]

    def child_fds(self) -> list[int]:
        return [self._info_w, self._block_r]

    def _close(self, fd: int) -> None:
        if fd in self._open:
            os.close(fd)
            self._open.discard(fd)

    def sandbox_pid(self, deadline: float, bwrap_pid: int) -> int:
        """The pid of the sandbox's first process, as bubblewrap reports it."""
        # Only bubblewrap writes the info and reads the block pipe from here on.
        self._close(self._info_w)
        self._close(self._block_r)
        # bubblewrap writes {"child-pid": N} (pretty-printed) and may keep the fd open.
        raw = read_until(self._info_r, deadline, lambda got: b"}" in got)
        try:
            pid = json.loads(raw.decode())["child-pid"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise SandboxUnavailable(
                f"bubblewrap (pid {bwrap_pid}) did not say which process is the sandbox "
                f"(it printed {raw[:200]!r})"
            ) from None
        if not isinstance(pid, int) or pid <= 1:
            raise SandboxUnavailable(f"bubblewrap reported an odd sandbox pid: {pid!r}")
        return pid

    def release(self) -> None:
        """Let bubblewrap run the command."""
        # A broken pipe: bubblewrap ended before running the command; its output and exit
        # status, which the caller reads next, say why.
        with contextlib.suppress(BrokenPipeError):
            os.write(self._block_w, b"1")
        self._close(self._block_w)


class _ProcessCount:
    """Without a pids cgroup: how many processes the sandbox holds, counted at most every
    :data:`_COUNT_EVERY_S` (RLIMIT_NPROC refuses forks past the limit without telling
    anyone). Only processes of the build's host uid are looked at closely."""

    def __init__(self, limit: int, uid: int) -> None:
        self.limit = limit
        self.uid = uid
        self.namespace: str | None = None
        self.next_count = 0.0

    def watch(self, sandbox_pid: int) -> None:
        with contextlib.suppress(OSError):
            self.namespace = os.readlink(f"/proc/{sandbox_pid}/ns/pid")

    def at_limit(self) -> bool:
        now = time.monotonic()
        if self.namespace is None or now < self.next_count:
            return False
        self.next_count = now + _COUNT_EVERY_S
        count = 0
        with os.scandir("/proc") as entries:
            for entry in entries:
                if not entry.name.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    if entry.stat().st_uid != self.uid:
                        continue
                    if os.readlink(f"/proc/{entry.name}/ns/pid") == self.namespace:
                        count += 1
        return count >= self.limit * _NPROC_HIT_SHARE


def _bwrap_options(
    spec: SandboxSpec, workdir: Path, tmp: Path, etc_fds: dict[str, int], userns: bool
) -> list[str]:
    options = []
    if userns:
        options += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        if _bwrap_can_disable_userns():
            options.append("--disable-userns")
    options += [
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--unshare-net",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in _TOP_LEVEL:
        host_dir = Path("/") / name
        if host_dir.is_symlink():
            options += ["--symlink", os.readlink(host_dir), str(host_dir)]
        elif host_dir.is_dir():
            options += ["--ro-bind", str(host_dir), str(host_dir)]
    options += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
    options += ["--bind", str(tmp / "tmp"), "/tmp", "--bind", str(tmp / "var-tmp"), "/var/tmp"]
    options += ["--perms", "0755", "--dir", "/etc"]
    for name, fd in etc_fds.items():
        options += ["--perms", "0644", "--ro-bind-data", str(fd), f"/etc/{name}"]
    host_etc = _HOST_ETC + (_HOST_ETC_NETWORK if spec.network else ())
    for name in host_etc:
        etc = Path("/etc") / name
        if etc.exists():  # follows symlinks, as the bind does (resolv.conf often is one)
            options += ["--ro-bind", str(etc), str(etc)]
    for path in spec.ro_binds:
        options += ["--ro-bind", str(path), str(path)]
    options += ["--bind", str(workdir), str(SANDBOX_WORKDIR)]
    for name in spec.hidden:
        options += ["--tmpfs", str(SANDBOX_WORKDIR / name)]
    options += ["--remount-ro", "/", "--chdir", str(SANDBOX_WORKDIR)]
    return options


@functools.cache
def _bwrap_can_disable_userns() -> bool:
    """Whether this bubblewrap has ``--disable-userns`` (0.8 and newer)."""
    bwrap = shutil.which("bwrap") or "bwrap"
    try:
        done = subprocess.run(
            [bwrap, "--help"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--disable-userns" in done.stdout


def _etc_files(network: bool, userns: bool) -> dict[str, str]:
    home = SANDBOX_WORKDIR
    hostname = socket.gethostname()
    hosts = "127.0.0.1 localhost localhost.localdomain\n::1 localhost localhost.localdomain\n"
    if hostname and all(c.isalnum() or c in ".-" for c in hostname) and hostname.isascii():
        hosts += f"127.0.1.1 {hostname}\n"
    if userns:
        passwd = (
            "root:x:0:0:root:/root:/bin/sh\n"
            f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_UID}:{SANDBOX_USER}:{home}:/bin/sh\n"
        )
        group = f"root:x:0:\n{SANDBOX_USER}:x:{SANDBOX_UID}:\n"
    else:
        passwd = f"root:x:0:0:root:{home}:/bin/sh\n"
        group = "root:x:0:\n"
    files = {
        "passwd": passwd + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "group": group + "nobody:x:65534:\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
        "hosts": hosts,
    }
    if network:
        files["resolv.conf"] = resolv_conf()
    return files


@contextmanager
def _generated_etc(network: bool, userns: bool) -> Iterator[dict[str, int]]:
    """Read ends of pipes holding each generated /etc file, for ``--ro-bind-data``."""
    fds: dict[str, int] = {}
    try:
        for name, content in _etc_files(network, userns).items():
            read_end, write_end = os.pipe()
            fds[name] = read_end
            try:
                # A few hundred bytes: far below the pipe buffer, so this never blocks.
                os.write(write_end, content.encode())
            finally:
                os.close(write_end)
        yield fds
    finally:
        for fd in fds.values():
            os.close(fd)
