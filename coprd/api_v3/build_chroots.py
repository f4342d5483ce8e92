"""``build-chroot/…``: one chroot of a build."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from coprd.api_v3.params import Pagination
from coprd.api_v3.schemas import BuildChrootOut, BuildConfigOut, ItemList, Meta
from coprd.core import builds
from coprd.core.errors import NotFound
from coprd.db.models import Build, BuildTask
from coprd.http import DB, AppSettings

router = APIRouter(prefix="/build-chroot", tags=["build chroots"])

BuildIdQ = Annotated[int, Query()]
ChrootQ = Annotated[str, Query()]


def _task(build: Build, chrootname: str) -> BuildTask:
    for task in builds.chroot_tasks(build):
        if task.chroot_name == chrootname:
            return task
    raise NotFound(f"Build {build.id} has no chroot {chrootname[:100]!r}.")


@router.get("", response_model=BuildChrootOut, summary="One chroot of a build")
def get_build_chroot(db: DB, settings: AppSettings, build_id: BuildIdQ, chrootname: ChrootQ) -> Any:
    build = builds.get_build(db, build_id)
    return BuildChrootOut.of(build, _task(build, chrootname), settings.results_url)


@router.get("/list", response_model=ItemList[BuildChrootOut], summary="Chroots of a build")
def list_build_chroots(db: DB, settings: AppSettings, page: Pagination, build_id: BuildIdQ) -> Any:
    build = builds.get_build(db, build_id)
    tasks = builds.chroot_tasks(build)[page.offset :]
    if page.limit is not None:
        tasks = tasks[: page.limit]
    return ItemList(
        items=[BuildChrootOut.of(build, t, settings.results_url) for t in tasks],
        meta=Meta.of(page),
    )


@router.get(
    "/build-config",
    response_model=BuildConfigOut,
    response_model_exclude_none=True,
    summary="What this chroot of the build is built with",
    description="The settings the build was submitted with (its own timeout, network, "
    "bootstrap, isolation, memory; the chroot's repos, packages, modules and bconds as "
    "they were then), not the project chroot's current ones.",
)
def get_build_chroot_config(
    db: DB, settings: AppSettings, build_id: BuildIdQ, chrootname: ChrootQ
) -> BuildConfigOut:
    build = builds.get_build(db, build_id)
    config = builds.task_config(db, build, _task(build, chrootname), settings.results_url)
    return BuildConfigOut.model_validate(config)


@router.get(
    "/build-config/{build_id}/{chrootname}",
    response_model=BuildConfigOut,
    response_model_exclude_none=True,
    deprecated=True,
    summary="What this chroot of the build is built with (use the query parameters)",
)
def get_build_chroot_config_by_path(
    db: DB, settings: AppSettings, build_id: int, chrootname: str
) -> BuildConfigOut:
    return get_build_chroot_config(db, settings, build_id, chrootname)


@router.get("/built-packages", response_model=dict[str, list[Any]])
def built_packages(db: DB, build_id: BuildIdQ, chrootname: ChrootQ) -> Any:
    build = builds.get_build(db, build_id)
    return {"packages": _task(build, chrootname).built_packages}
