"""A build's page: its tasks with their states and durations, links to results and logs, a
live view of a task's ``builder-live.log``, and cancel / resubmit / delete forms for those
the core allows them."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from coprd.core import builds, ordering, packages, results
from coprd.core.builds import TERMINAL, effective_state
from coprd.core.errors import NotFound
from coprd.core.names import is_id
from coprd.db.models import Build, BuildState, BuildTask
from coprd.http import DB, AppSettings
from coprd.publish.store import LocalStore, UnsafePath
from coprd.web.pages import urls
from coprd.web.pages.forms import CheckedForm
from coprd.web.pages.logs import read_log
from coprd.web.pages.projects import OwnerName, add_project_route, project_rights
from coprd.web.pages.render import render
from coprd.web.pages.sessions import Viewer, flash
from coprd.web.results import UNTRUSTED_HEADERS

router = APIRouter(include_in_schema=False)

_UNFINISHED = (BuildState.running, BuildState.starting)


@router.get("/coprs/build/{build_id:int}/")
def build_short_url(db: DB, build_id: int) -> Response:
    """``/coprs/build/<id>/``, the URL copr-cli prints, leads to the build's page."""
    return RedirectResponse(urls.build_url(_get_build(db, build_id)), status_code=302)


def _get_build(db: DB, build_id: int) -> Build:
    if not is_id(build_id):
        raise NotFound(f"Build {build_id} does not exist.")
    return builds.get_build(db, build_id)


def find_build(db: DB, owner: str, projectname: str, build_id: int) -> Build:
    """The build, if it is one of the project the path names."""
    build = _get_build(db, build_id)
    if build.project.owner_name != owner or build.project.name != projectname:
        raise NotFound(f"Build {build_id} is not a build of {owner}/{projectname}.")
    return build


def _task_row(results_base: str, build: Build, task: BuildTask) -> dict[str, Any]:
    directory = str(results.task_dir(build, task))
    started = task.started_on is not None
    return {
        "task": task,
        "name": task.chroot_name,
        "state": effective_state(task).value,
        "ended": task.state in TERMINAL,
        "results": urls.results_url(results_base, directory, directory=True) if started else None,
        "log": urls.results_url(results_base, f"{directory}/{results.LIVE_LOG}")
        if started
        else None,
    }


def _followed(build: Build, wanted: str | None) -> BuildTask | None:
    """The task whose log the page shows: the one asked for, else the first running, else
    the first failed."""
    if wanted:
        return next((t for t in build.tasks if t.chroot_name == wanted), None)
    for states in (_UNFINISHED, (BuildState.failed,)):
        for task in build.tasks:  # the source task comes first
            if task.state in states and task.started_on is not None:
                return task
    return None


def build_page(
    request: Request,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    build_id: int,
    log: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    build = find_build(db, owner, projectname, build_id)
    rows = [_task_row(settings.results_url, build, task) for task in build.tasks]
    followed = _followed(build, log or None)
    context = {
        "build": build,
        "project": build.project,
        "tab": "builds",
        "rows": rows,
        "followed": followed,
        "followed_log": next((r["log"] for r in rows if r["task"] is followed), None),
        "live_url": urls.build_url(build) + f"log/{quote(followed.chroot_name, safe='')}"
        if followed is not None
        else None,
        "allowed": builds.allowed_actions(db, viewer, build),
        "source_url": _source_url(build),
        "package": packages.package_name_of(db, build),
        "rights": project_rights(db, viewer, build.project),
        "wait_reason": ordering.build_wait_reason(build.tasks),
        "order_note": ordering.build_order_note(build.tasks),
    }
    return render(request, "build.html", context)


def _source_url(build: Build) -> str | None:
    url = build.source_json.get("url") or build.source_json.get("clone_url")
    return url if isinstance(url, str) else None


def live_log(
    db: DB,
    settings: AppSettings,
    owner: OwnerName,
    projectname: str,
    build_id: int,
    chroot: str,
    offset: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    """A piece of a task's live log as JSON: ``text`` from byte ``start`` to ``next`` (the
    offset to ask for next), ``eof`` when that was all there was, ``ended`` once the task
    has ended (the log grows no more)."""
    build = find_build(db, owner, projectname, build_id)
    task = next((t for t in build.tasks if t.chroot_name == chroot), None)
    if task is None:
        raise NotFound(f"Build {build_id} has no task {chroot}.")
    ended = task.state in TERMINAL
    try:
        directory = LocalStore(settings.results_dir).local_path(str(results.task_dir(build, task)))
    except UnsafePath:
        raise NotFound(f"Build {build_id} has no log for {chroot}.") from None
    chunk = read_log(directory, offset, final=ended)
    body = {
        "start": chunk.start,
        "next": chunk.end,
        "text": chunk.text,
        "eof": chunk.eof,
        "found": chunk.found,
        "ended": ended,
        "state": effective_state(task).value,
    }
    # The log's text is a build's bytes: the JSON is read by the page's script, never shown
    # as a page itself.
    return JSONResponse(body, headers={"Cache-Control": "no-store", **UNTRUSTED_HEADERS})


def cancel(
    request: Request,
    form: CheckedForm,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    build_id: int,
) -> Response:
    build = builds.cancel_build(db, viewer, find_build(db, owner, projectname, build_id))
    flash(request, f"Build {build.id} is canceled.")
    return RedirectResponse(urls.build_url(build), status_code=303)


def resubmit(
    request: Request,
    form: CheckedForm,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    build_id: int,
) -> Response:
    build = find_build(db, owner, projectname, build_id)
    new = packages.resubmit_build(db, viewer, build, results_url=settings.results_url)
    flash(request, f"Build {new.id} is a new build of build {build.id}.")
    return RedirectResponse(urls.build_url(new), status_code=303)


def delete(
    request: Request,
    form: CheckedForm,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    build_id: int,
) -> Response:
    build = find_build(db, owner, projectname, build_id)
    project = build.project
    builds.delete_builds(db, viewer, [build.id])
    flash(request, f"Build {build_id} is deleted.")
    return RedirectResponse(urls.project_url(project, "builds/"), status_code=303)


add_project_route(router, "/build/{build_id:int}/", build_page)
add_project_route(router, "/build/{build_id:int}/log/{chroot}", live_log)
add_project_route(router, "/build/{build_id:int}/cancel", cancel, methods=["POST"])
add_project_route(router, "/build/{build_id:int}/resubmit", resubmit, methods=["POST"])
add_project_route(router, "/build/{build_id:int}/delete", delete, methods=["POST"])
