"""Builds of packages in given states, for the monitor's tests: queued by the core as a
submit queues them, then moved on as the agents' reports would (the source task names
the package and links the build, each chroot task reaches its state)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from coprd.core import builds, packages, projects, users
from coprd.core.builds import BuildOptions, Source
from coprd.db.engine import write_session
from coprd.db.models import SOURCE_TASK_CHROOT, BuildState, utcnow

__all__ = ["add_build"]


def add_build(
    factory: sessionmaker[Session],
    owner: str,
    project: str,
    package: str,
    states: Mapping[str, BuildState],
    *,
    version: str = "1.0-1",
    dirname: str | None = None,
    cancel: bool = False,
    by: str | None = None,
) -> int:
    """A build of ``package`` into the chroots named in ``states``, each task in its state;
    ``cancel`` marks the tasks canceled by the user (an agent may still be stopping them);
    ``by`` submits it (default: the owner). Returns the build's id."""
    with write_session(factory) as session:
        target = projects.get_project(session, owner, project)
        submitter = users.get_user(session, by or owner)
        build = builds.queue_build(
            session,
            submitter,
            target,
            Source(type="url", data={"url": f"https://example.test/{package}.src.rpm"}),
            BuildOptions(chroots=list(states), project_dirname=dirname),
        )
        session.flush()
        start = utcnow() - dt.timedelta(minutes=5)
        build.pkg_name = package
        build.pkg_version = version
        for task in build.tasks:
            if task.chroot_name == SOURCE_TASK_CHROOT:
                task.state = BuildState.succeeded
                task.started_on = start
                task.ended_on = start
                continue
            task.state = states[task.chroot_name]
            task.cancel_requested = cancel
            if task.state not in (BuildState.pending, BuildState.waiting, BuildState.skipped):
                task.started_on = start
            if task.state in builds.TERMINAL:
                task.ended_on = utcnow()
        packages.link_build(session, build)
        builds.refresh_build(session, build)
        return build.id
