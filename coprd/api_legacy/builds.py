"""Builds in the legacy API: submit from URLs or an upload, detail, status, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from coprd import uploads
from coprd.api_legacy import forms
from coprd.api_legacy.forms import Fields
from coprd.api_legacy.schemas import BuildDetail, BuildsCreated, BuildStatus
from coprd.auth import CurrentUser, require_credentials
from coprd.config import Settings
from coprd.core import builds, projects
from coprd.core.builds import BuildOptions
from coprd.core.chroots import resolve_active_chroots
from coprd.core.errors import Conflict
from coprd.db.models import Project
from coprd.http import DB, AppSettings

router = APIRouter(tags=["legacy"])

PKGS = "pkgs"
# Legacy field → the core's build option; empty strings mean "unset".
OPTION_FIELDS = {"timeout": "timeout", "memory_reqs": "memory"}
# background=y (python-copr 1.x's create_new_build(background=True)): a background build.
BACKGROUND = "background"
BUILD_FIELDS = {PKGS, BACKGROUND, *OPTION_FIELDS}
NUMBERS = {name: forms.number_schema(BuildOptions, core) for name, core in OPTION_FIELDS.items()}
# The configured upload limit is checked against Content-Length and while reading
# (uploads.bounded); this is only the ceiling above which nothing is read at all.
MAX_UPLOAD_BODY = 64 * 1024 * 1024 * 1024


def _options(db: Session, fields: Fields) -> BuildOptions:
    """The build options of a ``new_build`` body: its chroots, timeout, memory and whether
    it is a background build."""
    resolve_active_chroots(db, forms.chroot_fields(fields, BUILD_FIELDS))
    chroots = forms.selected_chroots(fields, BUILD_FIELDS)
    data: Fields = {
        core: forms.number(fields.get(name), name) for name, core in OPTION_FIELDS.items()
    }
    data["chroots"] = chroots or None  # none selected: every chroot of the project
    if BACKGROUND in fields:  # a checkbox: y, or empty for unchecked
        data["background"] = forms.flag(fields[BACKGROUND], BACKGROUND)
    return forms.validated(BuildOptions, data, OPTION_FIELDS)


def _created(project: Project, ids: list[int]) -> BuildsCreated:
    return BuildsCreated(message=f"Build was added to {project.name}.", ids=ids, id=ids[0])


@router.get("/build/{build_id}", response_model=BuildDetail, summary="A build")
@router.get("/build_detail/{build_id}", response_model=BuildDetail, summary="A build")
def build_detail(db: DB, settings: AppSettings, build_id: int) -> BuildDetail:
    return BuildDetail.of(builds.get_build(db, build_id), settings.results_url)


@router.get("/build_status/{build_id}", response_model=BuildStatus, summary="A build's state")
def build_status(db: DB, build_id: int) -> BuildStatus:
    return BuildStatus(status=builds.get_build(db, build_id).state.value)


@router.post("/cancel_build/{build_id}", response_model=BuildStatus, summary="Cancel a build")
def cancel_build(db: DB, user: CurrentUser, build_id: int) -> BuildStatus:
    try:
        builds.cancel_build(db, user, builds.get_build(db, build_id))
    except builds.BuildEnded as ended:
        # Copr's legacy API refused it so (409, its ConflictingRequest), whatever the state.
        raise Conflict(f"Cannot cancel build {ended.build_id}") from None
    return BuildStatus(status="Build canceled")


@router.post(
    "/{username}/{projectname}/new_build",
    response_model=BuildsCreated,
    summary="Build from SRPM URLs (pkgs, space-separated)",
    openapi_extra=forms.body_doc(
        BUILD_FIELDS,
        required={PKGS},
        chroots="any",
        flags={BACKGROUND},
        schemas={PKGS: builds.URLS_SCHEMA, **NUMBERS},
    ),
)
def new_build(
    db: DB, user: CurrentUser, username: str, projectname: str, fields: forms.Form
) -> BuildsCreated:
    options = _options(db, fields)
    sources = builds.url_sources(forms.words(fields.get(PKGS), PKGS))
    project = projects.get_project(db, username, projectname)
    created = [builds.submit_build(db, user, project, source, options) for source in sources]
    return _created(project, [build.id for build in created])


async def _upload_fields(request: Request) -> tuple[Fields, UploadFile]:
    settings: Settings = request.app.state.settings
    await run_in_threadpool(require_credentials, request)
    fields = await forms.read_fields(uploads.bounded(request, settings), files=1)
    upload = forms.upload_part(fields, PKGS)
    return fields, upload


UploadBody = Annotated[tuple[Fields, UploadFile], Depends(_upload_fields)]


@router.post(
    "/{username}/{projectname}/new_build_upload",
    response_model=BuildsCreated,
    summary="Build from an uploaded SRPM (multipart, file part 'pkgs')",
    openapi_extra=forms.body_doc(
        BUILD_FIELDS - {PKGS},
        files={PKGS},
        required={PKGS},
        chroots="any",
        flags={BACKGROUND},
        schemas=NUMBERS,
    ),
    max_body_size=MAX_UPLOAD_BODY,
)
def new_build_upload(
    body: UploadBody,  # first: read before the write transaction (auth.require_credentials)
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    username: str,
    projectname: str,
) -> BuildsCreated:
    fields, upload = body
    try:
        options = _options(db, fields)
        project = projects.get_project(db, username, projectname)
        build = uploads.submit_upload(
            db, settings, user, project, upload.file, upload.filename or "", options
        )
    finally:
        upload.file.close()  # the spooled copy of the upload, up to the size limit, goes now
    return _created(project, [build.id])
