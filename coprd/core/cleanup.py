"""Deleting what no one asked to keep, as Copr's daily cleanup does.

* **Expired projects.** A project with ``delete_after_days`` (Packit's pull-request
  projects, say) is deleted, with its builds and results, once its deadline has passed.
  Persistent projects are never deleted so.
* **Old builds.** A package with ``max_builds`` N keeps the newest N builds of each of the
  project's directories; older finished ones are deleted with their results. Unfinished
  ones are left for a later run, as Copr leaves them, and so are persistent projects'.
* **Old results.** The pruner (``core/pruning.py``) removes the results of old builds that
  are no package's latest, keeping the builds; given a remover (the publisher's
  ``publish/prune.py``), after the deletions above are committed.

``coprd serve`` runs :func:`cleanup` every hour (:func:`cleanup_forever`); ``coprd
cleanup`` runs it once. Results go after the commit, by the publisher (``core.results``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from coprd.core.builds import TERMINAL, remove_build
from coprd.core.projects import remove_project
from coprd.core.pruning import DEFAULT_PRUNE_DAYS, PrunedResult, RemoveResults, prune
from coprd.db.engine import write_session
from coprd.db.models import Build, Package, Project, utcnow

log = logging.getLogger("coprd.cleanup")

CLEANUP_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class Cleaned:
    projects: Sequence[str]
    """The full names of the expired projects deleted."""
    builds: Sequence[int]
    """The ids of the old builds deleted."""
    pruned: Sequence[PrunedResult] = field(default=())
    """The chroot builds whose results the pruner removed."""


def delete_expired_projects(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Delete every project whose ``delete_after`` has passed; returns their full names."""
    expired = session.scalars(
        select(Project)
        .where(
            Project.delete_after.is_not(None),
            Project.delete_after <= (now or utcnow()),
            Project.persistent.is_(False),
        )
        .order_by(Project.id)
    ).all()
    for project in expired:
        remove_project(session, project)
    return [project.full_name for project in expired]


def delete_old_builds(session: Session) -> list[int]:
    """Delete the finished builds each package keeps no longer (its ``max_builds``, per
    directory of the project); returns their ids."""
    crowded = session.execute(
        select(Build.package_id, Build.project_dirname, Package.max_builds)
        .join(Package, Package.id == Build.package_id)
        .join(Project, Project.id == Build.project_id)
        .where(Package.max_builds > 0, Project.persistent.is_(False))
        .group_by(Build.package_id, Build.project_dirname, Package.max_builds)
        .having(func.count(Build.id) > Package.max_builds)
    ).all()
    deleted: list[int] = []
    for package_id, dirname, keep in crowded:
        older = session.scalars(
            select(Build)
            .where(Build.package_id == package_id, Build.project_dirname == dirname)
            .order_by(Build.id.desc())
            .offset(keep)
            .options(selectinload(Build.tasks), selectinload(Build.project))
        ).all()
        for build in older:
            if build.state in TERMINAL:
                remove_build(session, build)
                deleted.append(build.id)
    session.flush()
    return sorted(deleted)


def cleanup(
    factory: sessionmaker[Session],
    now: dt.datetime | None = None,
    *,
    remove_results: RemoveResults | None = None,
    prune_days: int = DEFAULT_PRUNE_DAYS,
) -> Cleaned:
    """One run: expired projects, then old builds, in one transaction; then, with a
    ``remove_results``, the pruner."""
    with write_session(factory) as session:
        projects = delete_expired_projects(session, now)
        builds = delete_old_builds(session)
    if projects:
        log.info("deleted %d expired project(s): %s", len(projects), ", ".join(projects))
    if builds:
        log.info("deleted %d build(s) past their package's max_builds", len(builds))
    pruned: list[PrunedResult] = []
    if remove_results is not None:
        pruned = prune(factory, remove_results, days=prune_days, now=now)
        if pruned:
            log.info("pruned the results of %d old chroot build(s)", len(pruned))
    return Cleaned(projects, builds, pruned)


def cleanup_forever(
    factory: sessionmaker[Session],
    stop: threading.Event,
    interval_s: float = CLEANUP_INTERVAL_S,
    *,
    remove_results: RemoveResults | None = None,
    prune_days: int = DEFAULT_PRUNE_DAYS,
) -> None:
    """:func:`cleanup` now and every ``interval_s`` until ``stop`` is set."""
    while True:
        try:
            cleanup(factory, remove_results=remove_results, prune_days=prune_days)
        except Exception:
            log.exception("the cleanup failed; retrying in %.0f s", interval_s)
        if stop.wait(interval_s):
            return
