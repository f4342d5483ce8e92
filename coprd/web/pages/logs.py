"""Reading a task's ``builder-live.log`` from an offset, for the build page's live view.

The log grows while the task runs (the agent appends to it) and becomes
``builder-live.log.gz`` once the build is published; both are read here, by byte offsets of
the plain text. Without an offset a read starts near the end (the last :data:`TAIL` bytes,
from a line start), so opening a long log costs one small response; from an offset it
returns at most :data:`CHUNK` bytes. Text is cut at UTF-8 character boundaries, so a
character written in two pieces is sent whole with the next read.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

from coprd.core.results import LIVE_LOG

__all__ = ["CHUNK", "MAX_INFLATE", "TAIL", "LogChunk", "read_log"]

TAIL = 64 * 1024
CHUNK = 256 * 1024
# A gzipped log is read by inflating it from its start: past this, the page links to the
# whole file instead, so that a page view costs little whatever the log's size.
MAX_INFLATE = 16 * 1024 * 1024
TOO_LONG = "(The log is too long to show here: open builder-live.log.)\n"
_INFLATE = 1024 * 1024


@dataclass(frozen=True)
class LogChunk:
    """Bytes ``start``..``end`` of the log as text; ``eof``: ``end`` is the log's end when
    it was read; ``found``: there is a log at all (not yet, before the task starts)."""

    start: int
    end: int
    text: str
    eof: bool
    found: bool


def read_log(directory: Path, offset: int | None, *, final: bool) -> LogChunk:
    """Read the live log in ``directory`` from ``offset`` (None: its tail). ``final`` says
    the task has ended, so the log will not grow: its last bytes are sent as they are."""
    plain = directory / LIVE_LOG
    try:
        fd = os.open(plain, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return _read_gzipped(directory / f"{LIVE_LOG}.gz", offset, final=final)
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - TAIL) if offset is None else min(offset, size)
        data = os.pread(fd, min(CHUNK, size - start), start)
    finally:
        os.close(fd)
    return _chunk(data, start, size, tail=offset is None and start > 0, final=final)


def _read_gzipped(path: Path, offset: int | None, *, final: bool) -> LogChunk:
    try:
        with gzip.open(path, "rb") as log:
            if offset is None:
                # The uncompressed size is known only by inflating it all, once.
                size, kept = 0, b""
                while block := log.read(_INFLATE):
                    size += len(block)
                    kept = (kept + block)[-TAIL:]
                    if size > MAX_INFLATE:
                        return LogChunk(0, 0, TOO_LONG, eof=True, found=True)
                start = size - len(kept)
                return _chunk(kept, start, size, tail=start > 0, final=final)
            if offset > MAX_INFLATE:
                return LogChunk(offset, offset, TOO_LONG, eof=True, found=True)
            log.seek(offset)
            data = log.read(CHUNK + 1)
    except (OSError, EOFError, gzip.BadGzipFile):
        return LogChunk(offset or 0, offset or 0, "", eof=True, found=False)
    start = offset
    end = start + min(len(data), CHUNK)
    size = end if len(data) <= CHUNK else end + 1
    return _chunk(data[:CHUNK], start, size, tail=False, final=final)


def _chunk(data: bytes, start: int, size: int, *, tail: bool, final: bool) -> LogChunk:
    if tail:
        # Begin at a line's start (and so at a character's).
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            start += newline + 1
            data = data[newline + 1 :]
    end = start + len(data)
    if not (final and end == size):
        data = data[: _complete_utf8(data)]
        end = start + len(data)
    return LogChunk(start, end, data.decode("utf-8", "replace"), eof=end == size, found=True)


def _complete_utf8(data: bytes) -> int:
    """The length of ``data`` without a multi-byte character it ends in the middle of."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)  # ASCII: complete
        if byte >= 0xC0:  # a lead byte: complete if all its continuation bytes are here
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)
