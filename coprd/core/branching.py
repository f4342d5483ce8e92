"""Branching a Fedora release from rawhide (Copr's ``branch-fedora`` and
``rawhide-to-release``), for the projects that follow Fedora branching.

For each architecture of the active ``fedora-rawhide-<arch>`` chroots, the new release's
chroot (``fedora-46-<arch>``) is added, or activated if it exists, with rawhide's comment.
(Copr's ``branch-fedora`` adds them deactivated and an admin activates them later with
``alter-chroot``; here they are usable at once, and ``coprd chroot deactivate`` is there.)
Then, in every project that has ``follow_fedora_branching`` on and the rawhide chroot
enabled:

- the new chroot is enabled with the rawhide project chroot's settings (buildroot
  packages, repos, modules, comps, with/without options, isolation, bootstrap, timeout,
  …), unless it is enabled already;
- the newest build of each package whose rawhide chroot succeeded, in each of the
  project's directories (CoprDirs included, as on Copr), gets a chroot build in the new
  chroot, in state ``forked``, carrying the rawhide chroot build's times, packages and
  configuration (``forks.forked_task``, as a fork's copies).

This module only records; after the commit the publisher copies each rawhide result
directory into the new chroot, signs the packages and indexes every new repository once
(``Publisher.copy_results``, the same path a fork's copies take). A project without
builds to copy gets an empty repository. Running it again adds nothing, and hands back
the copies whose directories are still missing (a run that stopped half-way), so that
they are finished. Projects that do not follow branching are left alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from coprd.core.chroots import add_mock_chroot, split_chroot_name
from coprd.core.errors import InvalidInput, NotFound
from coprd.core.forks import CHROOT_COLUMNS, forked_task
from coprd.core.names import check_chroot_name
from coprd.core.results import repo_dir, task_dir, want_repo
from coprd.db.models import Build, BuildState, BuildTask, MockChroot, Project, ProjectChroot

RAWHIDE = "fedora-rawhide"


class Copy(NamedTuple):
    """One task directory to copy: results-relative paths, and the target repository
    (what ``Publisher.copy_results`` takes)."""

    build_id: int
    source: str
    target: str
    repo: str


@dataclass
class Branched:
    """What ``branch_release`` did (and what the publisher must still do)."""

    chroots_added: list[str] = field(default_factory=list)
    chroots_activated: list[str] = field(default_factory=list)
    projects_enabled: list[str] = field(default_factory=list)
    """``owner/project chroot`` for each newly enabled project chroot."""
    builds_forked: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    """``owner/project chroot`` → the builds given a chroot build in it by this run."""
    copies: list[Copy] = field(default_factory=list)
    """Every forked chroot build's result directory, this run's and earlier runs': the
    publisher copies those not in place yet (a run that stopped half-way)."""


def release_of(text: str) -> str:
    """``fedora-46`` (or just ``46``, as Copr's ``branch-fedora`` takes it) → the release
    name without an architecture; InvalidInput if it is not one."""
    name = f"fedora-{text}" if text.isascii() and text.isdigit() else text
    try:
        release, version, _arch = split_chroot_name(f"{name}-x86_64")
    except InvalidInput:
        raise InvalidInput(f"{text!r} is not a release name such as fedora-46") from None
    if f"{release}-{version}" != name:
        raise InvalidInput(f"{text!r} is not a release name such as fedora-46")
    return name


def branch_release(session: Session, source: str, target: str) -> Branched:
    """Branch release ``target`` (``fedora-46``) from ``source`` (``fedora-rawhide``) for
    every architecture of ``source``; see the module docstring."""
    source, target = release_of(source), release_of(target)
    if source == target:
        raise InvalidInput(f"cannot branch {source} from itself")
    arches = set(session.scalars(select(MockChroot.arch).distinct()))
    for name in (source, target):
        if name.rpartition("-")[2] in arches:
            release = name.rpartition("-")[0]
            raise InvalidInput(f"{name!r} is a chroot; name the release ({release})")
    rawhides = [
        mc
        for mc in session.scalars(
            select(MockChroot)
            .where(MockChroot.is_active.is_(True), MockChroot.name.like(f"{source}-%"))
            .order_by(MockChroot.name)
        )
        if f"{mc.os_release}-{mc.os_version}" == source
    ]
    if not rawhides:
        raise NotFound(f"no active chroot {source}-<arch> to branch from")
    done = Branched()
    for rawhide in rawhides:
        new = _release_chroot(session, rawhide, f"{target}-{rawhide.arch}", done)
        _branch_chroot(session, rawhide, new, done)
    session.flush()
    return done


def _release_chroot(session: Session, rawhide: MockChroot, name: str, done: Branched) -> MockChroot:
    check_chroot_name(name)
    chroot = session.scalar(select(MockChroot).where(MockChroot.name == name))
    if chroot is None:
        chroot = add_mock_chroot(session, name, comment=rawhide.comment)
        done.chroots_added.append(name)
    elif not chroot.is_active:
        chroot.is_active = True
        chroot.eol_on = None
        chroot.comment = rawhide.comment
        done.chroots_activated.append(name)
    return chroot


def _branch_chroot(session: Session, rawhide: MockChroot, new: MockChroot, done: Branched) -> None:
    projects = session.scalars(
        select(Project)
        .join(ProjectChroot, ProjectChroot.project_id == Project.id)
        .where(
            Project.follow_fedora_branching.is_(True),
            ProjectChroot.mock_chroot_id == rawhide.id,
        )
        .order_by(Project.id)
        .options(selectinload(Project.chroots).selectinload(ProjectChroot.mock_chroot))
    ).all()
    if not projects:
        return
    by_id = {project.id: project for project in projects}
    for project in projects:
        chroots = {pc.mock_chroot_id: pc for pc in project.chroots}
        if new.id not in chroots:
            settings = chroots[rawhide.id]
            project.chroots.append(
                ProjectChroot(
                    mock_chroot=new,
                    **{column: getattr(settings, column) for column in CHROOT_COLUMNS},
                )
            )
            done.projects_enabled.append(f"{project.full_name} {new.name}")

    # The newest build of each package whose rawhide chroot succeeded, per directory: one
    # query for all the projects.
    newest = (
        select(func.max(Build.id))
        .join(BuildTask, BuildTask.build_id == Build.id)
        .where(
            Build.project_id.in_(list(by_id)),
            Build.pkg_name.is_not(None),
            BuildTask.chroot_name == rawhide.name,
            BuildTask.state == BuildState.succeeded,
        )
        .group_by(Build.project_id, Build.project_dirname, Build.pkg_name)
    )
    builds = session.scalars(
        select(Build)
        .where(Build.id.in_(newest))
        .order_by(Build.id)
        .options(selectinload(Build.tasks), selectinload(Build.project))
    ).all()
    for build in builds:
        tasks = {task.chroot_name: task for task in build.tasks}
        original = tasks[rawhide.name]
        copy = tasks.get(new.name)
        if copy is None:
            copy = forked_task(
                original,
                chroot_name=new.name,
                owner_name=original.owner_name,
                message=f"forked from {rawhide.name} when {new.os_release}-"
                f"{new.os_version} was branched",
            )
            build.tasks.append(copy)
            done.builds_forked[f"{build.project.full_name} {new.name}"].append(build.id)
        elif copy.state != BuildState.forked:
            continue  # built in the new chroot itself: nothing to copy
        done.copies.append(
            Copy(
                build.id,
                str(task_dir(build, original)),
                str(task_dir(build, copy)),
                str(repo_dir(build, new.name)),
            )
        )
    # An empty repository where nothing is copied (the copies' update_repo makes the
    # others: one createrepo_c run per new repository). A project in devel mode gets its
    # devel/ repository before the copies, as every chroot it enables does: its builds'
    # buildroots name it, and the copies are indexed into it, not into the main one.
    filled = {copy.repo for copy in done.copies}
    for project in projects:
        rel = f"{project.owner_name}/{project.name}/{new.name}"
        if project.devel_mode or rel not in filled:
            want_repo(
                session, (project.owner_name, project.name), new.name, devel=project.devel_mode
            )
