"""Control groups for sandboxed commands: one limit on processes and one on memory for all
of a build, ``make -j`` and ``/tmp`` included.

Each sandboxed command gets a group of its own, made when it starts and removed when it
ended, under the agent's own group (so that limits an administrator set on the agent also
bound its builds). It holds the command's every process from the first one on (the sandbox
is moved in while bubblewrap waits on its block fd, before the command runs), and sets:

``pids.max``
    the build's processes and threads together; ``pids.events`` counts forks refused at
    the limit, which is how a fork bomb is recognised and stopped.
``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1)
    all the memory of the build's processes, including what they put in files of a tmpfs
    and the page cache they dirty; swap is not allowed beyond it (``memory.swap.max`` 0,
    or ``memory.memsw.limit_in_bytes``). At the limit the kernel's OOM killer stops a
    process of the build, never of the host; ``memory.events`` says how often.

Both cgroup versions are served, controller by controller: the unified hierarchy (v2),
where a group can get controllers only if its parent has none of its own processes (the
agent then moves the processes of its group into a leaf, ``coprd-agent``, once — the
layout systemd's ``Delegate=yes`` asks for), and the older per-controller hierarchies (v1)
that hybrid hosts and some containers still mount. Where the agent may not create groups
(an unprivileged agent without delegation), :func:`probe` says which controllers are
missing and why, and the sandbox falls back to per-uid resource limits.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["CgroupSupport", "TaskGroup", "probe"]

Controller = Literal["pids", "memory"]
CONTROLLERS: tuple[Controller, ...] = ("pids", "memory")
LEAF = "coprd-agent"
_counter = itertools.count(1)


@dataclass(frozen=True)
class Hierarchy:
    """Where groups for one controller are made: ``base`` in a cgroup ``version`` tree."""

    version: Literal[1, 2]
    base: Path


@dataclass(frozen=True)
class CgroupSupport:
    """What this agent process may do with control groups; see :func:`probe`."""

    hierarchies: dict[Controller, Hierarchy] = field(default_factory=dict)
    problems: dict[Controller, str] = field(default_factory=dict)

    def has(self, controller: Controller) -> bool:
        return controller in self.hierarchies


@functools.cache
def probe() -> CgroupSupport:
    """Which controllers this process can use for builds, found once per process."""
    own = _own_groups()
    mounts = _cgroup_mounts()
    hierarchies: dict[Controller, Hierarchy] = {}
    problems: dict[Controller, str] = {}
    for controller in CONTROLLERS:
        try:
            hierarchies[controller] = _hierarchy_for(controller, own, mounts)
        except _NoCgroup as why:
            problems[controller] = str(why)
    return CgroupSupport(hierarchies, problems)


class _NoCgroup(Exception):
    pass


def _own_groups() -> dict[str, str]:
    """Controller name (``""`` for v2) → this process's group path in that hierarchy."""
    groups: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return groups
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            groups[""] = path
        for name in controllers.split(","):
            groups[name] = path
    return groups


def _cgroup_mounts() -> dict[str, Path]:
    """Controller name (``""`` for the v2 tree) → where its hierarchy is mounted."""
    mounts: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return mounts
    for line in lines:
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fstype, _source, *options = right.split()
        mountpoint = Path(left.split()[4].replace("\\040", " "))
        if fstype == "cgroup2":
            mounts.setdefault("", mountpoint)
        elif fstype == "cgroup" and options:
            for name in options[0].split(","):
                mounts.setdefault(name, mountpoint)
    return mounts


def _hierarchy_for(
    controller: Controller, own: dict[str, str], mounts: dict[str, Path]
) -> Hierarchy:
    if controller in mounts:  # a v1 hierarchy of its own
        base = mounts[controller] / own.get(controller, "/").lstrip("/")
        _check_can_create(base, controller)
        return Hierarchy(1, base)
    if "" not in mounts:
        raise _NoCgroup("no cgroup file system is mounted")
    base = mounts[""] / own.get("", "/").lstrip("/")
    if base.name == LEAF:  # an earlier probe (this or a sibling agent) made the leaf
        base = base.parent
    available = _read_words(base / "cgroup.controllers")
    if controller not in available:
        raise _NoCgroup(
            f"the {controller} controller is not delegated to {base} "
            "(run the agent in a unit with Delegate=yes, or as root)"
        )
    if controller not in _read_words(base / "cgroup.subtree_control"):
        _enable(base, controller)
    _check_can_create(base, controller)
    return Hierarchy(2, base)


def _read_words(path: Path) -> set[str]:
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


def _enable(base: Path, controller: Controller) -> None:
    """Enable ``controller`` for the children of ``base``; a v2 group with processes of
    its own cannot, so they move into the leaf first."""
    control = base / "cgroup.subtree_control"
    try:
        control.write_text(f"+{controller}")
        return
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise _NoCgroup(f"cannot enable {controller} in {base}: {exc.strerror}") from None
    leaf = base / LEAF
    try:
        leaf.mkdir(exist_ok=True)
        for pid in (base / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, OSError):
                (leaf / "cgroup.procs").write_text(pid)
        control.write_text(f"+{controller}")
    except OSError as exc:
        raise _NoCgroup(
            f"cannot enable {controller} in {base}: {exc.strerror} "
            "(other processes share the agent's cgroup; give it a unit with Delegate=yes)"
        ) from None


def _check_can_create(base: Path, controller: Controller) -> None:
    trial = base / f"coprd-probe-{os.getpid()}"
    try:
        trial.mkdir()
    except FileExistsError:
        pass
    except OSError as exc:
        raise _NoCgroup(f"cannot create a {controller} group in {base}: {exc.strerror}") from None
    with contextlib.suppress(OSError):
        trial.rmdir()


class TaskGroup:
    """One sandboxed command's group(s); use as a context manager around the command.

    Processes are added with :meth:`add` before they fork; leaving the context kills what
    is left in the group and removes it.
    """

    def __init__(self, support: CgroupSupport, processes: int | None, memory: int | None):
        self.support = support
        self.processes = processes if support.has("pids") else None
        self.memory = memory if support.has("memory") else None
        self.dirs: dict[Controller, Path] = {}
        name = f"coprd-{os.getpid()}-{next(_counter)}"
        wanted: list[Controller] = []
        if self.processes is not None:
            wanted.append("pids")
        if self.memory is not None:
            wanted.append("memory")
        for controller in wanted:
            hierarchy = support.hierarchies[controller]
            path = hierarchy.base / name
            # Controllers in one v2 tree share one group.
            if path not in self.dirs.values():
                path.mkdir()
            self.dirs[controller] = path
        self._limit()

    def __enter__(self) -> TaskGroup:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _version(self, controller: Controller) -> int:
        return self.support.hierarchies[controller].version

    def _limit(self) -> None:
        if self.processes is not None:
            (self.dirs["pids"] / "pids.max").write_text(str(self.processes))
        if self.memory is not None:
            group = self.dirs["memory"]
            if self._version("memory") == 2:
                (group / "memory.max").write_text(str(self.memory))
                with contextlib.suppress(FileNotFoundError):
                    (group / "memory.swap.max").write_text("0")
            else:
                (group / "memory.limit_in_bytes").write_text(str(self.memory))
                with contextlib.suppress(FileNotFoundError, PermissionError):
                    (group / "memory.memsw.limit_in_bytes").write_text(str(self.memory))

    def add(self, pid: int) -> None:
        """Move process ``pid`` into every group of this task."""
        for group in set(self.dirs.values()):
            (group / "cgroup.procs").write_text(str(pid))

    def pids_limit_hits(self) -> int:
        """How many forks the process limit refused so far."""
        if "pids" not in self.dirs:
            return 0
        return _event(self.dirs["pids"] / "pids.events", "max")

    def oom_kills(self) -> int:
        """How many processes the kernel killed at the memory limit so far."""
        if "memory" not in self.dirs:
            return 0
        group = self.dirs["memory"]
        if self._version("memory") == 2:
            return _event(group / "memory.events", "oom_kill")
        return _event(group / "memory.oom_control", "oom_kill")

    def close(self) -> None:
        for group in set(self.dirs.values()):
            _empty(group)
        self.dirs.clear()


def _event(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _members(group: Path) -> list[int]:
    try:
        return [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _empty(group: Path) -> None:
    """Kill whatever is left in ``group`` and remove it."""
    kill = group / "cgroup.kill"
    if kill.exists():
        with contextlib.suppress(OSError):
            kill.write_text("1")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = _members(group)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)  # the killed processes are still exiting


def describe(support: CgroupSupport) -> Iterator[str]:
    """One line per controller: where builds' groups go, or why they cannot."""
    for controller in CONTROLLERS:
        if controller in support.hierarchies:
            hierarchy = support.hierarchies[controller]
            yield f"{controller}: cgroup v{hierarchy.version} under {hierarchy.base}"
        else:
            yield f"{controller}: unavailable ({support.problems.get(controller, 'unknown')})"
