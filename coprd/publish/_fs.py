"""Filesystem steps the publish modules share: atomic file writes, fsync, quick removal."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

# In a running task's directory: the lock its live log and its uploads are written under
# (see publish/livelog.py and publish/builddir.py). Hidden, like every file of coprd's own
# there: the results pages and createrepo_c never see it.
TASK_LOCK = ".coprd-task.lock"


@contextmanager
def flocked(path: Path) -> Iterator[tuple[int, float]]:
    """Hold an exclusive ``flock`` on ``path`` (created if need be); yields its descriptor
    and the seconds spent waiting. Works between threads, processes and NFS clients (where
    Linux maps flock to byte-range locks)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        t0 = time.monotonic()
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd, time.monotonic() - t0
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the names in ``path`` (a rename, a new file) survive a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Make the content of ``path`` survive a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(target: Path, write: Callable[[BinaryIO], None], mode: int = 0o644) -> int:
    """Create ``target`` by calling ``write`` on a hidden temporary file beside it, then
    renaming that over ``target``; returns the size written.

    The temporary file is fsynced before the rename and the directory after it, so a crash
    leaves the old file or the complete new one, never a part. On error the temporary file
    is removed and ``target`` is untouched.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name[:200]}.", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            # mkstemp creates 0600; results are read by a web server that may be another user.
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
            size = os.fstat(out.fileno()).st_size
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return size


def write_bytes_atomically(target: Path, data: bytes, mode: int = 0o644) -> int:
    """:func:`write_atomically` of ``data``."""

    def write(out: BinaryIO) -> None:
        out.write(data)

    return write_atomically(target, write, mode)


def remove_tree(path: Path) -> None:
    """Remove the directory ``path`` so that it vanishes from its parent at once.

    It is first renamed to a hidden name beside it (which nothing lists or indexes), then
    deleted; a missing ``path`` is fine.
    """
    doomed = Path(tempfile.mkdtemp(prefix=f".removing-{path.name[:200]}.", dir=path.parent))
    try:
        os.rename(path, doomed / path.name)
    except FileNotFoundError:
        pass
    finally:
        shutil.rmtree(doomed, ignore_errors=True)
