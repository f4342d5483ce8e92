"""``project/…``: translation of APIv3 project calls into core calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from coprd.api_v3.deps import CurrentUser, OptionalUser
from coprd.api_v3.params import Pagination
from coprd.api_v3.schemas import (
    CanBuildInOut,
    ItemList,
    Meta,
    Permissions,
    PermissionsOut,
    ProjectAddIn,
    ProjectDeleteIn,
    ProjectEditIn,
    ProjectForkIn,
    ProjectOut,
    UpdatedOut,
)
from coprd.core import forks, permissions, projects, repositories
from coprd.core.errors import NotFound
from coprd.http import DB, AppSettings, parse_bool

router = APIRouter(prefix="/project", tags=["projects"])

OwnerQ = Annotated[str, Query(description="user name, or @group")]
ProjectQ = Annotated[str, Query(description="project name")]


@router.get("", response_model=ProjectOut, summary="One project")
def get_project(
    db: DB, settings: AppSettings, ownername: OwnerQ, projectname: ProjectQ
) -> ProjectOut:
    return ProjectOut.of(projects.get_project(db, ownername, projectname), settings.results_url)


@router.get("/list", response_model=ItemList[ProjectOut], summary="Projects, by owner")
def list_projects(
    db: DB,
    settings: AppSettings,
    page: Pagination,
    ownername: Annotated[str | None, Query()] = None,
) -> ItemList[ProjectOut]:
    found = projects.list_projects(db, ownername, page)
    return ItemList(
        items=[ProjectOut.of(p, settings.results_url) for p in found], meta=Meta.of(page)
    )


@router.get("/search", response_model=ItemList[ProjectOut], summary="Search projects")
def search_projects(
    db: DB, settings: AppSettings, page: Pagination, query: Annotated[str, Query()]
) -> ItemList[ProjectOut]:
    found = projects.search_projects(db, query, page)
    return ItemList(
        items=[ProjectOut.of(p, settings.results_url) for p in found], meta=Meta.of(page)
    )


@router.post("/add/{ownername}", response_model=ProjectOut, summary="Create a project")
def add_project(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    ownername: str,
    body: ProjectAddIn,
    exist_ok: Annotated[str | None, Query(description="True: return an existing one")] = None,
) -> ProjectOut:
    project = projects.create_project(
        db, user, ownername, body, exist_ok=parse_bool(exist_ok, "exist_ok")
    )
    return ProjectOut.of(project, settings.results_url)


@router.put("/edit/{ownername}/{projectname}", response_model=ProjectOut, summary="Edit")
@router.post("/edit/{ownername}/{projectname}", response_model=ProjectOut, include_in_schema=False)
def edit_project(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    ownername: str,
    projectname: str,
    body: ProjectEditIn,
) -> ProjectOut:
    project = projects.get_project(db, ownername, projectname)
    projects.edit_project(db, user, project, body.fields(), body.chroots)
    return ProjectOut.of(project, settings.results_url)


@router.post("/fork/{ownername}/{projectname}", response_model=ProjectOut, summary="Fork")
@router.put("/fork/{ownername}/{projectname}", response_model=ProjectOut, include_in_schema=False)
def fork_project(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    ownername: str,
    projectname: str,
    body: ProjectForkIn,
) -> ProjectOut:
    source = projects.get_project(db, ownername, projectname)
    fork, _created = forks.fork_project(
        db, user, source, body.ownername, body.name, confirm=body.confirm
    )
    return ProjectOut.of(projects.get_project(db, fork.owner_name, fork.name), settings.results_url)


@router.delete("/delete/{ownername}/{projectname}", response_model=ProjectOut, summary="Delete")
@router.post(
    "/delete/{ownername}/{projectname}", response_model=ProjectOut, include_in_schema=False
)
def delete_project(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    ownername: str,
    projectname: str,
    body: Annotated[ProjectDeleteIn | None, Body()] = None,
) -> ProjectOut:
    project = projects.get_project(db, ownername, projectname)
    shown = ProjectOut.of(project, settings.results_url)
    projects.delete_project(db, user, project)
    return shown


@router.put(
    "/regenerate-repos/{ownername}/{projectname}",
    response_model=ProjectOut,
    summary="Regenerate the repository metadata of every chroot",
    description="Rebuilds each enabled chroot's repodata from the packages on disk "
    "before answering; in devel mode the main repositories take in every build "
    "published since, and the devel repositories are rebuilt too. Who may edit the "
    "project may ask.",
)
@router.post(
    "/regenerate-repos/{ownername}/{projectname}",
    response_model=ProjectOut,
    include_in_schema=False,
)
def regenerate_repos(
    db: DB, settings: AppSettings, user: CurrentUser, ownername: str, projectname: str
) -> ProjectOut:
    project = projects.get_project(db, ownername, projectname)
    repositories.regenerate_repos(db, user, project)
    return ProjectOut.of(project, settings.results_url)


@router.get(
    "/permissions/can_build_in/{who}/{ownername}/{projectname}",
    response_model=CanBuildInOut,
    summary="May a user build in the project?",
    description="Anyone may ask, also anonymously; 404 for an unknown user or project.",
)
def can_build_in(db: DB, who: str, ownername: str, projectname: str) -> CanBuildInOut:
    project = projects.get_project(db, ownername, projectname)
    allowed = permissions.can_build_in(db, who, project)
    return CanBuildInOut(
        who=who, ownername=project.owner_name, projectname=project.name, can_build_in=allowed
    )


@router.get(
    "/permissions/get/{ownername}/{projectname}",
    response_model=PermissionsOut,
    summary="Roles of other users",
)
def get_permissions(db: DB, user: OptionalUser, ownername: str, projectname: str) -> PermissionsOut:
    project = projects.get_project(db, ownername, projectname)
    listed = permissions.list_permissions(db, user, project)
    if not listed:
        # Copr answers an empty list so, and copr-cli shows the message.
        raise NotFound(f"No permissions set on {project.full_name} project")
    return PermissionsOut(permissions=listed)


@router.put(
    "/permissions/set/{ownername}/{projectname}",
    response_model=UpdatedOut,
    summary="Set roles of other users",
)
def set_permissions(
    db: DB, user: CurrentUser, ownername: str, projectname: str, body: Permissions
) -> UpdatedOut:
    project = projects.get_project(db, ownername, projectname)
    return UpdatedOut(updated=permissions.set_permissions(db, user, project, body))


@router.put(
    "/permissions/request/{ownername}/{projectname}",
    response_model=UpdatedOut,
    summary="Ask for (true) or give up (false) roles",
)
def request_permissions(
    db: DB, user: CurrentUser, ownername: str, projectname: str, body: dict[str, bool]
) -> UpdatedOut:
    project = projects.get_project(db, ownername, projectname)
    return UpdatedOut(updated=permissions.request_permissions(db, user, project, body))
