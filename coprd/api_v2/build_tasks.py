"""``/api_2/build_tasks``: one task per chroot of a build.

The source task (``srpm-builds``) is not a build task here: 1.63 shows a build's tasks as
its chroots, and upstream's APIv2 had no source step among them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from coprd.api_v2 import links
from coprd.api_v2.params import NewestFirst
from coprd.api_v2.schemas import (
    V2_STATES,
    V2BuildTaskList,
    V2BuildTaskOut,
    link_map,
    states_shown_as,
)
from coprd.core import builds
from coprd.core.errors import InvalidInput, NotFound
from coprd.core.projects import get_project_by_id
from coprd.http import DB, AppSettings

router = APIRouter(prefix="/build_tasks", tags=["api_2 build tasks"])


@router.get("", response_model=V2BuildTaskList, summary="Build tasks, newest first")
def list_build_tasks(
    request: Request,
    db: DB,
    settings: AppSettings,
    page: NewestFirst,
    owner: Annotated[str | None, Query(description="user name, or @group")] = None,
    project_id: Annotated[int | None, Query(description="wins over owner")] = None,
    build_id: Annotated[int | None, Query(description="wins over project_id and owner")] = None,
    state: Annotated[
        str | None,
        Query(description=", ".join(V2_STATES), json_schema_extra={"enum": list(V2_STATES)}),
    ] = None,
) -> V2BuildTaskList:
    states = None
    if state is not None:
        if state not in V2_STATES:
            raise InvalidInput(f"unknown state {state[:50]!r}; use one of {', '.join(V2_STATES)}")
        states = states_shown_as(state)
    if build_id is not None:
        builds.get_build(db, build_id)
        owner = project_id = None
    elif project_id is not None:
        get_project_by_id(db, project_id)
        owner = None
    found = builds.list_build_tasks(
        db, page, build_id=build_id, project_id=project_id, ownername=owner, states=states
    )
    return V2BuildTaskList(
        links=link_map(self=links.requested(request)),
        build_tasks=[V2BuildTaskOut.of(t.build, t, settings.results_url) for t in found],
    )


@router.get("/{build_id}/{chroot_name}", response_model=V2BuildTaskOut, summary="One build task")
def get_build_task(
    db: DB, settings: AppSettings, build_id: int, chroot_name: str
) -> V2BuildTaskOut:
    build = builds.get_build(db, build_id)
    for task in builds.chroot_tasks(build):
        if task.chroot_name == chroot_name:
            return V2BuildTaskOut.of(build, task, settings.results_url)
    raise NotFound(f"Build {build_id} has no chroot {chroot_name[:100]!r}.")
