"""``package/…``: translation of APIv3 package calls into core calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import ValidationError

from coprd.api_v3.deps import CurrentUser
from coprd.api_v3.errors import validation_message
from coprd.api_v3.params import Pagination
from coprd.api_v3.schemas import (
    BuildOut,
    ItemList,
    Meta,
    PackageBuildIn,
    PackageOut,
    PackageTargetIn,
)
from coprd.core import builds, packages, projects
from coprd.core.errors import InvalidInput
from coprd.core.packages import PackageFields, PackageView
from coprd.core.sources import SourceSettings
from coprd.db.models import Package
from coprd.http import DB, AppSettings, parse_bool

router = APIRouter(prefix="/package", tags=["packages"])

OwnerQ = Annotated[str, Query(description="user name, or @group")]
ProjectQ = Annotated[str, Query(description="project name")]
FlagQ = Annotated[str | None, Query(description="True or False (default)")]
JsonObject = Annotated[dict[str, Any], Body()]
# copr-cli's edit-package-* without a source type puts this in the path.
KEEP_TYPE = "None"


def _fields(body: dict[str, Any]) -> PackageFields:
    try:
        return PackageFields.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


def _package(db: DB, ownername: str, projectname: str, name: str) -> Package:
    return packages.get_package(db, projects.get_project(db, ownername, projectname), name)


@router.get("", response_model=PackageOut, summary="One package")
def get_package(
    db: DB,
    settings: AppSettings,
    ownername: OwnerQ,
    projectname: ProjectQ,
    packagename: Annotated[str, Query()],
    with_latest_build: FlagQ = None,
    with_latest_succeeded_build: FlagQ = None,
) -> Any:
    latest = parse_bool(with_latest_build, "with_latest_build")
    succeeded = parse_bool(with_latest_succeeded_build, "with_latest_succeeded_build")
    package = _package(db, ownername, projectname, packagename)
    [view] = packages.package_views(db, [package], latest=latest, latest_succeeded=succeeded)
    return PackageOut.of(view, settings.results_url)


@router.get("/list", response_model=ItemList[PackageOut], summary="Packages of a project")
def list_packages(
    db: DB,
    settings: AppSettings,
    page: Pagination,
    ownername: OwnerQ,
    projectname: ProjectQ,
    with_latest_build: FlagQ = None,
    with_latest_succeeded_build: FlagQ = None,
) -> Any:
    latest = parse_bool(with_latest_build, "with_latest_build")
    succeeded = parse_bool(with_latest_succeeded_build, "with_latest_succeeded_build")
    project = projects.get_project(db, ownername, projectname)
    views = packages.list_packages(db, project, page, latest=latest, latest_succeeded=succeeded)
    return ItemList(
        items=[PackageOut.of(v, settings.results_url) for v in views], meta=Meta.of(page)
    )


@router.post(
    "/add/{ownername}/{projectname}/{package_name}/{source_type_text}",
    response_model=PackageOut,
    summary="Create a package",
    description="JSON: the source's fields (as build/create/<type> takes them), and "
    "max_builds, timeout, chroot_denylist (comma-separated globs), webhook_rebuild.",
)
def add_package(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    ownername: str,
    projectname: str,
    package_name: str,
    source_type_text: str,
    body: JsonObject,
) -> Any:
    project = projects.get_project(db, ownername, projectname)
    package = packages.add_package(
        db,
        user,
        project,
        package_name,
        source_type_text,
        body,
        _fields(body),
        SourceSettings.of(settings),
    )
    return PackageOut.of(PackageView(package), settings.results_url)


@router.post(
    "/edit/{ownername}/{projectname}/{package_name}/{source_type_text}",
    response_model=PackageOut,
    summary="Change a package",
    description=f"A source type of {KEEP_TYPE!r} keeps the type; fields not given keep "
    "their value.",
)
@router.post(
    "/edit/{ownername}/{projectname}/{package_name}",
    response_model=PackageOut,
    include_in_schema=False,
)
def edit_package(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    ownername: str,
    projectname: str,
    package_name: str,
    body: JsonObject,
    source_type_text: str | None = None,
) -> Any:
    package = _package(db, ownername, projectname, package_name)
    packages.edit_package(
        db,
        user,
        package,
        None if source_type_text in (None, KEEP_TYPE) else source_type_text,
        body,
        _fields(body),
        SourceSettings.of(settings),
    )
    return PackageOut.of(PackageView(package), settings.results_url)


@router.put("/reset", response_model=PackageOut, summary="Forget a package's default source")
@router.post("/reset", response_model=PackageOut, include_in_schema=False)
def reset_package(db: DB, settings: AppSettings, user: CurrentUser, body: PackageTargetIn) -> Any:
    package = _package(db, body.ownername, body.projectname, body.package_name)
    packages.reset_package(db, user, package)
    return PackageOut.of(PackageView(package), settings.results_url)


@router.post("/build", response_model=BuildOut, summary="Build a package from its source")
def build_package(db: DB, settings: AppSettings, user: CurrentUser, body: PackageBuildIn) -> Any:
    package = _package(db, body.ownername, body.projectname, body.package_name)
    build = packages.build_package(db, user, package, body, results_url=settings.results_url)
    return BuildOut.of(builds.get_build(db, build.id), settings.results_url)


@router.delete("/delete", response_model=PackageOut, summary="Delete a package and its builds")
@router.post("/delete", response_model=PackageOut, include_in_schema=False)
def delete_package(db: DB, settings: AppSettings, user: CurrentUser, body: PackageTargetIn) -> Any:
    package = _package(db, body.ownername, body.projectname, body.package_name)
    shown = PackageOut.of(PackageView(package), settings.results_url)
    packages.delete_package(db, user, package)
    return shown
