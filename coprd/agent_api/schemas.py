"""Wire shapes of the agent protocol (``/backend/…``)."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from coprd.config import MAX_FINISH_PACKAGES

MAX_CLAIM_WAIT_S = 30.0


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arches: list[str] = Field(min_length=1, max_length=20)
    backends: list[Literal["local", "mock"]] = Field(default=["local"], min_length=1)
    wait_s: float = Field(
        default=0.0,
        ge=0.0,
        le=MAX_CLAIM_WAIT_S,
        description="how long the server may hold the claim while there is no work",
    )


class TaskRepo(BaseModel):
    """A repository of a chroot task's buildroot, with its dnf options."""

    id: str
    name: str
    baseurl: str
    priority: int | None = None
    module_hotfixes: bool = False
    served: bool = Field(
        default=False,
        description="the repository is this server's own (a project's): the agent fetches it "
        "itself; any other is fetched from inside the build's sandbox",
    )


class TaskOut(BaseModel):
    """Everything an agent needs to run a task; it never reads the database."""

    task_id: int
    build_id: int
    kind: Literal["source", "rpm"]
    chroot: str
    owner: str
    project: str
    source_type: str
    source: dict[str, Any]
    source_url: str | None = Field(description="where the agent downloads the input from")
    source_is_served: bool = Field(
        default=False,
        description="source tasks: source_url is the server's own (an upload, or a link into "
        "its results), which the agent fetches itself; any other URL is fetched in the sandbox",
    )
    srpm_url: str | None = Field(description="for rpm tasks: the SRPM the source task made")
    results_url: str
    timeout: int
    memory_limit_mb: int | None
    enable_net: bool
    with_opts: list[str]
    without_opts: list[str]
    repos: list[str] = Field(description="rpm tasks: the buildroot's repositories' base URLs")
    repo_specs: list[TaskRepo] = Field(
        default_factory=list, description="rpm tasks: the same repositories with their options"
    )
    buildroot_pkgs: list[str]
    modules: list[str] = Field(
        default_factory=list,
        description="rpm tasks: module streams to enable (name:stream), or disable (!name)",
    )
    isolation: str = Field(default="default", description="rpm tasks: default, simple, nspawn")
    bootstrap: str = Field(
        default="default", description="rpm tasks: default, on, off, image, custom_image"
    )
    bootstrap_image: str | None = None
    lease_seconds: int
    pypi_index: str = Field(description="source tasks: the PyPI simple index to fetch from")
    rubygems_source: str = Field(description="source tasks: the RubyGems source")
    lookaside_url: str | None = Field(
        description="distgit and scm source tasks: the dist-git's sources, a template with "
        "{namespace}, {name}, {filename}, {hashtype} and {hash}"
    )


class HeartbeatOut(BaseModel):
    action: Literal["continue", "cancel"]


DependencyName = Annotated[str, Field(min_length=1, max_length=255)]


class SourceIn(BaseModel):
    name: str = Field(max_length=100)
    version: str = Field(max_length=255)
    srpm_name: str = Field(max_length=255)
    exclusive_arch: list[str] = Field(default_factory=list, max_length=100)
    exclude_arch: list[str] = Field(default_factory=list, max_length=100)
    build_requires: list[DependencyName] = Field(
        default_factory=list,
        max_length=2000,
        description="names the SRPM BuildRequires (versions left out); see core/ordering.py",
    )
    provides: list[DependencyName] = Field(
        default_factory=list,
        max_length=2000,
        description="names the binary packages will provide, their own included",
    )


class Nevra(BaseModel):
    name: str
    epoch: int | None = None
    version: str
    release: str
    arch: str


def _strict_base64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error
        raise ValueError("is not valid base64") from None


class FinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["succeeded", "failed", "canceled"]
    message: str = Field(default="", max_length=10_000)
    packages: list[Nevra] = Field(default_factory=list, max_length=MAX_FINISH_PACKAGES)
    source: SourceIn | None = None
    # The end of builder-live.log the agent had not sent yet, base64: it travels with the
    # finish instead of in a request of its own, and is cut as any other chunk of the log.
    # (The whole body is at most 4 MiB, see agent_api/tasks.py.)
    log_tail: Annotated[bytes, BeforeValidator(_strict_base64)] = b""


class FinishOut(BaseModel):
    build_state: str
