"""Which of the sandbox's protections this builder host offers, found once per agent.

The sandbox (``sandbox.py``) needs, for its full strength: unprivileged user namespaces
(the build is an unprivileged uid, mapped to uid 1000 inside), libseccomp (the system call
filter, ``seccomp.py``), and control groups it may create (``cgroups.py``: processes and
memory for the whole build). A host without one of them can still build, with a weaker
sandbox; the agent says at start which protection is missing and how to enable it
(:meth:`Protections.report`). Without user namespaces the sandbox refuses to run builds at
all unless the ``allow_builds_without_userns`` setting says otherwise: the build would then
run as the agent's own uid, and for a root agent that is host root without capabilities.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass

from coprd.builder import cgroups
from coprd.builder.cgroups import CgroupSupport
from coprd.builder.confined import openat2_available
from coprd.builder.seccomp import SeccompUnavailable, filter_bpf
from coprd.builder.workspace import BuildUser

__all__ = ["Protections", "probe"]

_PROBE_TIMEOUT_S = 30


@dataclass(frozen=True)
class Protections:
    """What the host offers; a field holding a sentence says why that protection is off."""

    userns_problem: str | None
    seccomp_problem: str | None
    cgroups: CgroupSupport
    openat2: bool = True

    @property
    def userns(self) -> bool:
        return self.userns_problem is None

    @property
    def seccomp(self) -> bool:
        return self.seccomp_problem is None

    def report(self) -> list[str]:
        """One line per protection that is degraded, saying what to do about it."""
        lines = []
        if self.userns_problem is not None:
            lines.append(
                f"builds cannot get a user namespace: {self.userns_problem}. Enable "
                "unprivileged user namespaces (sysctl user.max_user_namespaces > 0; on "
                "Debian's older kernels kernel.unprivileged_userns_clone=1; on Ubuntu an "
                "AppArmor profile that allows bwrap). Until then builds are refused unless "
                "allow_builds_without_userns = true"
            )
        if self.seccomp_problem is not None:
            lines.append(f"builds run without a system call filter: {self.seccomp_problem}")
        if not self.cgroups.has("pids"):
            lines.append(
                "builds' processes are limited by RLIMIT_NPROC, not by a pids cgroup "
                f"({self.cgroups.problems.get('pids')}); a fork bomb is stopped less "
                "precisely. Run the agent as root, or in a systemd unit with Delegate=yes"
            )
        if not self.cgroups.has("memory"):
            lines.append(
                "builds' memory is limited per process (RLIMIT_AS), not for the whole build "
                f"({self.cgroups.problems.get('memory')}): make -j may use the limit once "
                "per process. Run the agent as root, or in a systemd unit with Delegate=yes"
            )
        if not self.openat2:
            lines.append(
                "the kernel has no openat2 (Linux 5.6+): what builds leave is read back by "
                "opening one path component at a time without following links, which is as "
                "strict but slower"
            )
        return lines


@functools.cache
def probe(user: BuildUser | None) -> Protections:
    """The protections available to builds that run as ``user`` (None: the agent's uid)."""
    try:
        filter_bpf()
        seccomp_problem = None
    except SeccompUnavailable as exc:
        seccomp_problem = str(exc)
    return Protections(_userns_problem(user), seccomp_problem, cgroups.probe(), openat2_available())


def _userns_problem(user: BuildUser | None) -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    if user is None and os.geteuid() == 0:
        return "a root agent has no unprivileged build uid to map"
    try:
        done = subprocess.run(
            [
                bwrap,
                "--unshare-user",
                "--uid",
                "1000",
                "--gid",
                "1000",
                "--ro-bind",
                "/",
                "/",
                "--",
                "true",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_PROBE_TIMEOUT_S,
            cwd="/",
            user=user.uid if user is not None else None,
            group=user.gid if user is not None else None,
            extra_groups=[] if user is not None else None,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be started: {exc}"
    if done.returncode != 0:
        return done.stderr.strip() or f"bwrap exited with status {done.returncode}"
    return None
