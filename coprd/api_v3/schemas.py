"""APIv3 wire shapes. As ``response_model`` each is both the serialiser and the Swagger doc."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from coprd.core.builds import BuildOptions
from coprd.core.ordering import build_order_note, build_wait_reason
from coprd.core.packages import MAX_REBUILD_PATTERNS, PackagePattern, PackageView
from coprd.core.pagination import Page
from coprd.core.project_chroots import ChrootFields
from coprd.core.projects import NewProject, ProjectFields, RepoList, chroot_names
from coprd.core.results import task_dir
from coprd.core.text import NonEmpty
from coprd.db.models import Build, BuildState, BuildTask, Project, ProjectChroot

T = TypeVar("T")


class Meta(BaseModel):
    limit: int | None
    offset: int
    order: str
    order_type: str

    @classmethod
    def of(cls, page: Page) -> Meta:
        return cls(
            limit=page.limit, offset=page.offset, order=page.order, order_type=page.order_type
        )


class ItemList(BaseModel, Generic[T]):
    items: list[T]
    meta: Meta


class Version(BaseModel):
    version: int = 3
    documentation: str


class UserOut(BaseModel):
    id: int
    name: str
    admin: bool


class ApiTokenOut(BaseModel):
    name: str
    api_login: str
    api_token: str
    expiration: str = Field(description="YYYY-MM-DD, the last day the token is valid")


class ProjectOut(BaseModel):
    id: int
    name: str
    projectname: str
    ownername: str
    full_name: str
    description: str
    instructions: str
    homepage: str | None
    contact: str | None
    devel_mode: bool
    persistent: bool
    unlisted_on_hp: bool
    auto_prune: bool
    enable_net: bool
    bootstrap: str
    bootstrap_image: str | None
    isolation: str
    module_hotfixes: bool
    appstream: bool
    multilib: bool
    fedora_review: bool
    follow_fedora_branching: bool
    disable_createrepo: bool
    repo_priority: int | None
    storage: str
    delete_after_days: int | None
    runtime_dependencies: list[str]
    packit_forge_projects_allowed: list[str]
    additional_repos: list[str]
    chroot_repos: dict[str, str] = Field(description="chroot name → its repository URL")
    repo_url: str

    @classmethod
    def of(cls, project: Project, results_url: str) -> ProjectOut:
        repo_url = f"{results_url}/{project.owner_name}/{project.name}"
        return cls(
            id=project.id,
            name=project.name,
            projectname=project.name,
            ownername=project.owner_name,
            full_name=project.full_name,
            description=project.description,
            instructions=project.instructions,
            homepage=project.homepage,
            contact=project.contact,
            devel_mode=project.devel_mode,
            persistent=project.persistent,
            unlisted_on_hp=project.unlisted_on_hp,
            auto_prune=project.auto_prune,
            enable_net=project.enable_net,
            bootstrap=project.bootstrap,
            bootstrap_image=project.bootstrap_image,
            isolation=project.isolation,
            module_hotfixes=project.module_hotfixes,
            appstream=project.appstream,
            multilib=project.multilib,
            fedora_review=project.fedora_review,
            follow_fedora_branching=project.follow_fedora_branching,
            disable_createrepo=project.disable_createrepo,
            repo_priority=project.repo_priority,
            storage=project.storage,
            delete_after_days=project.delete_after_days,
            runtime_dependencies=list(project.runtime_dependencies),
            packit_forge_projects_allowed=list(project.packit_forge_projects_allowed),
            additional_repos=list(project.additional_repos),
            chroot_repos={name: f"{repo_url}/{name}/" for name in chroot_names(project)},
            repo_url=repo_url,
        )


# JSON bodies say what they mean: a boolean is true or false, a number is a number (not
# "yes" nor "5", which pydantic's lax mode would read); the core's types are lax for the
# web forms, whose fields are all text.
_STRICT = ConfigDict(strict=True)


class ProjectAddIn(NewProject):
    """``project/add``: the new project's name, chroots and settings."""

    model_config = _STRICT


EditedChroots = Annotated[
    list[Annotated[str, Field(max_length=200)]],
    Field(max_length=200),
    NonEmpty("a project needs at least one chroot"),
]


class ProjectEditIn(ProjectFields):
    """``project/edit``: ``null`` keeps a field; ``chroots`` replaces the enabled set."""

    model_config = _STRICT

    chroots: EditedChroots | None = None
    repos: RepoList = Field(default=None, description="Additional repositories (a list).")

    def fields(self) -> ProjectFields:
        data = self.model_dump(exclude={"chroots", "repos"})
        if self.repos is not None:
            data["additional_repos"] = self.repos
        return ProjectFields.model_validate(data)


class ProjectForkIn(BaseModel):
    """``project/fork``: where to (``ownername``/``name``); ``confirm`` to reuse a project."""

    model_config = ConfigDict(extra="ignore", strict=True)
    name: str = Field(min_length=1, max_length=200)
    ownername: str = Field(min_length=1, max_length=200)
    confirm: bool = False


class ProjectDeleteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    verify: bool | None = None


Permissions = dict[str, dict[str, str]]


class PermissionsOut(BaseModel):
    permissions: Permissions = Field(description="user → {role: nothing|request|approved}")


class UpdatedOut(BaseModel):
    updated: list[str] | bool


class CanBuildInOut(BaseModel):
    """``project/permissions/can_build_in``: may ``who`` build in the project?"""

    who: str
    ownername: str
    projectname: str
    can_build_in: bool


class ProjectChrootEditIn(ChrootFields):
    """``project-chroot/edit``: sent as the ``json`` part of a multipart body."""

    model_config = _STRICT


class ProjectChrootOut(BaseModel):
    mock_chroot: str
    projectname: str
    ownername: str
    comps_name: str | None
    additional_repos: list[str]
    additional_packages: list[str]
    additional_modules: list[str]
    with_opts: list[str]
    without_opts: list[str]
    isolation: str
    bootstrap: str
    bootstrap_image: str | None
    delete_after_days: int | None
    follow_fedora_branching: bool

    @classmethod
    def of(cls, pc: ProjectChroot, project: Project) -> ProjectChrootOut:
        return cls(
            mock_chroot=pc.mock_chroot.name,
            projectname=project.name,
            ownername=project.owner_name,
            comps_name=pc.comps_name,
            additional_repos=list(pc.repos),
            additional_packages=list(pc.buildroot_pkgs),
            additional_modules=list(pc.modules),
            with_opts=list(pc.with_opts),
            without_opts=list(pc.without_opts),
            isolation=pc.isolation,
            bootstrap=pc.bootstrap,
            bootstrap_image=pc.bootstrap_image,
            delete_after_days=pc.delete_after_days,
            follow_fedora_branching=project.follow_fedora_branching,
        )


class RepoOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    baseurl: str
    priority: int | None = None
    module_hotfixes: bool | None = None
    repo_gpgcheck: bool = False


class BuildConfigOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chroot: str
    repos: list[RepoOut]
    additional_repos: list[str]
    additional_packages: list[str]
    additional_modules: list[str]
    enable_net: bool
    with_opts: list[str]
    without_opts: list[str]
    isolation: str
    bootstrap: str
    # Absent when unset: the routes answer without None fields (response_model_exclude_none).
    bootstrap_image: str | None = None
    timeout: int | None = None
    memory_limit: int | None = Field(default=None, description="build-chroot only: MiB")
    is_background: bool | None = Field(default=None, description="build-chroot only")


def _unix(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.replace(tzinfo=dt.UTC).timestamp())


class SourcePackage(BaseModel):
    name: str | None
    version: str | None
    url: str | None


class BuildOut(BaseModel):
    id: int
    state: str
    ownername: str
    projectname: str
    project_dirname: str
    repo_url: str
    source_package: SourcePackage
    submitter: str | None
    submitted_on: int | None
    started_on: int | None
    ended_on: int | None
    chroots: list[str]
    is_background: bool
    wait_reason: str | None = Field(
        default=None,
        description="coprd: while the build is waiting for builds of the project that provide "
        "its BuildRequires, why (e.g. 'waits for build 41 (libfoo) which provides "
        "libfoo-devel'); else null",
    )
    order_note: str | None = Field(
        default=None,
        description="coprd: what the dependency ordering decided, e.g. that a dependency "
        "cycle was broken in submission order; else null",
    )

    @classmethod
    def of(cls, build: Build, results_url: str, chroots: list[str] | None = None) -> BuildOut:
        """``chroots``: the build's chroots, when its tasks were not loaded."""
        repo_url = f"{results_url}/{build.project.owner_name}/{build.project_dirname}"
        srpm_url = None
        if build.srpm_name:
            srpm_url = f"{repo_url}/srpm-builds/{build.id:08d}/{build.srpm_name}"
        return cls(
            id=build.id,
            state=build.state.value,
            ownername=build.project.owner_name,
            projectname=build.project.name,
            project_dirname=build.project_dirname,
            repo_url=repo_url,
            source_package=SourcePackage(
                name=build.pkg_name, version=build.pkg_version, url=srpm_url
            ),
            submitter=build.submitter.name if build.submitter else None,
            submitted_on=_unix(build.submitted_on),
            started_on=_unix(build.started_on),
            ended_on=_unix(build.ended_on),
            chroots=[t.chroot_name for t in build.tasks if not t.is_source]
            if chroots is None
            else chroots,
            is_background=build.is_background,
            wait_reason=build_wait_reason(build.tasks) if chroots is None else None,
            order_note=build_order_note(build.tasks) if chroots is None else None,
        )


class BuildItems(BaseModel):
    """``build/create/url``'s answer: a list, because one call may submit several URLs."""

    items: list[BuildOut]
    meta: dict[str, int | str | None] = Field(default_factory=dict)


class BuildChrootOut(BaseModel):
    name: str
    state: str
    started_on: int | None
    ended_on: int | None
    result_url: str | None
    wait_reason: str | None = Field(
        default=None, description="coprd: why the chroot build waits for other builds, or null"
    )
    order_note: str | None = Field(
        default=None, description="coprd: a dependency cycle broken for it, or null"
    )

    @classmethod
    def of(cls, build: Build, task: BuildTask, results_url: str) -> BuildChrootOut:
        return cls(
            name=task.chroot_name,
            state=task.state.value,
            started_on=_unix(task.started_on),
            ended_on=_unix(task.ended_on),
            result_url=f"{results_url}/{task_dir(build, task)}/" if build.pkg_name else None,
            wait_reason=task.wait_reason,
            order_note=task.order_note,
        )


class BuildsDeletedOut(BaseModel):
    builds: list[int]


class BuildIdsIn(BaseModel):
    builds: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=1000)


class CheckOut(BaseModel):
    message: str


class SourceBuildConfigOut(BaseModel):
    source_type: str
    source_dict: dict[str, Any]
    memory_limit: int | None
    timeout: int
    is_background: bool


class PackageBuildsOut(BaseModel):
    latest: BuildOut | None = Field(description="Only with with_latest_build=True")
    latest_succeeded: BuildOut | None = Field(
        description="Only with with_latest_succeeded_build=True"
    )


class PackageOut(BaseModel):
    id: int
    name: str
    ownername: str
    projectname: str
    source_type: str
    source_dict: dict[str, Any]
    auto_rebuild: bool = Field(description="Whether webhooks rebuild the package")
    rebuild_dependents: bool = Field(
        default=False,
        description="coprd: whether a succeeded build of the package rebuilds the project's "
        "packages that BuildRequire it",
    )
    builds: PackageBuildsOut

    @classmethod
    def of(cls, view: PackageView, results_url: str) -> PackageOut:
        package = view.package

        def build(found: Build | None) -> BuildOut | None:
            if found is None:
                return None
            return BuildOut.of(found, results_url, view.chroots.get(found.id, []))

        return cls(
            id=package.id,
            name=package.name,
            ownername=package.project.owner_name,
            projectname=package.project.name,
            source_type=package.source_type,
            source_dict=dict(package.source_json),
            auto_rebuild=package.webhook_rebuild,
            rebuild_dependents=package.rebuild_dependents,
            builds=PackageBuildsOut(
                latest=build(view.latest), latest_succeeded=build(view.latest_succeeded)
            ),
        )


class PackageTargetIn(BaseModel):
    """``package/reset`` and ``package/delete``: which package."""

    model_config = ConfigDict(extra="ignore")
    ownername: str
    projectname: str
    package_name: str


class RebuildAllIn(BaseModel):
    """coprd's ``package/rebuild-all``: which project, and which of its packages."""

    model_config = ConfigDict(extra="ignore")
    ownername: str
    projectname: str
    packages: list[PackagePattern] | None = Field(
        default=None,
        max_length=MAX_REBUILD_PATTERNS,
        description="Names or glob patterns of the packages to rebuild (all when absent).",
    )


class SkippedPackage(BaseModel):
    name: str
    reason: str


class RebuildAllOut(BaseModel):
    items: list[BuildOut] = Field(description="The builds queued, in submission order.")
    skipped: list[SkippedPackage] = Field(description="Packages left out, and why.")


class PackageBuildIn(BuildOptions):
    """``package/build``: which package, and the build's options."""

    ownername: str
    projectname: str
    package_name: str


# Copr's numbers for the states (copr_common's StatusEnum), sent beside the names where
# Copr sends them.
STATUS_CODES = {
    BuildState.failed: 0,
    BuildState.succeeded: 1,
    BuildState.canceled: 2,
    BuildState.running: 3,
    BuildState.pending: 4,
    BuildState.skipped: 5,
    BuildState.starting: 6,
    BuildState.importing: 7,
    BuildState.forked: 8,
    BuildState.waiting: 9,
}


class MonitorChrootOut(BaseModel):
    """A package's latest build in one chroot. The ``url_*`` fields are there only when
    ``additional_fields[]`` asks for them (null: no such log yet)."""

    state: BuildState
    status: int = Field(
        ge=min(STATUS_CODES.values()),
        le=max(STATUS_CODES.values()),
        description="The state as Copr numbers it (failed 0, succeeded 1, …)",
    )
    build_id: int
    url_build_log: str | None = None
    url_backend_log: str | None = None
    url_build: str | None = None
    pkg_version: str | None


class MonitorPackageOut(BaseModel):
    name: str
    chroots: dict[str, MonitorChrootOut] = Field(description="chroot name → its latest build")


class MonitorOut(BaseModel):
    output: Literal["ok"]
    message: str = Field(examples=["Project monitor request successful"])
    packages: list[MonitorPackageOut]


class WebhookSecretOut(BaseModel):
    id: int
    name: str
    ownername: str
    full_name: str
    webhook_secret: str
