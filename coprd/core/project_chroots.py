"""A project's settings for one of its chroots (``copr-cli edit-chroot``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from coprd.core.builds import MAX_TIMEOUT
from coprd.core.chroots import resolve_active_chroots
from coprd.core.errors import Conflict, InvalidInput, NotFound
from coprd.core.names import check_chroot_name
from coprd.core.permissions import Action, require
from coprd.core.projects import (
    MAX_LIST,
    ProjectFields,
    RepoList,
    ShortText,
    Word,
    WordList,
    edit_project,
)
from coprd.db.models import Project, ProjectChroot, User

MAX_COMPS = 4 * 1024 * 1024

RESETTABLE = {
    "additional_packages": "buildroot_pkgs",
    "additional_repos": "repos",
    "additional_modules": "modules",
    "with_opts": "with_opts",
    "without_opts": "without_opts",
    "isolation": "isolation",
    "bootstrap": "bootstrap",
    "bootstrap_image": "bootstrap_image",
    "comps": "comps",
    "timeout": "timeout",
}


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


ModuleList = Annotated[
    Annotated[list[Word], Field(max_length=MAX_LIST)] | None,
    BeforeValidator(_split_commas),
]


class ChrootFields(BaseModel):
    """What ``project-chroot/edit`` may change; ``None`` keeps the current value."""

    model_config = ConfigDict(extra="ignore")

    additional_packages: WordList = None
    additional_repos: RepoList = None
    additional_modules: ModuleList = None
    with_opts: WordList = None
    without_opts: WordList = None
    isolation: Literal["default", "simple", "nspawn", "unchanged"] | None = None
    bootstrap: Literal["unchanged", "default", "on", "off", "image", "custom_image"] | None = None
    bootstrap_image: ShortText = None
    timeout: int | None = Field(default=None, ge=0, le=MAX_TIMEOUT)
    delete_comps: bool | None = False
    reset_fields: list[str] | None = Field(default=None, max_length=len(RESETTABLE) + 1)

    @model_validator(mode="after")
    def _check_reset(self) -> ChrootFields:
        for name in self.reset_fields or []:
            if name not in RESETTABLE:
                raise ValueError(
                    f"cannot reset {name!r}; resettable: {', '.join(sorted(RESETTABLE))}"
                )
        if self.bootstrap_image and self.bootstrap not in (None, "image", "custom_image"):
            raise ValueError("bootstrap_image needs bootstrap 'image' or 'custom_image'")
        return self


def get_project_chroot(project: Project, chrootname: str) -> ProjectChroot:
    check_chroot_name(chrootname)
    for pc in project.chroots:
        if pc.mock_chroot.name == chrootname:
            return pc
    raise NotFound(f"Chroot {chrootname} is not enabled in project {project.full_name}.")


def enable_project_chroot(
    session: Session, actor: User | None, project: Project, chrootname: str
) -> ProjectChroot:
    """Add one chroot to the project's enabled set; Conflict if it is enabled already."""
    require(session, actor, Action.edit, project)
    (mock_chroot,) = resolve_active_chroots(session, [chrootname])
    if any(pc.mock_chroot_id == mock_chroot.id for pc in project.chroots):
        raise Conflict(f"Chroot {chrootname} is already enabled in project {project.full_name}.")
    names = [pc.mock_chroot.name for pc in project.chroots]
    edit_project(session, actor, project, ProjectFields(), [*names, chrootname])
    return get_project_chroot(project, chrootname)


def disable_project_chroot(
    session: Session, actor: User | None, project: Project, chrootname: str
) -> None:
    """Remove one chroot from the project's enabled set; a project keeps at least one."""
    require(session, actor, Action.edit, project)
    gone = get_project_chroot(project, chrootname)
    names = [pc.mock_chroot.name for pc in project.chroots if pc is not gone]
    edit_project(session, actor, project, ProjectFields(), names)


def edit_project_chroot(
    session: Session,
    actor: User | None,
    project: Project,
    chrootname: str,
    fields: ChrootFields,
    comps: tuple[str, bytes] | None = None,
) -> ProjectChroot:
    """Apply ``fields`` (and an uploaded comps.xml as ``(filename, content)``)."""
    require(session, actor, Action.edit, project)
    pc = get_project_chroot(project, chrootname)
    defaults = ProjectChroot.__table__.columns
    for name in fields.reset_fields or []:
        column = RESETTABLE[name]
        if column == "comps":
            pc.comps = pc.comps_name = None
            continue
        default = defaults[column].default
        value = default.arg if default is not None else None
        setattr(pc, column, value(None) if callable(value) else value)

    updates = {
        "buildroot_pkgs": fields.additional_packages,
        "repos": fields.additional_repos,
        "modules": fields.additional_modules,
        "with_opts": fields.with_opts,
        "without_opts": fields.without_opts,
        "isolation": fields.isolation,
        "bootstrap": fields.bootstrap,
        "bootstrap_image": fields.bootstrap_image,
        "timeout": fields.timeout,
    }
    for column, value in updates.items():
        if value is not None:
            setattr(pc, column, value)
    if pc.bootstrap in ("image", "custom_image") and not pc.bootstrap_image:
        raise InvalidInput("bootstrap image mode needs a bootstrap_image", "bootstrap_image")

    if fields.delete_comps:
        pc.comps = pc.comps_name = None
    if comps is not None:
        filename, content = comps
        pc.comps_name, pc.comps = _check_comps(filename, content)
    session.flush()
    return pc


def _check_comps(filename: str, content: bytes) -> tuple[str, bytes]:
    if len(content) > MAX_COMPS:
        raise InvalidInput(f"comps file is larger than {MAX_COMPS} bytes", "upload_comps")
    head = content.lstrip()[:2048]
    if not head.startswith(b"<") or b"<comps" not in content[:65536]:
        raise InvalidInput("not a comps.xml file (no <comps> element)", "upload_comps")
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] or "comps.xml"
    if len(name) > 255 or name.startswith(".") or any(ord(c) < 32 for c in name):
        name = "comps.xml"
    return name, content


@dataclass(frozen=True)
class RepoSpec:
    id: str
    name: str
    baseurl: str
    priority: int | None = None
    module_hotfixes: bool | None = None
    repo_gpgcheck: bool = False


@dataclass(frozen=True)
class BuildConfig:
    """What a build in this chroot of this project is built with."""

    chroot: str
    repos: list[RepoSpec]
    additional_repos: list[str]
    additional_packages: list[str]
    additional_modules: list[str]
    enable_net: bool
    with_opts: list[str]
    without_opts: list[str]
    isolation: str
    bootstrap: str
    bootstrap_image: str | None
    timeout: int | None


_REPO_ID = re.compile(r"[^A-Za-z0-9_]+")


def expand_repo_url(url: str, chroot: str, results_url: str) -> str:
    """``copr://owner/project`` → that project's repo for ``chroot``; ``$chroot`` expanded."""
    if url.startswith("copr://"):
        return f"{results_url}/{url[len('copr://') :].strip('/')}/{chroot}/"
    return url.replace("$chroot", chroot)


def build_config(project: Project, pc: ProjectChroot, results_url: str) -> BuildConfig:
    chroot = pc.mock_chroot.name
    repos = [
        RepoSpec(
            id="copr_base",
            name="Copr repository",
            baseurl=f"{results_url}/{project.owner_name}/{project.name}/{chroot}/",
            priority=project.repo_priority,
            module_hotfixes=project.module_hotfixes or None,
        )
    ]
    extra = [*project.additional_repos, *pc.repos]
    for url in dict.fromkeys(extra):
        baseurl = expand_repo_url(url, chroot, results_url)
        ident = _REPO_ID.sub("_", url.split("://", 1)[-1]).strip("_")[:100] or "repo"
        repos.append(RepoSpec(id=ident, name=f"Additional repo {ident}", baseurl=baseurl))
    return BuildConfig(
        chroot=chroot,
        repos=repos,
        additional_repos=extra,
        additional_packages=list(pc.buildroot_pkgs),
        additional_modules=list(pc.modules),
        enable_net=project.enable_net,
        with_opts=list(pc.with_opts),
        without_opts=list(pc.without_opts),
        isolation=project.isolation if pc.isolation == "unchanged" else pc.isolation,
        bootstrap=project.bootstrap if pc.bootstrap == "unchanged" else pc.bootstrap,
        bootstrap_image=pc.bootstrap_image or project.bootstrap_image,
        timeout=pc.timeout,
    )
