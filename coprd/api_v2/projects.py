"""``/api_2/projects``: translation of APIv2 project calls into core calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from coprd.api_v2 import links
from coprd.api_v2.params import Pagination, checked
from coprd.api_v2.schemas import (
    V2ProjectCreateIn,
    V2ProjectList,
    V2ProjectOut,
    V2ProjectUpdateIn,
    link_map,
)
from coprd.auth import CurrentUser
from coprd.core import builds, names, projects
from coprd.core.projects import NewProject, ProjectFields
from coprd.http import DB, AppSettings

router = APIRouter(prefix="/projects", tags=["api_2 projects"])


@router.get("", response_model=V2ProjectList, summary="Projects, filtered")
def list_projects(
    request: Request,
    db: DB,
    page: Pagination,
    search_query: Annotated[str | None, Query(description="text in name or description")] = None,
    owner: Annotated[str | None, Query(description="user name, or @group")] = None,
    name: Annotated[
        str | None,
        Query(description="project name", json_schema_extra=names.json_schema("project")),
    ] = None,
) -> V2ProjectList:
    found = projects.list_projects(db, owner, page, projectname=name, query=search_query)
    modified = builds.last_modified_of(db, found)
    return V2ProjectList(
        links=link_map(self=links.requested(request)),
        projects=[V2ProjectOut.of(p, modified[p.id]) for p in found],
    )


@router.post(
    "",
    status_code=201,
    response_model=V2ProjectOut,
    summary="Create a project (201, Location: the new project)",
)
def create_project(
    response: Response, db: DB, settings: AppSettings, user: CurrentUser, body: V2ProjectCreateIn
) -> V2ProjectOut:
    new = checked(NewProject, body.core_fields())
    owner = user.name if body.owner is None else body.owner
    project = projects.create_project(db, user, owner, new)
    response.headers["Location"] = links.absolute(settings.public_url, links.project(project.id))
    return V2ProjectOut.of(project, None)


@router.get("/{project_id}", response_model=V2ProjectOut, summary="One project")
def get_project(db: DB, project_id: int) -> V2ProjectOut:
    project = projects.get_project_by_id(db, project_id)
    return V2ProjectOut.of(project, builds.last_modified(db, project))


@router.put(
    "/{project_id}",
    response_model=V2ProjectOut,
    summary="Change a project (the whole entity; id, name and owner are read-only)",
)
def update_project(
    db: DB, user: CurrentUser, project_id: int, body: V2ProjectUpdateIn
) -> V2ProjectOut:
    # 200, not upstream's 204: 1.63's OperationResult.is_successful() expects 200.
    fields = checked(ProjectFields, body.core_fields())
    project = projects.get_project_by_id(db, project_id)
    projects.edit_project(db, user, project, fields)
    return V2ProjectOut.of(project, builds.last_modified(db, project))


@router.delete(
    "/{project_id}", status_code=204, response_class=Response, summary="Delete a project"
)
def delete_project(db: DB, user: CurrentUser, project_id: int) -> Response:
    projects.delete_project(db, user, projects.get_project_by_id(db, project_id))
    return Response(status_code=204)
