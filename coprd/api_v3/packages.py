"""``package/…``: translation of APIv3 package calls into core calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field, ValidationError, create_model

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
    RebuildAllIn,
    RebuildAllOut,
    SkippedPackage,
)
from coprd.core import builds, packages, projects
from coprd.core.errors import InvalidInput
from coprd.core.packages import PackageFields, PackageView
from coprd.core.sources import EDIT_MODELS, SOURCE_TYPES, PackageName, SourceModel, SourceSettings
from coprd.core.sources import MODELS as SOURCE_MODELS
from coprd.db.models import Package, Project
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


class _NamedAgain(BaseModel):
    package_name: PackageName | None = Field(
        default=None,
        description="The package's name again, as python-copr sends it; the path's is used.",
    )


def _package_body(verb: str, source: type[SourceModel]) -> type[BaseModel]:
    """The body of ``package/<verb>/…/<type>``: the source's fields and the package's."""
    return create_model(
        f"Package{verb.capitalize()}{source.source_type.capitalize()}In",
        __base__=(_NamedAgain, PackageFields, source),
        __doc__=f"{source.__doc__} The package's settings beside it.",
    )


# A distgit package's package_name is the package's, from the path: not required in the body.
_ADDED = {**SOURCE_MODELS, "distgit": EDIT_MODELS["distgit"]}
ADD_BODIES = {kind: _package_body("add", _ADDED[kind]) for kind in SOURCE_TYPES}
EDIT_BODIES = {kind: _package_body("edit", EDIT_MODELS[kind]) for kind in SOURCE_TYPES}


def _given(body: BaseModel) -> dict[str, Any]:
    """The fields a body gives (``null`` is "not given")."""
    return body.model_dump(exclude_none=True)


def _add(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    project: Project,
    package_name: str,
    source_type: str,
    data: dict[str, Any],
    fields: PackageFields,
) -> Any:
    package = packages.add_package(
        db, user, project, package_name, source_type, data, fields, SourceSettings.of(settings)
    )
    return PackageOut.of(PackageView(package), settings.results_url)


def _add_as(source_type: str) -> Callable[..., Any]:
    def add(
        db: DB,
        settings: AppSettings,
        user: CurrentUser,
        ownername: str,
        projectname: str,
        package_name: str,
        body: PackageFields,
    ) -> Any:
        project = projects.get_project(db, ownername, projectname)
        return _add(db, settings, user, project, package_name, source_type, _given(body), body)

    # The body's model is made at run time (one a type): FastAPI reads it from here.
    add.__annotations__["body"] = ADD_BODIES[source_type]
    add.__name__ = f"add_{source_type}_package"
    return add


for _type in SOURCE_TYPES:
    router.post(
        f"/add/{{ownername}}/{{projectname}}/{{package_name}}/{_type}",
        response_model=PackageOut,
        summary=f"Create a package with a {_type} source",
        description=f"JSON: the {_type} source's fields (as build/create/{_type} takes them) "
        "and the package's settings.",
    )(_add_as(_type))


# Any other type: refused as unknown (the source's check says which types there are).
@router.post(
    "/add/{ownername}/{projectname}/{package_name}/{source_type_text}",
    response_model=PackageOut,
    include_in_schema=False,
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
    return _add(db, settings, user, project, package_name, source_type_text, body, _fields(body))


def _edit(
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    package: Package,
    source_type: str | None,
    data: dict[str, Any],
    fields: PackageFields,
) -> Any:
    packages.edit_package(db, user, package, source_type, data, fields, SourceSettings.of(settings))
    return PackageOut.of(PackageView(package), settings.results_url)


def _edit_as(source_type: str) -> Callable[..., Any]:
    def edit(
        db: DB,
        settings: AppSettings,
        user: CurrentUser,
        ownername: str,
        projectname: str,
        package_name: str,
        body: PackageFields,
    ) -> Any:
        package = _package(db, ownername, projectname, package_name)
        return _edit(db, settings, user, package, source_type, _given(body), body)

    edit.__annotations__["body"] = EDIT_BODIES[source_type]
    edit.__name__ = f"edit_{source_type}_package"
    return edit


for _type in SOURCE_TYPES:
    router.post(
        f"/edit/{{ownername}}/{{projectname}}/{{package_name}}/{_type}",
        response_model=PackageOut,
        summary=f"Change a package, with a {_type} source",
        description=f"Fields not given keep their value while the package's source is a {_type} "
        f"source already; a package of another type becomes a {_type} package, and then the "
        f"fields a {_type} source needs must be given.",
    )(_edit_as(_type))


# copr-cli's edit-package-* without a type, python-copr's edit without one (KEEP_TYPE in the
# path), or none at all: the package's type stays, its fields are checked as that type's.
# Any other type is refused as unknown.
@router.post(
    "/edit/{ownername}/{projectname}/{package_name}/{source_type_text}",
    response_model=PackageOut,
    include_in_schema=False,
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
    kept = None if source_type_text in (None, KEEP_TYPE) else source_type_text
    return _edit(db, settings, user, package, kept, body, _fields(body))


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


@router.post(
    "/rebuild-all",
    response_model=RebuildAllOut,
    summary="Rebuild every package of a project (coprd)",
    description="Build every package of the project, or those named by `packages` (names "
    "or glob patterns), from its default source, at background priority and submitted "
    "together: builds that BuildRequire what another provides wait for it. Packages with "
    "nothing to build from are skipped and listed. A pattern that matches no package, or "
    "nothing left to build, is refused with 409 (the project's packages decide), a pattern "
    "that is not one with 400; either way nothing is queued.",
)
def rebuild_all(db: DB, settings: AppSettings, user: CurrentUser, body: RebuildAllIn) -> Any:
    project = projects.get_project(db, body.ownername, body.projectname)
    done = packages.rebuild_all(db, user, project, body.packages, results_url=settings.results_url)
    return RebuildAllOut(
        items=[BuildOut.of(builds.get_build(db, b.id), settings.results_url) for b in done.builds],
        skipped=[SkippedPackage(name=name, reason=why) for name, why in done.skipped],
    )


@router.delete("/delete", response_model=PackageOut, summary="Delete a package and its builds")
@router.post("/delete", response_model=PackageOut, include_in_schema=False)
def delete_package(db: DB, settings: AppSettings, user: CurrentUser, body: PackageTargetIn) -> Any:
    package = _package(db, body.ownername, body.projectname, body.package_name)
    shown = PackageOut.of(PackageView(package), settings.results_url)
    packages.delete_package(db, user, package)
    return shown
