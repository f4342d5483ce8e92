"""A build directory while its task runs and once it has ended.

**Packages wait hidden.** An agent uploads a task's RPMs while the task still runs; they
are stored under a hidden name (``.pending-hello-1.0-1.noarch.rpm``), which neither
createrepo_c nor the results pages see. Only when the task succeeds are they given their
own names (``reveal_packages``), just before the repository is updated; a task that
failed or was canceled has them removed (``drop_packages``). So a run of createrepo_c
for another build of the same chroot never indexes a package whose build has not
succeeded.

**Logs are gzipped.** While a build runs, ``builder-live.log`` grows and is served as
plain text (cut past a size, see ``publish/livelog.py``); afterwards its cut tail is
written below it, and every ``X.log`` becomes ``X.log.gz`` (the results pages redirect
a request for the plain name to the gzipped one, as Copr's web servers do).

**The server keeps its own notes.** As Copr's backend does, the server writes
``backend.log`` (when the task was claimed and by which builder, each file it stored, how
the agent said the task ended, signing and publishing), ``build.info`` (the build and the
builder) and, once the task has succeeded, the ``success`` marker. No agent uploads these
(``core/results.SERVER_FILES``) and they count in no limit.

**Uploads are counted.** A task stores at most ``max_result_files`` result files of at
most ``max_result_bytes`` in all. An upload is written to a hidden part file of its own
(``.NAME.<random>.part``) and renamed into place when complete. The part file is made
under the task directory's lock (``_fs.TASK_LOCK``) once the count of the names there
allows one more (``reserve_result``), so concurrent uploads of one task, on any number of
server replicas, hold their places in the count while they stream. The stored total is
kept in the lock file and checked, under the lock, just before the rename
(``store_result``). A name already stored (or being stored) is replaced, not counted twice.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import secrets
import shutil
import struct
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from coprd.core.errors import TooLarge
from coprd.core.limits import too_many_bytes, too_many_files
from coprd.core.results import BACKEND_LOG, BUILD_INFO, SERVER_FILES, SUCCESS
from coprd.publish._fs import (
    TASK_LOCK,
    flocked,
    fsync_dir,
    write_atomically,
    write_bytes_atomically,
)
from coprd.publish.livelog import close_log

__all__ = [
    "Upload",
    "drop_packages",
    "finish_build_dir",
    "mark_success",
    "note",
    "pending_name",
    "reserve_result",
    "reveal_packages",
    "store_result",
    "write_build_info",
]

PENDING_PREFIX = ".pending-"
_PART = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{16}\.part")
# backend.log holds a few lines per file stored; past this it takes no more.
MAX_BACKEND_LOG = 1024 * 1024
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
# The bytes of result files a task stores, in its directory's lock file.
_LEDGER = struct.Struct("<Q")

# Level 6 (gzip's own default) is several times faster than 9 on a large log, for a few
# per cent more bytes.
_LEVEL = 6


def finish_build_dir(build_dir: Path) -> list[Path]:
    """Gzip every ``*.log`` directly in ``build_dir`` (``builder-live.log``,
    ``backend.log``, …) into ``*.log.gz`` and remove the plain file; returns the
    ``.log.gz`` files written. The live log's cut tail, if any, is written below it first,
    and the task directory's lock goes at the end.

    Each ``.log.gz`` is written atomically before its ``.log`` is removed, so a crash
    leaves one or both, never a truncated ``.gz``; calling again after a crash or a
    success is safe (a ``.log`` still there is compressed again). Call only after the
    build's writers have stopped. Hidden files, symlinks and sub-directories are left
    alone.
    """
    close_log(build_dir)
    written = []
    for log in sorted(build_dir.glob("*.log")):
        if log.name.startswith(".") or log.is_symlink() or not log.is_file():
            continue
        target = log.with_name(log.name + ".gz")
        with open(log, "rb") as source:
            st = os.fstat(source.fileno())
            write_atomically(target, partial(_pack, source, log.name, st.st_mtime))
        # Keep the log's own time: the listing then says when the build ended.
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        log.unlink()
        written.append(target)
    (build_dir / TASK_LOCK).unlink(missing_ok=True)
    if written:
        fsync_dir(build_dir)
    return written


def _pack(source: BinaryIO, name: str, mtime: float, out: BinaryIO) -> None:
    with gzip.GzipFile(
        filename=name, mode="wb", fileobj=out, compresslevel=_LEVEL, mtime=int(mtime)
    ) as packed:
        shutil.copyfileobj(source, packed, 1024 * 1024)


def note(build_dir: Path, text: str, *, now: dt.datetime | None = None) -> None:
    """Append one timestamped line to the task's ``backend.log``. ``text`` may hold what
    an agent said: a control character in it is written as ``\\xNN``, so it cannot fake
    a line. Past :data:`MAX_BACKEND_LOG` bytes the log takes no more lines, nor once it
    was gzipped (a finish repeated after a crash must not replace it with its last lines)."""
    if (build_dir / f"{BACKEND_LOG}.gz").exists():
        return
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S")
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    try:
        fd = os.open(build_dir / BACKEND_LOG, _APPEND, 0o644)
    except FileNotFoundError:  # the directory is gone (the build was deleted meanwhile)
        return
    try:
        if os.fstat(fd).st_size < MAX_BACKEND_LOG:
            os.write(fd, f"[{when} UTC] {shown}\n".encode(errors="replace"))
    finally:
        os.close(fd)


def write_build_info(build_dir: Path, build_id: int, builder: str) -> None:
    """``build.info``: the build and the builder that runs the task (Copr's backend writes
    ``build_id`` and ``builder_ip``; a coprd builder is known by its name)."""
    text = f"build_id={build_id}\nbuilder={builder}\n".encode()
    write_bytes_atomically(build_dir / BUILD_INFO, text)


def mark_success(build_dir: Path) -> None:
    """The ``success`` marker of a succeeded task (its content is Copr's)."""
    write_bytes_atomically(build_dir / SUCCESS, b"done")


def pending_name(name: str) -> str:
    """The name an uploaded result file is stored under while its task runs."""
    return PENDING_PREFIX + name if name.endswith(".rpm") else name


def reveal_packages(build_dir: Path) -> list[Path]:
    """Give the pending packages of a succeeded task their own names; returns them.

    Safe to call again (after a crash, or a retried finish): nothing pending, nothing done.
    """
    revealed = []
    for pending in sorted(build_dir.glob(f"{PENDING_PREFIX}*")):
        if pending.is_file() and not pending.is_symlink():
            target = pending.with_name(pending.name.removeprefix(PENDING_PREFIX))
            os.replace(pending, target)
            revealed.append(target)
    if revealed:
        fsync_dir(build_dir)
    return revealed


def drop_packages(build_dir: Path) -> None:
    """Remove the pending packages of a task that did not succeed."""
    for pending in build_dir.glob(f"{PENDING_PREFIX}*"):
        pending.unlink(missing_ok=True)


@dataclass(frozen=True)
class Upload:
    """A result file being uploaded: its place in the count is held by ``part``, the
    file it is written to; ``others`` is the size of the task's other stored results."""

    name: str
    part: Path
    others: int


def reserve_result(build_dir: Path, name: str, *, max_files: int) -> Upload:
    """Hold a place for the result file ``name`` (checked by the caller) in the task's
    count and make its part file; raises TooLarge if the task has all the files it may.

    Counting lists the directory's names (no stat: ~1 µs a file); the stored size is kept
    in the lock file, see :func:`store_result`."""
    target = build_dir / pending_name(name)
    with flocked(build_dir / TASK_LOCK) as (lock, _):
        names = _result_names(build_dir)
        if name not in names:
            problem = too_many_files(len(names) + 1, max_files, who="this server", so_far=True)
            if problem:
                raise TooLarge(problem)
        part = build_dir / f".{name}.{secrets.token_hex(8)}.part"
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
        others = max(0, _stored_bytes(lock) - _size(target))
    return Upload(name, part, others)


def store_result(upload: Upload, target: Path, *, max_bytes: int) -> None:
    """Rename the complete part file to ``target`` if the task's results, with it, stay
    within ``max_bytes``; raises TooLarge (and leaves the part to the caller) if not.

    The size of what is stored is kept in the task directory's lock file, updated here
    under its lock before the rename (a crash between the two over-counts one file)."""
    with flocked(target.parent / TASK_LOCK) as (lock, _):
        stored = max(0, _stored_bytes(lock) - _size(target)) + upload.part.stat().st_size
        problem = too_many_bytes(stored, max_bytes, who="this server", so_far=True)
        if problem:
            raise TooLarge(problem)
        os.pwrite(lock, _LEDGER.pack(stored), 0)
        os.replace(upload.part, target)


def _result_names(build_dir: Path) -> set[str]:
    """The names of the task's result files, stored or being uploaded."""
    names: set[str] = set()
    with os.scandir(build_dir) as entries:
        for entry in entries:
            if part := _PART.fullmatch(entry.name):
                names.add(part["name"])
                continue
            name = entry.name.removeprefix(PENDING_PREFIX)
            if (
                name.startswith(".")
                or name in SERVER_FILES
                or not entry.is_file(follow_symlinks=False)
            ):
                continue
            names.add(name)
    return names


def _stored_bytes(lock: int) -> int:
    raw = os.pread(lock, _LEDGER.size, 0)
    return int(_LEDGER.unpack(raw)[0]) if len(raw) == _LEDGER.size else 0


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except FileNotFoundError:
        return 0
