"""``build/…``: translation of APIv3 build calls into core calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError, WithJsonSchema, create_model
from starlette.datastructures import UploadFile

from coprd import uploads
from coprd.api_v3.deps import CurrentUser
from coprd.api_v3.errors import validation_message
from coprd.api_v3.multipart import read_json_and_files
from coprd.api_v3.params import Pagination
from coprd.api_v3.schemas import (
    BuildChrootOut,
    BuildIdsIn,
    BuildItems,
    BuildOut,
    BuildsDeletedOut,
    CheckOut,
    ItemList,
    Meta,
    SourceBuildConfigOut,
)
from coprd.auth import require_credentials
from coprd.builder.srpm import InvalidPackage, inspect_rpm
from coprd.config import Settings
from coprd.core import builds, packages, permissions, projects
from coprd.core.builds import BuildOptions, Source
from coprd.core.errors import InvalidInput
from coprd.core.sources import MODELS as SOURCE_MODELS
from coprd.core.sources import SOURCE_TYPES, SourceSettings, check_source
from coprd.db.models import Project
from coprd.http import DB, AppSettings
from coprd.publish.publisher import Publisher

router = APIRouter(prefix="/build", tags=["builds"])

# The configured upload limit is checked against Content-Length and while reading
# (uploads.bounded); this is only the ceiling above which nothing is read at all.
MAX_UPLOAD_BODY = 64 * 1024 * 1024 * 1024


class BuildTarget(BuildOptions):
    ownername: str
    projectname: str


class BuildUrlIn(BuildTarget):
    pkgs: list[
        Annotated[str, Field(max_length=builds.MAX_URL), WithJsonSchema(builds.URL_SCHEMA)]
    ] = Field(min_length=1, max_length=builds.MAX_URLS)


def _project(db: DB, target: BuildTarget) -> Project:
    return projects.get_project(db, target.ownername, target.projectname)


@router.get("/list", response_model=ItemList[BuildOut], summary="Builds of a project")
def list_builds(
    db: DB,
    settings: AppSettings,
    page: Pagination,
    ownername: Annotated[str, Query()],
    projectname: Annotated[str, Query()],
    packagename: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
) -> Any:
    project = projects.get_project(db, ownername, projectname)
    found = builds.list_builds(db, project, page, packagename=packagename, status=status)
    return ItemList(items=[BuildOut.of(b, settings.results_url) for b in found], meta=Meta.of(page))


# Digits only: "check-before-build" (POST) and the other words under build/ are not ids.
@router.get("/{build_id:int}", response_model=BuildOut, summary="One build")
def get_build(db: DB, settings: AppSettings, build_id: int) -> Any:
    return BuildOut.of(builds.get_build(db, build_id), settings.results_url)


@router.get("/source-chroot/{build_id}", response_model=BuildChrootOut)
def source_chroot(db: DB, settings: AppSettings, build_id: int) -> Any:
    build = builds.get_build(db, build_id)
    return BuildChrootOut.of(build, builds.source_task(build), settings.results_url)


@router.get("/source-build-config/{build_id}", response_model=SourceBuildConfigOut)
def source_build_config(db: DB, build_id: int) -> Any:
    build = builds.get_build(db, build_id)
    return SourceBuildConfigOut(
        source_type=build.source_type,
        source_dict=build.source_json,
        memory_limit=build.memory_limit,
        timeout=build.timeout,
        is_background=build.is_background,
    )


@router.get("/built-packages/{build_id}", response_model=dict[str, dict[str, list[Any]]])
def built_packages(db: DB, build_id: int) -> Any:
    build = builds.get_build(db, build_id)
    return {t.chroot_name: {"packages": t.built_packages} for t in builds.chroot_tasks(build)}


@router.post("/check-before-build", response_model=CheckOut)
def check_before_build(db: DB, user: CurrentUser, body: BuildTarget) -> Any:
    project = _project(db, body)
    permissions.require(db, user, permissions.Action.build, project)
    builds.select_chroots(project, body.chroots, body.exclude_chroots)
    return CheckOut(message="It should be safe to submit a build like this")


@router.post("/create/url", response_model=BuildItems, summary="Build from SRPM URLs")
def create_from_url(db: DB, settings: AppSettings, user: CurrentUser, body: BuildUrlIn) -> Any:
    project = _project(db, body)
    sources = builds.url_sources(body.pkgs)
    created = [builds.submit_build(db, user, project, source, body) for source in sources]
    return BuildItems(
        items=[BuildOut.of(builds.get_build(db, b.id), settings.results_url) for b in created]
    )


def _source_body(source_type: str) -> type[BaseModel]:
    """The body of ``build/create/<source_type>``: the project, the build options and the
    source's fields in one object, as python-copr sends them."""
    source = SOURCE_MODELS[source_type]
    return create_model(
        f"Build{source_type.capitalize()}In",
        __base__=(BuildTarget, source),
        __doc__=f"{source.__doc__} The project and the build options beside it.",
    )


SOURCE_BODIES = {source_type: _source_body(source_type) for source_type in SOURCE_TYPES}


def _create_from(source_type: str) -> Callable[..., Any]:
    def create(db: DB, settings: AppSettings, user: CurrentUser, body: BuildTarget) -> Any:
        project = _project(db, body)
        stored = check_source(source_type, body.model_dump(), SourceSettings.of(settings))
        build = builds.submit_build(db, user, project, Source(type=source_type, data=stored), body)
        return BuildOut.of(builds.get_build(db, build.id), settings.results_url)

    # The body's model is made at run time (one a type): FastAPI reads it from here.
    create.__annotations__["body"] = SOURCE_BODIES[source_type]
    create.__name__ = f"create_from_{source_type}"
    return create


for _type in SOURCE_TYPES:
    router.post(
        f"/create/{_type}",
        response_model=BuildOut,
        summary=f"Build from a {_type} source",
        description=f"JSON: ownername, projectname, the {_type} fields, and build options.",
    )(_create_from(_type))


async def _upload_body(request: Request) -> tuple[BuildTarget, UploadFile]:
    settings: Settings = request.app.state.settings
    await run_in_threadpool(require_credentials, request)
    raw, form = await read_json_and_files(
        uploads.bounded(request, settings), max_part=1024 * 1024, allow_json_body=False
    )
    upload = form.get("pkgs") if form is not None else None
    if not isinstance(upload, UploadFile):
        raise InvalidInput("the multipart body has no 'pkgs' file part", "pkgs")
    try:
        return BuildTarget.model_validate(raw), upload
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


UploadBody = Annotated[tuple[BuildTarget, UploadFile], Depends(_upload_body)]
# What _upload_body reads, for the document: python-copr's multipart body.
_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "json": {"$ref": "#/components/schemas/BuildTarget"},
                        "pkgs": {"type": "string", "format": "binary"},
                    },
                    "required": ["json", "pkgs"],
                },
                "encoding": {"json": {"contentType": "application/json"}},
            }
        },
    }
}


@router.post(
    "/create/upload",
    response_model=BuildOut,
    summary="Build from an uploaded SRPM (multipart: 'pkgs' and 'json')",
    max_body_size=MAX_UPLOAD_BODY,
    openapi_extra=_UPLOAD_DOC,
)
def create_from_upload(body: UploadBody, db: DB, settings: AppSettings, user: CurrentUser) -> Any:
    # The body first: it is read before the write transaction begins (auth.require_credentials).
    target, upload = body
    project = _project(db, target)
    build = uploads.submit_upload(
        db, settings, user, project, upload.file, upload.filename or "", target
    )
    return BuildOut.of(builds.get_build(db, build.id), settings.results_url)


@router.post(
    "/create/rpm-upload",
    response_model=BuildOut,
    summary="Publish an uploaded binary RPM as it is (multipart: 'pkgs' and 'json')",
    max_body_size=MAX_UPLOAD_BODY,
    openapi_extra=_UPLOAD_DOC,
)
def create_from_rpm_upload(
    request: Request, body: UploadBody, db: DB, settings: AppSettings, user: CurrentUser
) -> Any:
    target, upload = body
    project = _project(db, target)
    temp, name = uploads.receive(settings, upload.file, upload.filename or "", source=False)
    try:
        try:
            nevra = inspect_rpm(temp)
        except InvalidPackage as exc:
            raise InvalidInput(str(exc).replace(temp.name, name), "pkgs") from None
        build = builds.submit_prebuilt(db, user, project, asdict(nevra), name, target)
        publisher: Publisher = request.app.state.publisher
        publisher.publish_prebuilt(build, temp, name)
    finally:
        temp.unlink(missing_ok=True)
    return BuildOut.of(builds.get_build(db, build.id), settings.results_url)


@router.post(
    "/resubmit/{build_id}",
    response_model=BuildOut,
    summary="Submit an earlier build again (coprd's own; not in Copr's APIv3)",
    description="The same source, options and chroots; a JSON body of build options, if "
    "sent, replaces those it names.",
)
def resubmit_build(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    build_id: int,
    body: Annotated[BuildOptions | None, Body()] = None,
) -> Any:
    build = packages.resubmit_build(
        db, user, builds.get_build(db, build_id), results_url=settings.results_url, overrides=body
    )
    return BuildOut.of(builds.get_build(db, build.id), settings.results_url)


@router.put("/cancel/{build_id}", response_model=BuildOut, summary="Cancel a build")
def cancel_build(db: DB, settings: AppSettings, user: CurrentUser, build_id: int) -> Any:
    build = builds.cancel_build(db, user, builds.get_build(db, build_id))
    return BuildOut.of(build, settings.results_url)


@router.delete("/delete/list", response_model=BuildsDeletedOut, summary="Delete builds")
@router.post("/delete/list", response_model=BuildsDeletedOut, include_in_schema=False)
def delete_builds(db: DB, user: CurrentUser, body: BuildIdsIn) -> Any:
    return BuildsDeletedOut(builds=builds.delete_builds(db, user, body.builds))


@router.delete("/delete/{build_id}", response_model=BuildOut, summary="Delete a build")
@router.post("/delete/{build_id}", response_model=BuildOut, include_in_schema=False)
def delete_build(db: DB, settings: AppSettings, user: CurrentUser, build_id: int) -> Any:
    shown = BuildOut.of(builds.get_build(db, build_id), settings.results_url)
    builds.delete_builds(db, user, [build_id])
    return shown
