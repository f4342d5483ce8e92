"""The disk limit of a build: its work directory may not grow past a size or a file count.

A watcher thread measures the work directory while the sandboxed command runs (the blocks
each file really occupies, so a sparse file costs what it stores; a file with several hard
links once; every directory entry counts towards the file limit) and, once the directory
holds more than the limit, says so; the sandbox then stops the build with that sentence
("disk limit of 20 GiB exceeded"). A measurement takes about 3 µs per file, and the
watcher waits at least twice as long as its last measurement before the next one (and at
least :data:`MIN_INTERVAL_S`), so it costs the host a bounded share of one core while
stopping a build within seconds of its limit. A single file can never grow past the limit:
the sandbox also sets ``RLIMIT_FSIZE`` to it.

The walk never follows a symlink and is done through directory file descriptors, so a build
that swaps a directory for a symlink mid-walk cannot make it measure the host. Where the
agent shares its uid with the build (an unprivileged agent), a directory the build made
unreadable (``chmod 000``) is opened by giving its owner read access for the moment of the
measurement, then its mode is put back; a root agent reads it anyway.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from coprd.core.limits import human_size

__all__ = ["DiskUsage", "DiskWatch"]

MIN_INTERVAL_S = 1.0
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass(frozen=True)
class DiskUsage:
    bytes: int
    files: int


def _measure_fd(top: int, stop_at: DiskUsage | None) -> DiskUsage:
    total = 0
    files = 0
    seen: set[tuple[int, int]] = set()
    stack = [os.dup(top)]
    euid = os.geteuid()
    try:
        while stack:
            fd = stack.pop()
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue  # gone meanwhile
                        files += 1
                        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                            key = (st.st_dev, st.st_ino)
                            if key in seen:
                                continue
                            seen.add(key)
                        total += st.st_blocks * 512
                        if stat.S_ISDIR(st.st_mode):
                            child = _open_dir(entry.name, fd, st, euid)
                            if child is not None:
                                stack.append(child)
                        if stop_at is not None and (total > stop_at.bytes or files > stop_at.files):
                            return DiskUsage(total, files)
            except OSError:
                pass  # a directory removed while it was read
            finally:
                os.close(fd)
    finally:
        for fd in stack:
            os.close(fd)
    return DiskUsage(total, files)


def _open_dir(name: str, parent: int, st: os.stat_result, euid: int) -> int | None:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except PermissionError:
        if st.st_uid != euid:
            return None
    except OSError:
        return None
    # An unreadable directory of our own uid: read it with the owner's bits added for a
    # moment, then put its mode back.
    try:
        path_fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return None
    try:
        if not stat.S_ISDIR(os.fstat(path_fd).st_mode):
            return None
        magic = f"/proc/self/fd/{path_fd}"
        mode = stat.S_IMODE(st.st_mode)
        os.chmod(magic, mode | stat.S_IRUSR | stat.S_IXUSR)
        try:
            return os.open(magic, _DIR_FLAGS & ~os.O_NOFOLLOW)
        finally:
            with contextlib.suppress(OSError):
                os.chmod(magic, mode)
    except OSError:
        return None
    finally:
        os.close(path_fd)


class DiskWatch:
    """Measures ``root`` in a background thread while a command runs; see the module doc.

    :attr:`exceeded` becomes a sentence once the directory passed a limit.
    """

    def __init__(self, root: Path, max_bytes: int, max_files: int) -> None:
        self.limit = DiskUsage(max_bytes, max_files)
        self.exceeded: str | None = None
        self._fd = os.open(root, _DIR_FLAGS)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="disk-watch", daemon=True)

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        os.close(self._fd)

    def check(self) -> str | None:
        """Measure now (in the caller's thread); the sentence if a limit is passed."""
        usage = _measure_fd(self._fd, self.limit)
        if usage.bytes > self.limit.bytes:
            self.exceeded = (
                f"disk limit of {human_size(self.limit.bytes)} exceeded "
                f"(the build's directory holds more than {human_size(usage.bytes)})"
            )
        elif usage.files > self.limit.files:
            self.exceeded = (
                f"disk limit of {self.limit.files} files exceeded "
                f"(the build's directory holds more than {usage.files})"
            )
        return self.exceeded

    def _watch(self) -> None:
        while not self._done.wait(0):
            started = time.monotonic()
            if self.check() is not None:
                return
            took = time.monotonic() - started
            if self._done.wait(max(MIN_INTERVAL_S, 2 * took)):
                return
