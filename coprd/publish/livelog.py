"""A running task's ``builder-live.log``, held on the server to the cut of
``core/limits.py`` whatever an agent sends.

The head is the log file itself, readable over HTTP at once. Once a chunk would take it
past ``max_log_bytes``, what fits is appended, then the marker line, and the rest of the
output goes to a ring beside it, ``.builder-live.log.tail``: a header of two
little-endian 64-bit numbers (the ring's size, and how many bytes it has taken) and then
the ring. When the task ends, :func:`close_log` writes the ring's content, oldest first,
below the marker and removes the ring, before the log is gzipped.

The state is all on disk, and every call holds the task directory's lock
(``_fs.TASK_LOCK``), so several server replicas sharing the results store, or an agent's
retried request, see one log. An append costs a stat and the chunk's own writes, however
long the log already is. A log is never longer than ``max_log_bytes`` + the marker +
``log_tail_bytes`` (the ring's size is fixed when it is made, so a setting changed while
a task runs does not mix two rings).

An agent that cuts its log itself (as ``coprd``'s do, with its host's settings) says so
with :func:`cut_log` and its own marker line; the server then keeps that line and rings
what follows, so the log has the same shape whoever cut it, and says so once.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from coprd.core.limits import cut_marker, ring_reads, ring_writes, split_head
from coprd.core.results import LIVE_LOG
from coprd.publish._fs import TASK_LOCK, flocked

__all__ = ["RING", "append_log", "close_log", "cut_log"]

RING = f".{LIVE_LOG}.tail"
_HEADER = struct.Struct("<QQ")
_COPY = 1024 * 1024
_LOG_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def append_log(build_dir: Path, chunk: bytes, *, max_bytes: int, tail_bytes: int) -> None:
    """Append build output to the task's log: to the head while it has room; past it, the
    marker once and the rest to the ring."""
    if not chunk:
        return
    with flocked(build_dir / TASK_LOCK):
        if _ring_add(build_dir, chunk):
            return
        fd = os.open(build_dir / LIVE_LOG, _LOG_FLAGS, 0o644)
        try:
            stored = os.fstat(fd).st_size
            head, rest = split_head(stored, max_bytes, chunk)
            _write_all(fd, head)
            if not rest:
                return
            ends_line = head.endswith(b"\n") if head else _ends_line(fd, stored)
            _write_all(fd, cut_marker(max_bytes, tail_bytes, after_newline=ends_line))
        finally:
            os.close(fd)
        _make_ring(build_dir, tail_bytes)
        _ring_add(build_dir, rest)


def cut_log(build_dir: Path, marker: bytes, *, tail_bytes: int) -> None:
    """The agent cut the log here: append its ``marker`` line (a newline is added if it
    lacks one) and ring what follows. Nothing if the log was cut already."""
    with flocked(build_dir / TASK_LOCK):
        if (build_dir / RING).exists():
            return
        fd = os.open(build_dir / LIVE_LOG, _LOG_FLAGS, 0o644)
        try:
            _write_all(fd, marker if marker.endswith(b"\n") else marker + b"\n")
        finally:
            os.close(fd)
        _make_ring(build_dir, tail_bytes)


def close_log(build_dir: Path) -> None:
    """Write the ring's content below the marker and remove the ring; nothing if the log
    was not cut. Call once the task's agent is done with it (a crash between the two
    steps may write the tail twice: nothing is lost)."""
    if not (build_dir / RING).exists():
        return  # not cut (the agent is done: no ring appears now)
    with flocked(build_dir / TASK_LOCK):
        try:
            ring = os.open(build_dir / RING, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            size, written = _header(ring)
            log = os.open(build_dir / LIVE_LOG, _LOG_FLAGS, 0o644)
            try:
                for offset, length in ring_reads(written, size):
                    for start in range(offset, offset + length, _COPY):
                        block = min(_COPY, offset + length - start)
                        _write_all(log, os.pread(ring, block, _HEADER.size + start))
            finally:
                os.close(log)
        finally:
            os.close(ring)
        (build_dir / RING).unlink()


def _make_ring(build_dir: Path, size: int) -> None:
    fd = os.open(build_dir / RING, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        _write_all(fd, _HEADER.pack(size, 0))
    finally:
        os.close(fd)


def _ring_add(build_dir: Path, chunk: bytes) -> bool:
    """Put ``chunk`` in the ring; False if there is none (the log was not cut)."""
    try:
        fd = os.open(build_dir / RING, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        size, written = _header(fd)
        view = memoryview(chunk)
        for start, offset, length in ring_writes(written, size, len(chunk)):
            _pwrite_all(fd, view[start : start + length], _HEADER.size + offset)
        _pwrite_all(fd, _HEADER.pack(size, written + len(chunk)), 0)
    finally:
        os.close(fd)
    return True


def _header(fd: int) -> tuple[int, int]:
    raw = os.pread(fd, _HEADER.size, 0)
    if len(raw) < _HEADER.size:  # cut short by a crash as it was made: an empty ring
        return 0, 0
    size, written = _HEADER.unpack(raw)
    return int(size), int(written)


def _ends_line(fd: int, size: int) -> bool:
    """Whether the first ``size`` bytes of the log ``fd`` end a line (or are none)."""
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done
