"""Packages: a project's packages, their default sources, and building them again.

A package is a name in a project with a default source (one of ``core/sources.py``'s types,
or ``unset``) that ``package/build`` and webhooks rebuild, and settings its builds follow:
``timeout``, ``chroot_denylist`` (glob patterns of chroots left out), ``webhook_rebuild``,
``max_builds``. Packages are made by ``package/add``, and, as in Copr, by any build: when a
build's source task names the package it made, :func:`link_build` links the build to the
project's package of that name, creating it with the build's source as its default.

A build remembers its source and options, so :func:`resubmit_build` can submit any earlier
build again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from sqlalchemy import Select, func, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, load_only, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from coprd.core.builds import (
    BUILD_ORDERS,
    TERMINAL,
    BuildOptions,
    Source,
    chroot_tasks,
    delete_builds,
    queue_build,
    resubmit_refusal,
    source_task,
    submit_build,
)
from coprd.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from coprd.core.limits import MAX_TIMEOUT
from coprd.core.names import check_package_name
from coprd.core.pagination import Page, fetch_page
from coprd.core.permissions import Action, require
from coprd.core.projects import get_project
from coprd.core.results import task_dir
from coprd.core.sources import SourceSettings, check_source
from coprd.core.text import Integer, Rule
from coprd.db.models import (
    SOURCE_TASK_CHROOT,
    Build,
    BuildState,
    BuildTask,
    Package,
    Project,
    User,
)

__all__ = [
    "UNSET",
    "PackageFields",
    "PackageView",
    "Rebuild",
    "add_package",
    "build_package",
    "delete_package",
    "edit_package",
    "get_package",
    "has_default_source",
    "latest_build",
    "link_build",
    "list_package_builds",
    "list_packages",
    "package_build_options",
    "package_name_of",
    "package_views",
    "queue_package_build",
    "rebuild_all",
    "reset_package",
    "resubmit_build",
]

UNSET = "unset"
PACKAGE_GLOB = r"[A-Za-z0-9_.+*?\[\]!-]{1,100}"
"""A package name or a glob of them (``fnmatch``): a denylist's words, rebuild-all's patterns."""
MAX_DENYLIST = 200
MAX_DENYLIST_TEXT = 1000


def _refused(reason: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_field", "{reason}", {"reason": reason})


def _count(limit: int) -> Integer:
    """A whole number from 0 to ``limit``, or the same written in a string without leading
    zeros (copr-cli sends what was typed); an empty string is "not given"."""
    reason = f"must be a whole number from 0 to {limit}"
    return Integer(0, limit, reason=reason, leading_zeros=False, empty=True)


_DENYLIST_TEXT = rf"[ ,]*(?:{PACKAGE_GLOB}(?:[ ,]+{PACKAGE_GLOB})*)?[ ,]*"


class _Denylist:
    """Glob patterns of chroots: a list, or one string of them separated by commas or
    spaces (copr-cli's); an empty string clears the list."""

    @staticmethod
    def check(value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            if len(value) > MAX_DENYLIST_TEXT or not re.fullmatch(_DENYLIST_TEXT, value):
                raise _refused(
                    "must be chroot names or glob patterns separated by commas or spaces, "
                    f"at most {MAX_DENYLIST_TEXT} characters"
                )
            return [item for item in re.split(r"[ ,]+", value) if item]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _refused("must be a list of glob patterns or a comma-separated string")
        if len(value) > MAX_DENYLIST:
            raise _refused(f"at most {MAX_DENYLIST} patterns")
        for pattern in value:
            if not re.fullmatch(PACKAGE_GLOB, pattern):
                shown = pattern[:100].encode("unicode_escape").decode("ascii")
                raise _refused(f"{shown!r} is not a chroot name or glob pattern")
        return value

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(cls.check)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        glob = {"type": "string", "pattern": f"^{PACKAGE_GLOB}$"}
        return {
            "anyOf": [
                {"type": "array", "items": glob, "maxItems": MAX_DENYLIST},
                {
                    "type": "string",
                    "pattern": f"^{_DENYLIST_TEXT}$",
                    "maxLength": MAX_DENYLIST_TEXT,
                },
                {"type": "null"},
            ]
        }


class PackageFields(BaseModel):
    """A package's settings besides its source; ``None`` means "not given": the default on
    add, "keep" on edit."""

    model_config = ConfigDict(extra="ignore")

    webhook_rebuild: StrictBool | None = None
    rebuild_dependents: StrictBool | None = Field(
        default=None,
        description="When a build of the package succeeds, rebuild the project's packages "
        "that BuildRequire what it provides, in dependency order.",
    )
    max_builds: Annotated[int | None, _count(100_000)] = Field(
        default=None, description="Keep this many newest builds; 0 keeps all."
    )
    timeout: Annotated[int | None, _count(MAX_TIMEOUT)] = Field(
        default=None, description="Seconds a build of the package may take; 0: the default."
    )
    chroot_denylist: Annotated[list[str] | None, _Denylist] = Field(
        default=None,
        description="Glob patterns of chroots the package is not built for (a list, or "
        "separated by commas or spaces; an empty string clears it).",
    )


@dataclass(frozen=True)
class PackageView:
    """A package with, when asked for, its latest build and its latest succeeded build,
    and those builds' chroots (their tasks are not loaded)."""

    package: Package
    latest: Build | None = None
    latest_succeeded: Build | None = None
    chroots: Mapping[int, list[str]] = field(default_factory=dict)


# --- reading ---------------------------------------------------------------------------


def get_package(session: Session, project: Project, name: str) -> Package:
    check_package_name(name)
    package = session.scalar(
        select(Package).where(Package.project_id == project.id, Package.name == name)
    )
    if package is None:
        raise NotFound(f"Package {name} does not exist in project {project.full_name}.")
    set_committed_value(package, "project", project)
    return package


PACKAGE_ORDERS = {"id": Package.id, "name": Package.name}


def list_packages(
    session: Session,
    project: Project,
    page: Page,
    *,
    latest: bool = False,
    latest_succeeded: bool = False,
) -> list[PackageView]:
    """A page of the project's packages, with their latest (succeeded) builds if asked for.

    A constant number of queries whatever the page's size: one for the packages, one for
    all their latest builds with their submitters, one for those builds' chroots.
    """
    found = fetch_page(
        session,
        select(Package).where(Package.project_id == project.id),
        page,
        PACKAGE_ORDERS,
        Package.id,
    )
    for package in found:
        set_committed_value(package, "project", project)
    return package_views(session, found, latest=latest, latest_succeeded=latest_succeeded)


def _build_summaries(stmt: Select[Build]) -> Select[Build]:
    """Builds as a list shows them: their state, times, package name and who submitted
    them, without their sources (JSON that costs more to load than the rest) and tasks;
    reading those raises. Submitters come joined: "select in" loads take 500 builds a
    query."""
    return stmt.options(
        load_only(
            Build.project_id,
            Build.package_id,
            Build.submitter_id,
            Build.state,
            Build.pkg_name,
            Build.pkg_version,
            Build.srpm_name,
            Build.project_dirname,
            Build.is_background,
            Build.submitted_on,
            Build.started_on,
            Build.ended_on,
            raiseload=True,
        ),
        joinedload(Build.submitter).load_only(User.name, raiseload=True),
    )


def package_views(
    session: Session,
    packages: Sequence[Package],
    *,
    latest: bool = False,
    latest_succeeded: bool = False,
) -> list[PackageView]:
    """``packages`` with their latest builds, in three queries whatever their number."""
    if not packages or not (latest or latest_succeeded):
        return [PackageView(p) for p in packages]
    ids = [p.id for p in packages]
    wanted = []
    if latest:
        wanted.append(
            select(func.max(Build.id)).where(Build.package_id.in_(ids)).group_by(Build.package_id)
        )
    if latest_succeeded:
        wanted.append(
            select(func.max(Build.id))
            .where(Build.package_id.in_(ids), Build.state == BuildState.succeeded)
            .group_by(Build.package_id)
        )
    # One IN over a UNION, not two INs joined by OR, which PostgreSQL answers by scanning
    # every build.
    chosen = union(*wanted) if len(wanted) > 1 else wanted[0]
    builds = session.scalars(_build_summaries(select(Build).where(Build.id.in_(chosen)))).all()
    # Of the tasks only their chroots' names, without making 3 ORM objects a build.
    chroots: dict[int, list[str]] = {}
    for build_id, chroot in session.execute(
        select(BuildTask.build_id, BuildTask.chroot_name)
        .where(BuildTask.build_id.in_([build.id for build in builds]))
        .where(BuildTask.chroot_name != SOURCE_TASK_CHROOT)
        .order_by(BuildTask.id)
    ):
        chroots.setdefault(build_id, []).append(chroot)
    newest: dict[int, Build] = {}
    newest_succeeded: dict[int, Build] = {}
    by_id = {p.id: p for p in packages}
    for build in builds:
        assert build.package_id is not None
        set_committed_value(build, "project", by_id[build.package_id].project)
        # Of a package's (at most two) builds here, the newer is its latest build, and the
        # newest succeeded one its latest succeeded build.
        if build.package_id not in newest or newest[build.package_id].id < build.id:
            newest[build.package_id] = build
        if build.state == BuildState.succeeded and (
            build.package_id not in newest_succeeded
            or newest_succeeded[build.package_id].id < build.id
        ):
            newest_succeeded[build.package_id] = build
    return [
        PackageView(
            p,
            newest.get(p.id) if latest else None,
            newest_succeeded.get(p.id) if latest_succeeded else None,
            chroots,
        )
        for p in packages
    ]


def list_package_builds(session: Session, package: Package, page: Page) -> Sequence[Build]:
    """A page of the package's builds (in every directory of its project), each with its
    tasks; ``package.project`` must be loaded."""
    stmt = select(Build).where(Build.package_id == package.id).options(selectinload(Build.tasks))
    found = fetch_page(session, stmt, page, BUILD_ORDERS, Build.id)
    for build in found:
        set_committed_value(build, "project", package.project)
    return found


def package_name_of(session: Session, build: Build) -> str | None:
    """The name of the package ``build`` belongs to (None before its source step named
    it); its own ``pkg_name`` is the SRPM's, which need not be the package's."""
    if build.package_id is None:
        return None
    return session.scalar(select(Package.name).where(Package.id == build.package_id))


def latest_build(session: Session, package: Package) -> Build | None:
    """The package's newest build in its project's main directory, as Copr's status badge
    shows it: builds in other directories (Packit's ``project:pr:12``) do not count. Only
    its id and state are loaded; ``package.project`` must be."""
    return session.scalar(
        select(Build)
        .options(load_only(Build.id, Build.state, raiseload=True))
        .where(
            Build.package_id == package.id,
            Build.project_dirname == package.project.name,
        )
        .order_by(Build.id.desc())
        .limit(1)
    )


# --- changing --------------------------------------------------------------------------


def _apply(package: Package, fields: PackageFields) -> None:
    if fields.webhook_rebuild is not None:
        package.webhook_rebuild = fields.webhook_rebuild
    if fields.rebuild_dependents is not None:
        package.rebuild_dependents = fields.rebuild_dependents
    if fields.max_builds is not None:
        package.max_builds = fields.max_builds or None
    if fields.timeout is not None:
        package.timeout = fields.timeout
    if fields.chroot_denylist is not None:
        package.chroot_denylist = list(dict.fromkeys(fields.chroot_denylist))


def _source_input(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """The source's fields as given with the package. Its ``package_name`` (a distgit
    source's package) is the package's, named by the path; python-copr repeats it in the
    body, where it is not read."""
    return {**data, "package_name": name}


def add_package(
    session: Session,
    actor: User | None,
    project: Project,
    name: str,
    source_type: str,
    data: dict[str, Any],
    fields: PackageFields,
    settings: SourceSettings,
) -> Package:
    """A new package with a default source of ``source_type``; one that exists is a
    Conflict, as in Copr (edit it instead)."""
    require(session, actor, Action.edit, project)
    check_package_name(name)
    source = check_source(source_type, _source_input(name, data), settings)
    exists = session.scalar(
        select(Package.id).where(Package.project_id == project.id, Package.name == name)
    )
    if exists is not None:
        raise Conflict(f"Package {name} already exists in project {project.full_name}.")
    package = Package(
        project=project,
        project_id=project.id,
        name=name,
        source_type=source_type,
        source_json=source,
        webhook_rebuild=False,
        chroot_denylist=[],
    )
    _apply(package, fields)
    session.add(package)
    session.flush()
    return package


def _merged(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The fields of an edited source: those given, and the stored ones for the rest (as
    Copr keeps them). A custom source stores ``chroot``, ``builddeps``, … which package
    add/edit sends as ``script_chroot``, …: either name given replaces the stored one."""
    kept = {
        key: value
        for key, value in stored.items()
        if key not in given and f"script_{key}" not in given
    }
    return {**kept, **given}


def edit_package(
    session: Session,
    actor: User | None,
    package: Package,
    source_type: str | None,
    data: dict[str, Any],
    fields: PackageFields,
    settings: SourceSettings,
) -> Package:
    """Change a package's source and settings. With ``source_type`` None (copr-cli's
    literal ``None``) the type stays; fields not given keep their value."""
    require(session, actor, Action.edit, package.project)
    if source_type is None and package.source_type != UNSET:
        source_type = package.source_type
    if source_type is not None:
        given = _source_input(package.name, data)
        if source_type == package.source_type:
            given = _merged(package.source_json, given)
        package.source_json = check_source(source_type, given, settings)
        package.source_type = source_type
    _apply(package, fields)
    session.flush()
    return package


def reset_package(session: Session, actor: User | None, package: Package) -> Package:
    """Forget the package's default source (its type becomes ``unset``)."""
    require(session, actor, Action.edit, package.project)
    package.source_type = UNSET
    package.source_json = {}
    session.flush()
    return package


def delete_package(session: Session, actor: User | None, package: Package) -> list[int]:
    """Delete the package and, as Copr does, its builds with their results; returns the ids
    of the builds deleted. A package with a build still going is refused as a whole."""
    require(session, actor, Action.edit, package.project)
    builds = session.execute(
        select(Build.id, Build.state).where(Build.package_id == package.id).order_by(Build.id)
    ).all()
    going = [build_id for build_id, state in builds if state not in TERMINAL]
    if going:
        raise InvalidInput(
            f"package {package.name} has builds that have not ended "
            f"({', '.join(map(str, going))}); cancel them or wait, then delete it"
        )
    deleted = delete_builds(session, actor, [build_id for build_id, _ in builds]) if builds else []
    session.delete(package)
    session.flush()
    return deleted


# --- building --------------------------------------------------------------------------


def package_build_options(package: Package, options: BuildOptions) -> BuildOptions:
    """Build options with the package's settings: its timeout unless the build names one,
    and its chroot denylist added to the chroots left out."""
    update: dict[str, Any] = {}
    if not options.timeout and package.timeout:
        update["timeout"] = package.timeout
    if package.chroot_denylist:
        update["exclude_chroots"] = [*(options.exclude_chroots or ()), *package.chroot_denylist]
    return options.model_copy(update=update)


def has_default_source(package: Package) -> bool:
    """Whether the package has a default source to build from (none once it was reset)."""
    return package.source_type != UNSET and bool(package.source_json)


def _default_source(session: Session, package: Package, results_url: str) -> Source:
    if not has_default_source(package):
        raise InvalidInput(
            f"package {package.name} has no default source (it was reset); set one with "
            "edit-package-*"
        )
    if package.source_type == "rpm_upload":
        raise InvalidInput(
            f"package {package.name} is an uploaded binary RPM; there is nothing to build "
            "(upload the RPM again instead)"
        )
    if package.source_type == "upload":
        # As on Copr, the uploaded SRPM of its latest succeeded build is built again; the
        # upload itself is gone, the SRPM its source task made is among that build's results.
        latest = session.scalar(
            select(Build)
            .where(
                Build.package_id == package.id,
                Build.state == BuildState.succeeded,
                Build.srpm_name.is_not(None),
            )
            .order_by(Build.id.desc())
            .limit(1)
            .options(selectinload(Build.tasks), joinedload(Build.project))
        )
        if latest is None:
            raise InvalidInput(
                f"package {package.name} was made from an uploaded SRPM and has no succeeded "
                "build to build again; upload the SRPM again"
            )
        url = f"{results_url}/{task_dir(latest, source_task(latest))}/{latest.srpm_name}"
        return Source(type="link", data={"url": url})
    return Source(type=package.source_type, data=dict(package.source_json))


def build_package(
    session: Session,
    actor: User | None,
    package: Package,
    options: BuildOptions,
    *,
    results_url: str,
) -> Build:
    """Build the package from its default source, as its settings say; a package made by
    an upload builds the SRPM of its latest succeeded build (found under ``results_url``)."""
    return submit_build(
        session,
        actor,
        _with_chroots(session, package.project),
        _default_source(session, package, results_url),
        package_build_options(package, options),
        pkg_name=package.name,
        package_id=package.id,
    )


MAX_REBUILD_PATTERNS = 100


def _not_a_pattern(value: str) -> str:
    shown = str(value)[:100].encode("unicode_escape").decode("ascii")
    return (
        f"{shown!r} is not a package name or glob pattern (letters, digits and . _ + - * ? [ ] !)"
    )


PATTERN_RULE = Rule(PACKAGE_GLOB, _not_a_pattern)
PackagePattern = Annotated[str, PATTERN_RULE]
"""A package name or glob of rebuild-all, as bodies declare it and the core checks it."""


@dataclass(frozen=True)
class Rebuild:
    """What :func:`rebuild_all` queued, and the packages it left out with the reason."""

    builds: list[Build]
    skipped: list[tuple[str, str]]


def rebuild_all(
    session: Session,
    actor: User | None,
    project: Project,
    patterns: Sequence[str] | None = None,
    *,
    results_url: str,
) -> Rebuild:
    """Build every package of ``project`` (those whose names match one of ``patterns``,
    globs, if given) from its default source, at background priority and submitted
    together, so that ``core/ordering.py`` builds them in dependency order. A package that
    has nothing to build from (reset, an uploaded binary RPM, an upload never built) is
    skipped, saying why. InvalidInput for a pattern that is none; Conflict (the project's
    packages, not the request's shape) if a pattern matches no package or nothing is left."""
    if actor is None:
        raise NotAuthenticated("rebuilding packages requires an API token")
    require(session, actor, Action.build, project)
    patterns = list(dict.fromkeys(patterns or ()))
    if len(patterns) > MAX_REBUILD_PATTERNS:
        raise InvalidInput(
            f"at most {MAX_REBUILD_PATTERNS} patterns, not {len(patterns)}", "packages"
        )
    for pattern in patterns:
        if not isinstance(pattern, str) or not PATTERN_RULE.matches(pattern):
            raise InvalidInput(_not_a_pattern(pattern), "packages")
    packages = session.scalars(
        select(Package).where(Package.project_id == project.id).order_by(Package.id)
    ).all()
    if patterns:
        unmatched = [p for p in patterns if not any(fnmatchcase(k.name, p) for k in packages)]
        if unmatched:
            raise Conflict(f"{', '.join(unmatched)} matches no package of {project.full_name}")
        packages = [k for k in packages if any(fnmatchcase(k.name, p) for p in patterns)]
    sources: list[tuple[Package, Source]] = []
    skipped: list[tuple[str, str]] = []
    for package in packages:
        try:
            sources.append((package, _default_source(session, package, results_url)))
        except InvalidInput as exc:
            skipped.append((package.name, str(exc)))
    if not sources:
        raise Conflict(
            f"no package of {project.full_name} has a source to build from"
            + (f" ({'; '.join(why for _, why in skipped)})" if skipped else "")
        )
    full = _with_chroots(session, project)
    builds: list[Build] = []
    for package, source in sources:
        builds.append(
            submit_build(
                session,
                actor,
                full,
                source,
                package_build_options(package, BuildOptions(background=True)),
                pkg_name=package.name,
                package_id=package.id,
                together_with=builds[0] if builds else None,
            )
        )
    return Rebuild(builds=builds, skipped=skipped)


def queue_package_build(
    session: Session,
    package: Package,
    options: BuildOptions,
    source_changes: dict[str, Any] | None = None,
    settings: SourceSettings | None = None,
    *,
    results_url: str,
    submitter: User | None = None,
    together_with: Build | None = None,
) -> Build:
    """Build the package without asking whether anyone may (webhooks, authorised by the
    project's secret, with no user; the rebuild of a package's dependents, for the submitter
    of the build they depend on); ``source_changes`` (e.g. the pushed commit) are checked as
    the source's rules say, before anything is queued. ``together_with``: a build of the
    same submission (``core/ordering.py``)."""
    source = _default_source(session, package, results_url)
    if source_changes:
        assert settings is not None
        data = check_source(source.type, {**source.data, **source_changes}, settings)
        source = Source(type=source.type, data=data)
    return queue_build(
        session,
        submitter,
        _with_chroots(session, package.project),
        source,
        package_build_options(package, options),
        pkg_name=package.name,
        package_id=package.id,
        together_with=together_with,
    )


def _with_chroots(session: Session, project: Project) -> Project:
    """The project with its chroots loaded, which choosing a build's chroots reads."""
    return get_project(session, project.owner_name, project.name)


def _repeated_source(build: Build, results_url: str) -> Source:
    refusal = resubmit_refusal(build)
    if refusal is not None:
        raise InvalidInput(refusal)
    if build.source_type == "upload":
        # Built again from the SRPM its source task made, among the build's results.
        url = f"{results_url}/{task_dir(build, source_task(build))}/{build.srpm_name}"
        return Source(type="link", data={"url": url})
    return Source(type=build.source_type, data=dict(build.source_json))


def resubmit_build(
    session: Session,
    actor: User | None,
    build: Build,
    *,
    results_url: str,
    overrides: BuildOptions | None = None,
) -> Build:
    """Submit ``build`` again: the same source, options and chroots (those still enabled in
    its project); options set in ``overrides`` replace the earlier ones.

    ``build`` needs its tasks and project loaded (``builds.get_build``). A build from an
    uploaded SRPM is built again from the SRPM its source task made (at ``results_url``).
    """
    project = _with_chroots(session, build.project)
    source = _repeated_source(build, results_url)
    enabled = {pc.mock_chroot.name for pc in project.chroots}
    before = [t.chroot_name for t in chroot_tasks(build)]
    chroots = [name for name in before if name in enabled]
    if not chroots:
        raise InvalidInput(
            f"none of build {build.id}'s chroots ({', '.join(before) or '-'}) is enabled in "
            f"{project.full_name} any more; name the chroots to build for",
            "chroots",
        )
    options = BuildOptions(
        chroots=chroots,
        timeout=build.timeout,
        memory=build.memory_limit,
        background=build.is_background,
        bootstrap=build.bootstrap,
        isolation=build.isolation,
        enable_net=build.enable_net,
        project_dirname=build.project_dirname,
    )
    if overrides is not None:
        given = {k: v for k, v in overrides.model_dump(exclude_unset=True).items() if v is not None}
        options = options.model_copy(update=given)
    return submit_build(
        session,
        actor,
        project,
        source,
        options,
        pkg_name=build.pkg_name,
        package_id=build.package_id,
    )


# --- packages made by builds -----------------------------------------------------------


def link_build(session: Session, build: Build) -> None:
    """Link a build whose source task named its package to the project's package of that
    name, creating the package, as Copr does, with the build's source type and source as
    its default (building an ``upload`` package builds its latest SRPM again). Called when
    the source task ends."""
    if build.package_id is not None or not build.pkg_name:
        return
    where = (Package.project_id == build.project_id, Package.name == build.pkg_name)
    package_id = session.scalar(select(Package.id).where(*where))
    if package_id is None:
        package = Package(
            project_id=build.project_id,
            name=build.pkg_name,
            source_type=build.source_type,
            source_json=dict(build.source_json),
            webhook_rebuild=False,
            chroot_denylist=[],
        )
        try:
            # Two builds of a new package may end at once; the second finds the first's.
            with session.begin_nested():
                session.add(package)
            package_id = package.id
        except IntegrityError:
            package_id = session.scalar(select(Package.id).where(*where))
            if package_id is None:
                raise
    build.package_id = package_id
