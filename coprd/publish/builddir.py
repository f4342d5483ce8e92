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
"""

from __future__ import annotations

import gzip
import os
import shutil
from functools import partial
from pathlib import Path
from typing import BinaryIO

from coprd.publish._fs import TASK_LOCK, fsync_dir, write_atomically
from coprd.publish.livelog import close_log

__all__ = ["drop_packages", "finish_build_dir", "pending_name", "reveal_packages"]

PENDING_PREFIX = ".pending-"

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
