"""Legacy API wire shapes: what python-copr 1.63's ``CoprClient`` parses (reference §1.4).

Every success is ``output: "ok"`` with status 200. Lists the client joined with spaces are
answered the same way (``additional_repos``, ``buildroot_pkgs``); times are unix seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from coprd.core import builds
from coprd.core.projects import chroot_names, chroot_repo_urls
from coprd.core.results import project_dir, task_dir
from coprd.db.models import Build, Project, ProjectChroot


def unix(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.replace(tzinfo=dt.UTC).timestamp())


class Ok(BaseModel):
    output: Literal["ok"] = "ok"
    message: str


class ApiInfo(BaseModel):
    """``GET /api``: where API tokens come from, and the APIs this server speaks."""

    output: Literal["ok"] = "ok"
    message: str
    token_command: str
    config_file: str
    copr_url: str
    apis: dict[str, str]


class ProjectItem(BaseModel):
    """A project in a list or search result; the client reads ``name`` or ``coprname``."""

    name: str
    coprname: str
    username: str
    description: str
    instructions: str
    additional_repos: str = Field(description="space-separated")
    yum_repos: dict[str, str] = Field(description="chroot name → its repository URL")
    persistent: bool
    unlisted_on_hp: bool
    auto_prune: bool

    @classmethod
    def of(cls, project: Project, results_url: str) -> ProjectItem:
        return cls(
            name=project.name,
            coprname=project.name,
            username=project.owner_name,
            description=project.description,
            instructions=project.instructions,
            additional_repos=" ".join(project.additional_repos),
            yum_repos=chroot_repo_urls(project, results_url),
            persistent=project.persistent,
            unlisted_on_hp=project.unlisted_on_hp,
            auto_prune=project.auto_prune,
        )


class ProjectList(BaseModel):
    output: Literal["ok"] = "ok"
    repos: list[ProjectItem]


class ProjectDetail(BaseModel):
    name: str
    username: str
    description: str
    instructions: str
    additional_repos: str = Field(description="space-separated")
    yum_repos: dict[str, str] = Field(description="chroot name → its repository URL")
    auto_createrepo: bool
    last_modified: int | None = Field(description="when a build last ended (unix time)")
    persistent: bool
    unlisted_on_hp: bool
    auto_prune: bool

    @classmethod
    def of(
        cls, project: Project, results_url: str, last_modified: dt.datetime | None
    ) -> ProjectDetail:
        return cls(
            name=project.name,
            username=project.owner_name,
            description=project.description,
            instructions=project.instructions,
            additional_repos=" ".join(project.additional_repos),
            yum_repos=chroot_repo_urls(project, results_url),
            auto_createrepo=not project.disable_createrepo,
            last_modified=unix(last_modified),
            persistent=project.persistent,
            unlisted_on_hp=project.unlisted_on_hp,
            auto_prune=project.auto_prune,
        )


class ProjectDetailOut(BaseModel):
    output: Literal["ok"] = "ok"
    detail: ProjectDetail


class ModifiedDetail(BaseModel):
    name: str
    description: str
    instructions: str
    last_modified: int | None


class ProjectModified(BaseModel):
    """``modify/``: the seed's top-level fields, and the ``detail`` 1.63 parses."""

    output: Literal["ok"] = "ok"
    message: str
    description: str
    instructions: str
    repos: str = Field(description="space-separated")
    chroots: list[str] = Field(description="the chroots enabled now, as Copr answered")
    detail: ModifiedDetail
    buildroot_pkgs: dict[str, str] = Field(description="chroot name → its packages")

    @classmethod
    def of(cls, project: Project, last_modified: dt.datetime | None) -> ProjectModified:
        return cls(
            message="Project was updated successfully.",
            description=project.description,
            instructions=project.instructions,
            repos=" ".join(project.additional_repos),
            chroots=chroot_names(project),
            detail=ModifiedDetail(
                name=project.name,
                description=project.description,
                instructions=project.instructions,
                last_modified=unix(last_modified),
            ),
            buildroot_pkgs={
                pc.mock_chroot.name: " ".join(pc.buildroot_pkgs)
                for pc in sorted(project.chroots, key=lambda pc: pc.mock_chroot.name)
            },
        )


class ChrootOut(BaseModel):
    output: Literal["ok"] = "ok"
    name: str
    buildroot_pkgs: str = Field(description="space-separated")
    repos: str = Field(description="space-separated")

    @classmethod
    def of(cls, pc: ProjectChroot) -> ChrootOut:
        return cls(
            name=pc.mock_chroot.name,
            buildroot_pkgs=" ".join(pc.buildroot_pkgs),
            repos=" ".join(pc.repos),
        )


class BuildsCreated(BaseModel):
    """``new_build/``: 1.63 reads ``ids``; the seed documents ``id``."""

    output: Literal["ok"] = "ok"
    message: str
    ids: list[int]
    id: int


class BuildStatus(BaseModel):
    output: Literal["ok"] = "ok"
    status: str


class BuildDetail(BaseModel):
    output: Literal["ok"] = "ok"
    id: int
    status: str
    project: str
    project_dirname: str
    owner: str
    results: str = Field(description="URL of the project's results directory")
    results_by_chroot: dict[str, str]
    built_pkgs: list[str] = Field(description='"name version" of each binary package')
    src_pkg: str | None = Field(description="the URL built from")
    src_version: str | None
    chroots: dict[str, str] = Field(description="chroot name → its state")
    submitted_on: int | None
    started_on: int | None
    ended_on: int | None
    submitted_by: str | None

    @classmethod
    def of(cls, build: Build, results_url: str) -> BuildDetail:
        tasks = builds.chroot_tasks(build)
        source = builds.source_task(build)
        srpm_url = None
        if build.srpm_name:
            srpm_url = f"{results_url}/{task_dir(build, source)}/{build.srpm_name}"
        link = build.source_json.get("url") if build.source_type == "link" else None
        built = dict.fromkeys(
            f"{package['name']} {package['version']}"
            for task in tasks
            for package in task.built_packages
        )
        return cls(
            id=build.id,
            status=build.state.value,
            project=build.project.name,
            project_dirname=build.project_dirname,
            owner=build.project.owner_name,
            results=f"{results_url}/{project_dir(build)}",
            results_by_chroot={
                task.chroot_name: f"{results_url}/{task_dir(build, task)}/"
                for task in tasks
                if build.pkg_name
            },
            built_pkgs=list(built),
            src_pkg=link if isinstance(link, str) else srpm_url,
            src_version=build.pkg_version,
            chroots={task.chroot_name: task.state.value for task in tasks},
            submitted_on=unix(build.submitted_on),
            started_on=unix(build.started_on),
            ended_on=unix(build.ended_on),
            submitted_by=build.submitter.name if build.submitter else None,
        )
