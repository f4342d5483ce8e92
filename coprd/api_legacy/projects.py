"""Projects in the legacy API: list, search, create, detail, modify, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from coprd.api_legacy import forms
from coprd.api_legacy.forms import Form
from coprd.api_legacy.schemas import (
    Ok,
    ProjectDetail,
    ProjectDetailOut,
    ProjectItem,
    ProjectList,
    ProjectModified,
)
from coprd.auth import CurrentUser
from coprd.core import builds, projects
from coprd.core.builds import BuildOptions
from coprd.core.chroots import resolve_active_chroots
from coprd.core.errors import InvalidInput
from coprd.core.names import json_schema
from coprd.core.pagination import Page
from coprd.core.projects import NewProject, ProjectFields
from coprd.core.text import SPACES, split_schema
from coprd.http import DB, AppSettings

router = APIRouter(tags=["legacy"])

# Legacy field → the core's: what create and modify accept.
PROJECT_FIELDS = {
    "description": "description",
    "instructions": "instructions",
    "repos": "additional_repos",
    "homepage": "homepage",
    "contact": "contact",
    "disable_createrepo": "disable_createrepo",
    "unlisted_on_hp": "unlisted_on_hp",
    "auto_prune": "auto_prune",
    "build_enable_net": "enable_net",
    "use_bootstrap_container": "use_bootstrap_container",
    "isolation": "isolation",
}
# modify/'s chroots: the space-separated names of the chroots to enable, the others off.
CHROOTS = "chroots"
NEW_PROJECT_FIELDS = {**PROJECT_FIELDS, "name": "name", "persistent": "persistent"}
FLAGS = (
    "disable_createrepo",
    "unlisted_on_hp",
    "auto_prune",
    "build_enable_net",
    "use_bootstrap_container",
    "persistent",
)
INITIAL_PKGS = "initial_pkgs"
# SRPM URLs to build in the new project, separated by whitespace: none or some.
INITIAL_PKGS_SCHEMA = split_schema(
    builds.URL.pattern, SPACES, max_items=forms.MAX_LIST, max_token=builds.MAX_URL
)


def _listed(db: DB, settings: AppSettings, username: str | None) -> ProjectList:
    if not username:
        raise InvalidInput("name the user (or @group) whose projects to list", "username")
    found = projects.list_projects(db, username, Page())
    return ProjectList(repos=[ProjectItem.of(p, settings.results_url) for p in found])


def _searched(db: DB, settings: AppSettings, query: str) -> ProjectList:
    found = projects.search_projects(db, query, Page())
    return ProjectList(repos=[ProjectItem.of(p, settings.results_url) for p in found])


@router.get("", response_model=ProjectList, summary="Projects of ?username=")
def list_by_query(db: DB, settings: AppSettings, username: Annotated[str, Query()]) -> ProjectList:
    return _listed(db, settings, username)


@router.get("/search", response_model=ProjectList, summary="Search projects (?project=)")
def search_by_query(
    db: DB,
    settings: AppSettings,
    project: Annotated[str, Query(json_schema_extra=projects.SEARCH_SCHEMA)],
) -> ProjectList:
    return _searched(db, settings, project)


@router.get("/search/{query:path}", response_model=ProjectList, summary="Search projects")
def search(db: DB, settings: AppSettings, query: str) -> ProjectList:
    return _searched(db, settings, query)


@router.get("/{username}", response_model=ProjectList, summary="Projects of a user or @group")
def list_projects(db: DB, settings: AppSettings, username: str) -> ProjectList:
    return _listed(db, settings, username)


@router.post(
    "/{username}/new",
    response_model=Ok,
    summary="Create a project",
    openapi_extra=forms.body_doc(
        {*NEW_PROJECT_FIELDS, INITIAL_PKGS},
        required={"name"},
        chroots="one or more",
        model=NewProject,
        names=NEW_PROJECT_FIELDS,
        flags=FLAGS,
        schemas={"name": json_schema("project"), INITIAL_PKGS: INITIAL_PKGS_SCHEMA},
    ),
)
def create_project(db: DB, user: CurrentUser, username: str, fields: Form) -> Ok:
    fields = forms.checkboxes(fields, FLAGS)
    known = {*NEW_PROJECT_FIELDS, INITIAL_PKGS}
    resolve_active_chroots(db, forms.chroot_fields(fields, known))
    chroots = forms.selected_chroots(fields, known)
    new = forms.validated(
        NewProject,
        {**forms.renamed(fields, NEW_PROJECT_FIELDS), "chroots": chroots},
        NEW_PROJECT_FIELDS,
    )
    # Checked before anything is created; each becomes a build of the new project.
    sources = [
        builds.url_source(url) for url in forms.words(fields.get(INITIAL_PKGS), INITIAL_PKGS)
    ]
    project = projects.create_project(db, user, username, new)
    for source in sources:
        builds.submit_build(db, user, project, source, BuildOptions())
    return Ok(message="New project was successfully created.")


@router.get(
    "/{username}/{projectname}/detail", response_model=ProjectDetailOut, summary="A project"
)
def project_detail(
    db: DB, settings: AppSettings, username: str, projectname: str
) -> ProjectDetailOut:
    project = projects.get_project(db, username, projectname)
    detail = ProjectDetail.of(project, settings.results_url, builds.last_modified(db, project))
    return ProjectDetailOut(detail=detail)


@router.post(
    "/{username}/{projectname}/modify",
    response_model=ProjectModified,
    summary="Edit a project",
    openapi_extra=forms.body_doc(
        {*PROJECT_FIELDS, CHROOTS},
        model=ProjectFields,
        names=PROJECT_FIELDS,
        flags=FLAGS,
        schemas={CHROOTS: forms.CHROOT_WORDS},
    ),
)
def modify_project(
    db: DB, user: CurrentUser, username: str, projectname: str, fields: Form
) -> ProjectModified:
    forms.reject_unknown(fields, {*PROJECT_FIELDS, CHROOTS})
    fields = forms.checkboxes(fields, FLAGS)
    changes = forms.validated(ProjectFields, forms.renamed(fields, PROJECT_FIELDS), PROJECT_FIELDS)
    chroots = forms.words(fields[CHROOTS], CHROOTS) if CHROOTS in fields else None
    project = projects.get_project(db, username, projectname)
    projects.edit_project(db, user, project, changes, chroots)
    return ProjectModified.of(project, builds.last_modified(db, project))


@router.post(
    "/{username}/{projectname}/delete",
    response_model=Ok,
    summary="Delete a project",
    openapi_extra=forms.body_doc({"verify"}, required={"verify"}, values={"verify": ["yes"]}),
)
def delete_project(db: DB, user: CurrentUser, username: str, projectname: str, fields: Form) -> Ok:
    forms.reject_unknown(fields, {"verify"})
    if fields.get("verify") not in ("yes", True):
        raise InvalidInput("send verify=yes to confirm deleting the project", "verify")
    project = projects.get_project(db, username, projectname)
    projects.delete_project(db, user, project)
    return Ok(message="Project was deleted successfully.")
