"""The pruner's rule: which old build results go, so repositories do not grow forever.

A chroot build's results (its directory ``<owner>/<dirname>/<chroot>/<id>-<package>/``:
packages and logs) are pruned when all of these hold:

* its project has ``auto_prune`` on, is not ``persistent`` and is not in devel mode
  (``devel_mode``, which the old APIs call ``disable_createrepo``), the projects Copr's
  pruner skips too;
* the chroot build ended more than ``prune_days`` days ago (the setting; 14 by default);
* it is neither the latest **succeeded** build of its package in that chroot of that project
  directory (whose packages stay in the repository), nor the latest **finished** one (whose
  logs the monitor and the package page link to). A package's builds are those linked to
  it (``package_id``) with the same RPM name: a package whose spec was renamed keeps the
  latest of each name, and two packages building one RPM name each keep theirs.

Copr's pruner (``prunerepo``) keeps the newest version of each RPM *name* and removes what
is older, which surprises its users: a package whose latest build has a lower version loses
it, and an uploaded RPM goes once something newer of that name exists. Here the unit is the
Copr package and "latest" is the order of the builds, whatever their versions, so the last
good build of every package stays installable. A build that is neither (a failure, a
success since rebuilt) goes after the grace period. The source step (``srpm-builds``) is
left alone, as Copr's pruner leaves it.

As on Copr the build stays in the database, with its state: only its results go. Its
chroot task's ``pruned_on`` says when, so no later run looks at it again.

The files are removed by the publisher, which owns the repositories (``publish/prune.py``):
:func:`prune` asks it, then records what went. ``core/cleanup.py`` runs it every hour and
from ``coprd cleanup``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from coprd.core.builds import TERMINAL
from coprd.core.results import chroot_result_dir
from coprd.db.engine import write_session
from coprd.db.models import SOURCE_TASK_CHROOT, Build, BuildState, BuildTask, Project, utcnow

DEFAULT_PRUNE_DAYS = 14
# What counts as a good build whose packages are in the repository (a fork's copy too).
_GOOD = (BuildState.succeeded, BuildState.forked)


@dataclass(frozen=True)
class PrunedResult:
    """One chroot build whose results are to go, or went."""

    task_id: int
    build_id: int
    owner: str
    dirname: str
    chroot: str
    package: str | None
    state: BuildState
    ended_on: dt.datetime

    @property
    def path(self) -> str:
        """The build's directory, relative to the results root (``core/results.task_dir``)."""
        return chroot_result_dir(self.owner, self.dirname, self.chroot, self.build_id, self.package)

    @property
    def repo(self) -> str:
        """The chroot's repository, relative to the results root."""
        return self.path.rpartition("/")[0]

    @property
    def name(self) -> str:
        """The build's directory in the repository."""
        return self.path.rpartition("/")[2]


RemoveResults = Callable[[Sequence[PrunedResult]], Sequence[PrunedResult]]
"""Removes these builds' results from their repositories; returns those that are gone."""


def _prunable_project() -> list[ColumnElement[bool]]:
    return [
        Project.auto_prune.is_(True),
        Project.persistent.is_(False),
        Project.devel_mode.is_(False),
    ]


def find_prunable(
    session: Session, *, days: int = DEFAULT_PRUNE_DAYS, now: dt.datetime | None = None
) -> list[PrunedResult]:
    """Every chroot build whose results the rule (module docstring) says go now."""
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    ended = func.coalesce(BuildTask.ended_on, Build.ended_on)
    rows = session.execute(
        select(
            BuildTask.id,
            Build.id,
            Build.project_id,
            Project.owner_name,
            Build.project_dirname,
            BuildTask.chroot_name,
            Build.package_id,
            Build.pkg_name,
            BuildTask.state,
            ended,
        )
        .join(Build, Build.id == BuildTask.build_id)
        .join(Project, Project.id == Build.project_id)
        .where(
            BuildTask.pruned_on.is_(None),
            BuildTask.chroot_name != SOURCE_TASK_CHROOT,
            BuildTask.state.in_(TERMINAL),
            ended < cutoff,
            *_prunable_project(),
        )
        .order_by(BuildTask.id)
    ).all()
    if not rows:
        return []
    kept = _latest_builds(session, {row[2] for row in rows})
    return [
        PrunedResult(
            task_id=task_id,
            build_id=build_id,
            owner=owner,
            dirname=dirname,
            chroot=chroot,
            package=package,
            state=state,
            ended_on=ended_on,
        )
        for (
            task_id,
            build_id,
            project_id,
            owner,
            dirname,
            chroot,
            package_id,
            package,
            state,
            ended_on,
        ) in rows
        if build_id not in kept.get((project_id, dirname, chroot, package_id, package), ())
    ]


_Group = tuple[int, str, str, int | None, str | None]


def _latest_builds(session: Session, project_ids: Iterable[int]) -> dict[_Group, set[int]]:
    """The builds kept in each (project, directory, chroot, package, RPM name): its latest
    good one and its latest finished one. Two grouped queries for all the projects at
    once."""
    group = (
        Build.project_id,
        Build.project_dirname,
        BuildTask.chroot_name,
        Build.package_id,
        Build.pkg_name,
    )
    ids = sorted(project_ids)
    kept: dict[_Group, set[int]] = {}
    for states in (_GOOD, tuple(TERMINAL)):
        for project_id, dirname, chroot, package_id, package, latest in session.execute(
            select(*group, func.max(Build.id))
            .join(BuildTask, BuildTask.build_id == Build.id)
            .where(
                Build.project_id.in_(ids),
                BuildTask.chroot_name != SOURCE_TASK_CHROOT,
                BuildTask.state.in_(states),
            )
            .group_by(*group)
        ):
            kept.setdefault((project_id, dirname, chroot, package_id, package), set()).add(latest)
    return kept


def mark_pruned(session: Session, task_ids: Sequence[int], now: dt.datetime) -> None:
    """Record that these chroot tasks' results are gone (their builds stay)."""
    for start in range(0, len(task_ids), 500):
        session.execute(
            update(BuildTask)
            .where(BuildTask.id.in_(task_ids[start : start + 500]))
            .values(pruned_on=now)
        )
    session.flush()


def prune(
    factory: sessionmaker[Session],
    remove: RemoveResults,
    *,
    days: int = DEFAULT_PRUNE_DAYS,
    now: dt.datetime | None = None,
) -> list[PrunedResult]:
    """One run: find what goes, have ``remove`` (the publisher) remove it, record what went.

    No transaction is held while the repositories are rewritten. Results whose removal
    failed are not recorded, so the next run tries them again; a crash after the removal
    leaves them unrecorded too, and the next run finds their directories gone and records
    them then.
    """
    now = now or utcnow()
    with factory() as session:
        found = find_prunable(session, days=days, now=now)
    if not found:
        return []
    gone = list(remove(found))
    if gone:
        with write_session(factory) as session:
            mark_pruned(session, [result.task_id for result in gone], now)
    return gone
