"""Packages users upload, kept by the frontend until the build's source task has them.

Every dialect that takes an upload (APIv3's ``build/create/upload`` and ``rpm-upload``, the
legacy ``new_build_upload``, APIv2's multipart build) goes through here:

1. ``receive`` copies the uploaded file, checked (an RPM lead, the right kind of RPM, the
   size limit), into a hidden file in ``<data_dir>/uploads/`` while the request runs
   (directories 0700, files 0600: only the server reads them);
2. once the build exists, ``keep`` moves it to ``uploads/<build_id:08d>/<name>``, where the
   agent running the source task downloads it (``/backend/task/<id>/source``);
3. when that task has ended, in any state, ``forget`` removes it.

``sweep`` removes what a crash or an abandoned build left behind: staging files older than
an hour, and the directories of builds that are gone or whose source task has ended
without having been finished by an agent (canceled before it started, or failed after
its last lease).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.types import Message

from coprd.config import Settings
from coprd.core import builds
from coprd.core.builds import (
    TERMINAL,
    BuildOptions,
    Source,
    check_package_upload,
    check_spec_upload,
)
from coprd.core.errors import TooLarge
from coprd.core.limits import MAX_SPEC_BYTES
from coprd.core.names import parse_digits
from coprd.core.results import BUILDS_DELETED
from coprd.datadir import make_private_dir
from coprd.db.engine import read_session
from coprd.db.models import SOURCE_TASK_CHROOT, Build, BuildTask, Project, User

__all__ = [
    "bounded",
    "forget",
    "keep",
    "receive",
    "submit_upload",
    "sweep",
    "sweep_forever",
    "uploads_dir",
]

log = logging.getLogger("coprd.uploads")

STAGING_PREFIX = ".upload-"
STALE_STAGING_S = 3600.0
# A directory is moved into place before the transaction that creates its build commits;
# younger ones are left alone, whatever the database says yet.
GRACE_S = 300.0
SWEEP_INTERVAL_S = 600.0
_CHUNK = 1024 * 1024
# What a multipart upload body may carry besides the package: small form or JSON parts
# (at most 1 MiB each) and the framing.
MULTIPART_ALLOWANCE = 2 * 1024 * 1024


def bounded(request: Request, settings: Settings) -> Request:
    """The same request, refused with ``TooLarge`` as soon as its body is known to exceed
    the upload limit (plus :data:`MULTIPART_ALLOWANCE`): at once when it declares a larger
    Content-Length, else while it is read. A body sent without a Content-Length (chunked)
    is otherwise parsed to its end, spooling the file part to disk, before its size could
    be checked. The package part itself is checked exactly by :func:`receive`."""
    limit = settings.max_upload_bytes + MULTIPART_ALLOWANCE
    error = TooLarge(
        f"the upload is larger than this server's limit of {settings.max_upload_bytes} bytes"
    )
    length = parse_digits(request.headers.get("content-length", ""))
    if length is not None and length > limit:
        raise error
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise error
        return message

    return Request(request.scope, receive)


def uploads_dir(settings: Settings, build_id: int) -> Path:
    return settings.data_dir / "uploads" / f"{build_id:08d}"


def receive(
    settings: Settings, stream: BinaryIO, filename: str, *, source: bool
) -> tuple[Path, str]:
    """Copy an uploaded package into a staging file, checked; returns its path and the name
    it is kept under (the client's file name without any directory).

    ``source`` says whether a source upload (an SRPM, a ``.nosrc.rpm`` or a spec file) or
    a binary RPM is expected. Raises ``InvalidInput``
    (not an RPM, a bad name) or ``TooLarge``; nothing is left behind then.
    """
    stream.seek(0)
    name = check_package_upload(filename, stream.read(96), source=source)
    stream.seek(0)
    if name.endswith(".spec"):
        check_spec_upload(name, stream.read(MAX_SPEC_BYTES + 1))
        stream.seek(0)
    staging = settings.data_dir / "uploads"
    make_private_dir(staging)
    fd, temp = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=staging)  # 0600
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise TooLarge(
                        f"pkgs: {name} is larger than this server's limit of "
                        f"{settings.max_upload_bytes} bytes"
                    )
                out.write(chunk)
    except BaseException:
        os.unlink(temp)
        raise
    return Path(temp), name


def submit_upload(
    session: Session,
    settings: Settings,
    actor: User,
    project: Project,
    stream: BinaryIO,
    filename: str,
    options: BuildOptions,
) -> Build:
    """A build of an uploaded SRPM or spec: checked and staged, submitted, then kept for its source
    task. Whatever is refused leaves no file behind."""
    temp, name = receive(settings, stream, filename, source=True)
    try:
        build = builds.submit_build(
            session, actor, project, Source(type="upload", data={"pkg": name}), options
        )
        keep(settings, temp, build.id, name)
    finally:
        temp.unlink(missing_ok=True)
    return build


def keep(settings: Settings, staged: Path, build_id: int, name: str) -> Path:
    """Move a staged upload to where the build's source task fetches it."""
    directory = uploads_dir(settings, build_id)
    make_private_dir(directory.parent)
    make_private_dir(directory)
    final = directory / name
    shutil.move(staged, final)
    return final


def forget(settings: Settings, build_id: int) -> None:
    shutil.rmtree(uploads_dir(settings, build_id), ignore_errors=True)


def attach(settings: Settings, factory: sessionmaker[Session]) -> None:
    """After each commit, forget the uploads of the builds it deleted (whoever deleted
    them: a user, a package's deletion, the cleanup); a rolled-back delete keeps them."""

    @event.listens_for(factory, "after_commit")
    def _deleted(session: Session) -> None:
        for build_id in sorted(session.info.pop(BUILDS_DELETED, ())):
            forget(settings, build_id)

    @event.listens_for(factory, "after_rollback")
    def _kept(session: Session) -> None:
        session.info.pop(BUILDS_DELETED, None)


def sweep(settings: Settings, factory: sessionmaker[Session], *, now: float | None = None) -> int:
    """Remove leftovers (see the module docstring); returns how many entries went."""
    root = settings.data_dir / "uploads"
    if not root.is_dir():
        return 0
    now = time.time() if now is None else now
    removed = 0
    held: dict[int, Path] = {}
    for entry in root.iterdir():
        if entry.name.startswith(STAGING_PREFIX):
            try:
                if now - entry.stat().st_mtime > STALE_STAGING_S:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        elif (build_id := parse_digits(entry.name)) is not None:
            try:
                if now - entry.stat().st_mtime > GRACE_S:
                    held[build_id] = entry
            except FileNotFoundError:
                pass
    if not held:
        return removed
    with read_session(factory) as session:
        waiting = set(
            session.scalars(
                select(BuildTask.build_id).where(
                    BuildTask.build_id.in_(held),
                    BuildTask.chroot_name == SOURCE_TASK_CHROOT,
                    BuildTask.state.not_in(TERMINAL),
                )
            )
        )
    for build_id, path in held.items():
        if build_id not in waiting:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def sweep_forever(
    settings: Settings,
    factory: sessionmaker[Session],
    stop: threading.Event,
    interval_s: float = SWEEP_INTERVAL_S,
) -> None:
    """``sweep`` now and every ``interval_s`` until ``stop`` is set."""
    while True:
        try:
            removed = sweep(settings, factory)
            if removed:
                log.info("removed %d upload(s) no build needs any more", removed)
        except Exception:
            log.exception("the uploads sweep failed; retrying in %.0f s", interval_s)
        if stop.wait(interval_s):
            return
