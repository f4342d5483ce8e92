"""Run a build command inside bubblewrap: the host's toolchain read-only, one writable directory.

What the sandboxed command sees:

``/usr``, and ``/bin``, ``/sbin``, ``/lib``, ``/lib64`` … as the host has them
    read-only (symlinks on a merged-/usr host, read-only binds otherwise): the toolchain.
``/builddir``
    the task's work directory, read-write, and the current directory. A fixed path rather
    than the host path: logs, debuginfo and ``%_topdir`` do not reveal or depend on where the
    agent keeps its files, and they read as they do under mock (``/builddir/build``).
``/etc``
    only what rpmbuild and common build tools need: generated ``passwd``, ``group``,
    ``nsswitch.conf`` and ``hosts`` (root and nobody; localhost and this host's name), and,
    if the host has them, ``/etc/alternatives`` (Debian's ``awk`` and friends are symlinks
    through it), ``/etc/rpm`` and ``/etc/ld.so.cache``. With network on, also what name
    resolution and TLS need: a generated ``resolv.conf`` (see ``network.py``), and the
    host's ``ssl``, ``pki``, ``ca-certificates``, ``crypto-policies``, ``services``,
    ``protocols``.
``/tmp``, ``/var/tmp``
    private tmpfs (in memory; gone when the command ends).
``/proc``, ``/dev``
    a new procfs for the new pid namespace, with ``/proc/sys`` read-only; a minimal /dev.
``ro_binds``
    extra host paths, read-only, at the same path.

Nothing else of the host: no ``/home``, ``/root``, ``/var``, ``/srv``, ``/run``, no coprd
data directory, no sockets. The rest of ``/`` is a read-only tmpfs. Namespaces: new pid,
ipc, uts, cgroup and network namespaces. The network namespace holds a loopback of its own
(so not the host's 127.0.0.1) and, when ``network`` is on, a ``tap0`` that slirp4netns
routes to the outside, host loopback refused (``network.py``). The environment is
``HOME=/builddir``, ``PATH``, ``LANG=C.UTF-8`` and nothing of the agent's.

Privileges: when the agent runs as root, bubblewrap would keep every capability for the
command; ``--cap-drop ALL`` removes them and bubblewrap sets no_new_privs, so the command is
uid 0 without capabilities. uid 0 still passes the permission checks of root-owned files that
need no capability, which is why ``/proc/sys`` is covered read-only (bubblewrap's own covering
skips it in this mode). Running the agent as an unprivileged user is stronger still: bubblewrap
then uses a user namespace and the command is not root anywhere.

Stopping: see ``_process.py``. The whole sandbox hangs off bubblewrap's pid-1 process in the
new pid namespace; when it dies the kernel kills every process in the namespace, so a
timeout or a cancel (SIGTERM to the group, SIGKILL after :data:`KILL_GRACE_S`) leaves nothing
behind, background children and double-forked daemons included. ``--die-with-parent`` does
the same if the agent itself dies.

Memory: ``memory_bytes`` is RLIMIT_AS, set before bubblewrap starts and inherited by every
process of the build. It limits each process's virtual address space, not the build's total:
``make -j8`` may use eight times the limit; memory in the ``/tmp`` tmpfs and the page cache is
not counted; and programs that reserve large address ranges up front (Go, Java, ASan, some
JITs) fail under a limit their real use would fit in. A cgroup ``memory.max`` (systemd-run
``--scope -p MemoryMax=``) is the exact tool where the agent may create cgroups.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from coprd.builder._process import ProcessResult, run_process_group
from coprd.builder.network import NetworkUnavailable, UserNetwork, resolv_conf

SANDBOX_WORKDIR = PurePosixPath("/builddir")
SANDBOX_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
KILL_GRACE_S = 5.0

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


class SandboxUnavailable(RuntimeError):
    """bubblewrap (or, for a sandbox with network, slirp4netns) is missing or failed on
    this host, so the command cannot run in a sandbox."""


@dataclass(frozen=True)
class SandboxSpec:
    """Where and how long a sandboxed command may work.

    ``workdir`` (an existing host directory) is mounted read-write at ``/builddir``;
    ``network`` routes the sandbox's own network namespace to the outside (not to the
    host's loopback);
    ``timeout_s`` is the wall-clock limit; ``memory_bytes`` the per-process address-space
    limit (None: none); ``ro_binds`` host paths shown read-only at the same path.
    """

    workdir: Path
    network: bool
    timeout_s: float
    memory_bytes: int | None = None
    ro_binds: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.memory_bytes is not None and self.memory_bytes <= 0:
            raise ValueError("memory_bytes must be positive (or None for no limit)")
        for path in self.ro_binds:
            if not path.is_absolute() or path == Path("/"):
                raise ValueError(f"ro_binds entries must be absolute paths below /: {path}")


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
    ``timed_out`` or was ``canceled`` (then ``reason`` says so and nothing of it is left
    running). Raises SandboxUnavailable without bubblewrap, ValueError for a workdir or
    bind that does not exist.
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

    try:
        with _generated_etc(spec.network) as etc_fds, _network(spec.network) as network:
            options = _bwrap_options(spec, workdir, etc_fds)
            if network is not None:
                options = network.bwrap_options() + options
            command = [bwrap, *options, "--", *argv]
            return run_process_group(
                command,
                env=sandbox_environment(),
                on_output=on_output,
                timeout_s=spec.timeout_s,
                cancel=cancel,
                kill_grace_s=KILL_GRACE_S,
                memory_bytes=spec.memory_bytes,
                pass_fds=[*etc_fds.values(), *(network.child_fds() if network else [])],
                on_start=network.attach if network is not None else None,
            )
    except NetworkUnavailable as exc:
        raise SandboxUnavailable(str(exc)) from None


@contextmanager
def _network(wanted: bool) -> Iterator[UserNetwork | None]:
    if not wanted:
        yield None
        return
    with UserNetwork() as network:
        yield network


def _bwrap_options(spec: SandboxSpec, workdir: Path, etc_fds: dict[str, int]) -> list[str]:
    options = [
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
        host = Path("/") / name
        if host.is_symlink():
            options += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            options += ["--ro-bind", str(host), str(host)]
    options += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
    options += ["--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
    options += ["--perms", "0755", "--dir", "/etc"]
    for name, fd in etc_fds.items():
        options += ["--perms", "0644", "--ro-bind-data", str(fd), f"/etc/{name}"]
    host_etc = _HOST_ETC + (_HOST_ETC_NETWORK if spec.network else ())
    for name in host_etc:
        host = Path("/etc") / name
        if host.exists():  # follows symlinks, as the bind does (resolv.conf often is one)
            options += ["--ro-bind", str(host), str(host)]
    for path in spec.ro_binds:
        options += ["--ro-bind", str(path), str(path)]
    options += ["--bind", str(workdir), str(SANDBOX_WORKDIR)]
    options += ["--remount-ro", "/", "--chdir", str(SANDBOX_WORKDIR)]
    return options


def _etc_files(network: bool) -> dict[str, str]:
    home = SANDBOX_WORKDIR
    hostname = socket.gethostname()
    hosts = "127.0.0.1 localhost localhost.localdomain\n::1 localhost localhost.localdomain\n"
    if hostname and all(c.isalnum() or c in ".-" for c in hostname) and hostname.isascii():
        hosts += f"127.0.1.1 {hostname}\n"
    files = {
        "passwd": (
            f"root:x:0:0:root:{home}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group": "root:x:0:\nnobody:x:65534:\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
        "hosts": hosts,
    }
    if network:
        files["resolv.conf"] = resolv_conf()
    return files


@contextmanager
def _generated_etc(network: bool) -> Iterator[dict[str, int]]:
    """Read ends of pipes holding each generated /etc file, for ``--ro-bind-data``."""
    fds: dict[str, int] = {}
    try:
        for name, content in _etc_files(network).items():
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
