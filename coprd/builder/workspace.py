"""The agent's work directories: private to the agent, handed to the build's uid, and
removed whatever the build did to them.

A build writes setuid files, FIFOs, unreadable directories and symlinks to anywhere into
its work directory; the agent must neither expose them to other users of the host nor
trip over them. So:

- the agent's work root is a directory of its own, which it refuses to use if it is a
  symlink or belongs to someone else (``/var/tmp/coprd-work`` could have been made by
  another local user in advance). An unprivileged agent's is mode 0700. A root agent's
  builds run as other uids, and bubblewrap opens the directory it mounts with the build
  uid's permissions, so the work root and the directories down to a build's are 0711
  (passable, not listable), and the build's own directory is 0700 and the build uid's:
  other users can reach nothing in it;
- before a sandboxed command runs, a root agent gives the command's directory to the
  build's uid (``lchown`` of every entry, never following a link), since the build runs as
  that unprivileged uid and must be able to write what the agent put there;
- removing a work directory never follows a symlink, and gives back permissions the build
  took away from a directory (an unprivileged agent shares its uid with its builds and is
  bound by their ``chmod 000``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BuildUser",
    "WorkRootError",
    "check_reachable",
    "hand_over",
    "prepare_root",
    "remove",
    "task_dir",
]


class WorkRootError(RuntimeError):
    """The agent's work root is unsafe to use (a symlink, someone else's)."""


@dataclass(frozen=True)
class BuildUser:
    """The host uid and gid a build runs as (inside its user namespace it is uid 1000)."""

    uid: int
    gid: int

    def __post_init__(self) -> None:
        if not 0 < self.uid < 2**32 - 1 or not 0 < self.gid < 2**32 - 1:
            raise ValueError("a build's uid and gid must be unprivileged (not 0, not -1)")

    @classmethod
    def for_agent(cls, first_uid: int, slot: int = 0) -> BuildUser | None:
        """The uid a build of slot ``slot`` runs as: for a root agent, ``first_uid + slot``
        (the ``build_uid`` setting: 2000000000 by default, far above login users and
        systemd's dynamic and container ranges, which end at 1879048191); for an
        unprivileged agent, None (its own uid: it cannot switch to another)."""
        if os.geteuid() != 0:
            return None
        return cls(first_uid + slot, first_uid + slot)


def prepare_root(path: Path, user: BuildUser | None) -> Path:
    """Make (or check) the agent's work root, for builds that run as ``user`` (None: the
    agent's own uid): a real directory of the agent's, reachable by ``user``."""
    mode = 0o700 if user is None else 0o711
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=mode, parents=True)
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise WorkRootError(f"the work directory {path} is not a directory (a symlink?)")
    if st.st_uid != os.geteuid():
        raise WorkRootError(
            f"the work directory {path} belongs to uid {st.st_uid}, not to this agent"
        )
    if stat.S_IMODE(st.st_mode) != mode:
        path.chmod(mode)
    if user is not None:
        check_reachable(path, user)
    return path


def task_dir(root: Path, task_id: int, user: BuildUser | None) -> Path:
    """A new directory for one task under the work root: 0700, or 0711 where the builds
    of ``user`` must pass through it to their own directory."""
    path = Path(tempfile.mkdtemp(prefix=f"task-{task_id}-", dir=root))
    if user is not None:
        path.chmod(0o711)
    return path


def check_reachable(path: Path, user: BuildUser) -> None:
    """WorkRootError unless ``user`` may pass through every directory above ``path``."""
    for parent in path.absolute().parents:
        st = parent.stat()
        if st.st_uid == user.uid:
            bit = stat.S_IXUSR
        elif st.st_gid == user.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            raise WorkRootError(
                f"builds run as uid {user.uid} and cannot reach {path}: {parent} is mode "
                f"{stat.S_IMODE(st.st_mode):04o}; choose a work directory outside it "
                "(the work_dir setting, or coprd worker --workdir)"
            )


def hand_over(directory: Path, user: BuildUser) -> None:
    """Give ``directory`` and everything in it to ``user`` (root agents only); the
    directory itself becomes 0700, so that only ``user`` (and root) can reach into it."""
    top = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchown(top, user.uid, user.gid)
        os.fchmod(top, 0o700)
        for _root, dirs, files, dir_fd in os.fwalk(dir_fd=top, follow_symlinks=False):
            for name in dirs + files:
                with contextlib.suppress(FileNotFoundError):
                    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    if st.st_uid != user.uid or st.st_gid != user.gid:
                        os.chown(name, user.uid, user.gid, dir_fd=dir_fd, follow_symlinks=False)
    finally:
        os.close(top)


def remove(path: Path) -> None:
    """Remove ``path`` and everything under it, whatever the build left there."""
    _remove(path, set())


def _remove(path: Path, tried: set[str]) -> None:
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isdir(path):
        path.unlink()
        return

    def retry(failed: str) -> None:
        # A directory the build made unreadable or unwritable: give it back to its owner
        # (possible when that is us) and try once more; what still fails stays.
        if failed in tried:
            return
        tried.add(failed)
        for target in (os.path.dirname(failed), failed):
            with contextlib.suppress(OSError):
                if not os.path.islink(target) and os.path.isdir(target):
                    os.chmod(target, 0o700)
        with contextlib.suppress(OSError):
            _remove(Path(failed), tried)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=lambda _function, failed, _exc: retry(failed))
    else:
        shutil.rmtree(path, onerror=lambda _function, failed, _exc: retry(failed))
