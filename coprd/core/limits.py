"""What one build may leave behind: how much of its log is kept, and how many result files
of what total size it may store. A build is hostile code (issue 11), and both the agent and
the server hold it to these rules — the agent with its own host's settings, the server with
its own — so the rules are written once, here.

**The log is cut, GitLab-runner style.** A log keeps its *head*, everything up to
``max_log_bytes``; past that, one marker line says the log was cut, and at the end the
*tail* follows: the last ``log_tail_bytes`` of what was cut (all of it, if that is less).
So a log of ``n`` bytes is stored as::

    output[:cap] + marker + output[max(cap, n - tail):]

and nothing changes for a log of at most ``cap`` bytes. The build itself goes on as if
nothing happened. While it runs, the live view shows the head and the marker; the tail
is kept in a ring of ``tail`` bytes (in the agent's memory, or in a file beside the log
on the server) and written below the marker when the task ends.

**Results are counted.** A task may store at most ``max_result_files`` files of at most
``max_result_bytes`` in all; the agent checks what it would upload before it uploads
anything, the server counts what it stores.
"""

from __future__ import annotations

__all__ = [
    "MARKER_PREFIX",
    "MAX_SPEC_BYTES",
    "MAX_TIMEOUT",
    "cut_marker",
    "human_size",
    "ring_reads",
    "ring_writes",
    "split_head",
    "too_many_bytes",
    "too_many_files",
]

MARKER_PREFIX = b"[coprd] the log is longer than "
MAX_SPEC_BYTES = 32 * 1024 * 1024
"""The largest spec file uploaded, or kept from a build (texlive's, among the largest, is
~10 MiB)."""
MAX_TIMEOUT = 30 * 3600
"""The longest a build may run, in seconds: Copr's MAX_BUILD_TIMEOUT (30 h)."""
_UNITS = ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"))


def human_size(size: int) -> str:
    """``64 MiB``, ``1.5 GiB``, ``300 bytes``: a size as a person reads it."""
    for unit, name in _UNITS:
        if size >= unit:
            value = size / unit
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {name}"
    return f"{size} bytes"


def split_head(stored: int, cap: int, chunk: bytes) -> tuple[bytes, bytes]:
    """Split ``chunk``, which follows ``stored`` bytes of a log's head, into what still
    fits in a head of ``cap`` bytes and what is cut. Nothing is cut until a byte would
    go past the cap (a log of exactly ``cap`` bytes is whole)."""
    room = max(0, cap - stored)
    return chunk[:room], chunk[room:]


def cut_marker(cap: int, tail: int, *, after_newline: bool) -> bytes:
    """The one line that says a log was cut after ``cap`` bytes. It starts a line of its
    own: ``after_newline`` says whether the head ends one (else a newline comes first)."""
    verb = "is" if tail >= 1024 else "are"  # "1 MiB is", "300 bytes are"
    kept = f"only its last {human_size(tail)} {verb} kept below" if tail else "none of it is kept"
    line = f"{human_size(cap)}: the rest is cut, {kept}\n"
    return (b"" if after_newline else b"\n") + MARKER_PREFIX + line.encode()


def ring_writes(written: int, size: int, length: int) -> list[tuple[int, int, int]]:
    """Where ``length`` new bytes go in a ring of ``size`` bytes that has taken
    ``written`` bytes so far: ``(offset in the new bytes, offset in the ring, length)``
    pieces, at most two. Only the last ``size`` new bytes are written at all."""
    if size == 0 or length == 0:
        return []
    skip = max(0, length - size)
    start = (written + skip) % size
    first = min(length - skip, size - start)
    pieces = [(skip, start, first)]
    if skip + first < length:
        pieces.append((skip + first, 0, length - skip - first))
    return pieces


def ring_reads(written: int, size: int) -> list[tuple[int, int]]:
    """The ``(offset, length)`` pieces of a ring of ``size`` bytes that has taken
    ``written`` bytes, oldest first: its content in the order it was written."""
    if size == 0 or written == 0:
        return []
    if written <= size:
        return [(0, written)]
    start = written % size
    return [(start, size - start)] + ([(0, start)] if start else [])


def too_many_files(
    count: int, limit: int, *, who: str, so_far: bool = False, besides: int = 0
) -> str | None:
    """Why ``count`` result files are more than ``who`` (``this builder``, ``this
    server``) accepts for one task, or None. ``so_far``: ``count`` is what was seen so far,
    not the whole (the server counts uploads one by one), so the message says "more than".
    ``besides``: the task's other result files (its SRPM, spec, logs), counted too."""
    if count + besides <= limit:
        return None
    made = f"more than {limit} result files" if so_far else f"{count} packages"
    if besides:
        made += f" besides {besides} other result files"
    return f"the build made {made}; {who} accepts at most {limit} (setting max_result_files)"


def too_many_bytes(
    total: int, limit: int, *, who: str, so_far: bool = False, besides: int = 0
) -> str | None:
    """Why result files of ``total`` bytes are more than ``who`` accepts for one task, or
    None; ``so_far`` and ``besides`` (bytes here) as for :func:`too_many_files`."""
    if total + besides <= limit:
        return None
    take = (
        f"result files take more than {human_size(limit)}"
        if so_far
        else f"packages take {human_size(total)}"
    )
    if besides:
        take += f" besides {human_size(besides)} of other result files"
    return (
        f"the build's {take}; {who} accepts at most {human_size(limit)} (setting max_result_bytes)"
    )
