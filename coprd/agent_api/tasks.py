"""The agent protocol: claim, heartbeat, log, upload results, finish.

Agents pull work over HTTP with a builder token, like GitLab runners; they never hold
database credentials. Every call but ``claim`` names a task the agent must hold.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from coprd import uploads
from coprd.agent_api.deps import THROTTLED, CurrentBuilder, ReadingBuilder, authenticate
from coprd.agent_api.schemas import (
    ClaimIn,
    FinishIn,
    FinishOut,
    HeartbeatOut,
    TaskOut,
    TaskRepo,
)
from coprd.agent_api.wakeup import RECHECK_S, WorkSignal
from coprd.config import Settings
from coprd.core import builds, results, scheduling
from coprd.core.errors import InvalidInput, NotFound, TooLarge
from coprd.core.limits import too_many_bytes
from coprd.core.sources import SourceSettings
from coprd.db.engine import read_session, write_session
from coprd.db.models import Builder, BuildTask
from coprd.http import DB, AppSettings, ReadDB
from coprd.publish import builddir, livelog
from coprd.publish.createrepo import CreaterepoFailed
from coprd.publish.publisher import Publisher

router = APIRouter(prefix="/backend", tags=["builder agents"])

MAX_LOG_CHUNK = 1024 * 1024
# The line an agent says its log was cut with (``?cut=true``).
MAX_CUT_MARKER = 1024
# A finish names up to MAX_FINISH_PACKAGES packages (~150 bytes of JSON each).
MAX_FINISH_BODY = 4 * 1024 * 1024
# Result files are streamed to disk; the configured limit is enforced while streaming.
MAX_RESULT_BODY = 64 * 1024 * 1024 * 1024
TaskId = Annotated[int, PathParam(ge=1)]
FEDORA_REVIEW_SKIPPED = (
    b"coprd: this project asks for fedora-review, which coprd does not run; "
    b"the build goes on without a review.\n"
)


def _task_out(db: DB, settings: Settings, task: BuildTask) -> TaskOut:
    build = builds.get_build(db, task.build_id)
    base = settings.public_url
    source_url: str | None = None
    srpm_url: str | None = None
    served = False
    if task.is_source:
        if build.source_type == "upload":
            source_url, served = f"{base}/backend/task/{task.id}/source", True
        else:
            source_url = build.source_json.get("url")
            served = source_url is not None and _in_results(source_url, settings.results_url)
    else:
        src = builds.source_task(build)
        srpm_url = f"{settings.results_url}/{results.task_dir(build, src)}/{build.srpm_name}"
    lookaside = None
    if task.is_source and build.source_type in ("distgit", "scm"):  # scm: a "sources" file
        sources = SourceSettings.of(settings)
        lookaside = sources.distgit(build.source_json.get("distgit")).lookaside_url
    config = None
    if not task.is_source:
        try:
            config = builds.task_config(db, build, task, settings.results_url)
        except NotFound:  # an old task whose chroot was disabled after the build was submitted
            config = None
    return TaskOut(
        task_id=task.id,
        build_id=build.id,
        kind="source" if task.is_source else "rpm",
        chroot=task.chroot_name,
        owner=build.project.owner_name,
        project=build.project.name,
        source_type=build.source_type,
        source=build.source_json,
        source_url=source_url,
        source_is_served=served,
        srpm_url=srpm_url,
        results_url=f"{settings.results_url}/{results.task_dir(build, task)}/",
        timeout=config.timeout or build.timeout if config else build.timeout,
        memory_limit_mb=build.memory_limit,
        enable_net=build.enable_net,
        with_opts=config.with_opts if config else [],
        without_opts=config.without_opts if config else [],
        repos=[r.baseurl for r in config.repos] if config else [],
        repo_specs=[
            TaskRepo(
                id=r.id,
                name=r.name,
                baseurl=r.baseurl,
                priority=r.priority,
                module_hotfixes=bool(r.module_hotfixes),
                served=_in_results(r.baseurl, settings.results_url),
            )
            for r in (config.repos if config else [])
        ],
        buildroot_pkgs=config.additional_packages if config else [],
        modules=config.additional_modules if config else [],
        isolation=config.isolation if config else "default",
        bootstrap=config.bootstrap if config else "default",
        bootstrap_image=config.bootstrap_image if config else None,
        lease_seconds=settings.lease_seconds,
        pypi_index=settings.pypi_index,
        rubygems_source=settings.rubygems_source,
        lookaside_url=lookaside,
    )


def _in_results(url: str, results_url: str) -> bool:
    """Whether ``url`` names a file of this server's results (a resubmitted upload's SRPM
    is such a link), with no ``..`` that could lead elsewhere on the server."""
    if not url.startswith(f"{results_url.rstrip('/')}/"):
        return False
    path = unquote(urlsplit(url).path)
    return "/../" not in f"{path}/" and "/./" not in f"{path}/" and "?" not in url


@router.post(
    "/claim", response_model=TaskOut, responses={204: {"description": "no work"}, **THROTTLED}
)
async def claim(request: Request, body: ClaimIn) -> object:
    """The next task this agent can build, under a lease; 204 if there is none within
    ``wait_s`` seconds (see ``wakeup``). No transaction stays open while the claim waits."""
    signal: WorkSignal = request.app.state.work_signal
    builder_id = await run_in_threadpool(_builder_id, request)
    deadline = time.monotonic() + body.wait_s
    while True:
        woken = signal.current()
        out = await run_in_threadpool(_claim_once, request, builder_id, body.arches)
        remaining = deadline - time.monotonic()
        if out is not None or remaining <= 0:
            return out if out is not None else Response(status_code=204)
        await signal.wait(woken, min(remaining, RECHECK_S))


def _builder_id(request: Request) -> int:
    # In a worker thread, as every database call of an async route must be: the event loop
    # must never wait for a connection or a lock (SQLite's writers wait up to 30 s, and a
    # blocked loop stalls the very transaction they wait for).
    with read_session(request.app.state.session_factory) as db:
        return authenticate(request, db).id


def _claim_once(request: Request, builder_id: int, arches: list[str]) -> TaskOut | None:
    settings: Settings = request.app.state.settings
    with write_session(request.app.state.session_factory) as db:
        scheduling.requeue_expired(db)
        builder = db.get_one(Builder, builder_id)
        task = scheduling.claim_task(db, builder, arches, lease_s=settings.lease_seconds)
        if task is None:
            return None
        out = _task_out(db, settings, task)
        build = builds.get_build_of_task(db, task)
        directory = _held_dir(db, settings, builder, task.id)
        builddir.write_build_info(directory, build.id, builder.name)
        builddir.note(directory, f"task {task.id} claimed by builder {builder.name}")
        if not task.is_source and build.project.fedora_review:
            _append_log(settings, directory, FEDORA_REVIEW_SKIPPED)
        return out


@router.post("/task/{task_id}/heartbeat", response_model=HeartbeatOut)
def heartbeat(
    db: DB, settings: AppSettings, builder: CurrentBuilder, task_id: TaskId
) -> HeartbeatOut:
    action = scheduling.heartbeat(db, builder, task_id, lease_s=settings.lease_seconds)
    return HeartbeatOut(action=action)


def _held_dir(db: Session, settings: Settings, builder: Builder, task_id: int) -> Path:
    task = scheduling.held_task(db, builder, task_id)
    build = builds.get_build_of_task(db, task)
    path = settings.results_dir / str(results.task_dir(build, task))
    path.mkdir(parents=True, exist_ok=True)
    return path


@router.post("/task/{task_id}/log", status_code=204, max_body_size=MAX_LOG_CHUNK)
async def append_log(
    request: Request,
    db: ReadDB,
    settings: AppSettings,
    builder: ReadingBuilder,
    task_id: TaskId,
    cut: Annotated[
        bool, Query(description="the agent cut the log here; the body is its line")
    ] = False,
) -> Response:
    """Append a chunk to the task's ``builder-live.log``, readable over HTTP at once.

    The log is cut past ``max_log_bytes`` whatever the agent sends (``core/limits.py``).
    With ``cut=true`` the agent says it cut the log itself (with its own settings): the
    body is the line that says so, and what the agent sends next is the log's tail."""
    chunk = await request.body()
    if cut and len(chunk) > MAX_CUT_MARKER:
        raise InvalidInput(f"a cut line is at most {MAX_CUT_MARKER} bytes", "cut")
    directory = await run_in_threadpool(_held_dir, db, settings, builder, task_id)
    if cut:
        await run_in_threadpool(
            livelog.cut_log, directory, chunk, tail_bytes=settings.log_tail_bytes
        )
    else:
        await run_in_threadpool(_append_log, settings, directory, chunk)
    return Response(status_code=204)


def _held_task_dir(db: Session, builder: Builder, task_id: int) -> str:
    task = scheduling.held_task(db, builder, task_id)
    return str(results.task_dir(builds.get_build_of_task(db, task), task))


def _append_log(settings: Settings, directory: Path, chunk: bytes) -> None:
    livelog.append_log(
        directory, chunk, max_bytes=settings.max_log_bytes, tail_bytes=settings.log_tail_bytes
    )


@router.put("/task/{task_id}/files/{name}", status_code=204, max_body_size=MAX_RESULT_BODY)
async def upload_file(
    request: Request,
    db: ReadDB,
    settings: AppSettings,
    builder: ReadingBuilder,
    task_id: TaskId,
    name: str,
) -> Response:
    """Store one result file (an RPM, a log) of a task; packages stay hidden until the
    task succeeds (see ``coprd.publish.builddir``).

    A task stores at most ``max_result_files`` files of at most ``max_result_bytes`` in
    all. An upload past either is refused with 413 once its body is read (up to
    ``max_upload_bytes``), so that the agent hears why rather than a cut connection."""
    results.check_result_file(name)
    task_dir = await run_in_threadpool(_held_task_dir, db, builder, task_id)
    publisher: Publisher = request.app.state.publisher
    target = publisher.result_file(task_dir, name)
    try:
        upload = await run_in_threadpool(
            builddir.reserve_result, target.parent, name, max_files=settings.max_result_files
        )
    except TooLarge:
        await _drain(request, settings.max_upload_bytes)
        raise
    size = 0
    refused: str | None = None
    try:
        with open(upload.part, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise TooLarge(
                        refused
                        or f"{name} is larger than the limit of {settings.max_upload_bytes} bytes"
                    )
                refused = refused or too_many_bytes(
                    upload.others + size, settings.max_result_bytes, who="this server", so_far=True
                )
                if refused is None:  # else the rest is read, not kept: see _drain
                    out.write(chunk)
            if refused:
                raise TooLarge(refused)
            out.flush()
            os.fsync(out.fileno())
        await run_in_threadpool(
            builddir.store_result, upload, target, max_bytes=settings.max_result_bytes
        )
        await run_in_threadpool(builddir.note, target.parent, f"stored {name} ({size} bytes)")
    finally:
        upload.part.unlink(missing_ok=True)
    return Response(status_code=204)


async def _drain(request: Request, limit: int) -> None:
    """Read and drop the rest of a refused upload's body, up to ``limit`` bytes: an agent
    that is still sending when the connection closes may see the cut, not the answer."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            return


@router.get("/task/{task_id}/source")
def download_source(
    db: DB, settings: AppSettings, builder: CurrentBuilder, task_id: TaskId
) -> FileResponse:
    """The uploaded SRPM an ``upload`` build's source task starts from."""
    task = scheduling.held_task(db, builder, task_id)
    build = builds.get_build_of_task(db, task)
    name = build.source_json.get("pkg")
    path = uploads.uploads_dir(settings, build.id) / str(name)
    if not task.is_source or build.source_type != "upload" or not path.is_file():
        raise NotFound(f"task {task_id} has no uploaded source")
    return FileResponse(path, media_type="application/x-rpm", filename=str(name))


@router.post("/task/{task_id}/finish", response_model=FinishOut, max_body_size=MAX_FINISH_BODY)
def finish(
    request: Request, db: ReadDB, builder: ReadingBuilder, task_id: TaskId, body: FinishIn
) -> FinishOut:
    """Record how a task ended. A chroot build is published into its repository first,
    so that once a build reads ``succeeded`` dnf can install it.

    Publishing runs createrepo_c, which takes up to a second on a big repository; it
    runs before the write transaction opens, so on SQLite other agents and users are not
    held up meanwhile.
    """
    publisher: Publisher = request.app.state.publisher
    task = scheduling.held_task(db, builder, task_id)
    build = builds.get_build_of_task(db, task)
    directory = str(results.task_dir(build, task))
    settings: Settings = request.app.state.settings
    held = _held_dir(db, settings, builder, task_id)
    if body.log_tail:
        _append_log(settings, held, body.log_tail)
    said = f"the agent reports: {body.state}" + (f" ({body.message})" if body.message else "")
    builddir.note(held, said[:2000])
    outcome = scheduling.TaskOutcome(
        state=body.state,
        message=body.message,
        packages=[p.model_dump() for p in body.packages],
        source=scheduling.SourceResult(**body.source.model_dump()) if body.source else None,
    )
    succeeded = body.state == "succeeded" and not task.cancel_requested
    if succeeded and not task.is_source:
        try:
            publisher.publish_build(
                str(results.repo_dir(build, task.chroot_name)),
                directory,
                devel=build.project.devel_mode,
            )
        except CreaterepoFailed as exc:
            outcome = scheduling.TaskOutcome(state="failed", message=f"publishing failed: {exc}")
    else:
        publisher.close(directory, succeeded=succeeded)
    with write_session(request.app.state.session_factory) as writing:
        held_by = writing.get_one(Builder, builder.id)
        state = scheduling.finish_task(
            writing, held_by, task_id, outcome, results_url=settings.results_url
        ).state.value
    if task.is_source:  # the uploaded SRPM, if any, is in the results now or of no use
        uploads.forget(request.app.state.settings, build.id)
    return FinishOut(build_state=state)
