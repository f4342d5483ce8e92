"""Forking a project: a copy of its settings, chroots and packages, and of the newest
successful build of each package in each chroot, under another owner or name.

As on Copr, the copy happens in two steps. This module, in one transaction, makes the
destination project (or, with ``confirm``, reuses one the actor may edit) and records one
build per copied source build, in state ``forked``, with ``forked_from_id`` naming the
original. After the commit the publisher copies those builds' result directories, signs
the packages with the destination project's key and indexes them
(``Publisher.copy_forks``); a server that stops half-way finishes the copies at its next
start. Until then a forked build is listed but its repository lacks its packages: what
``copr-cli fork`` warns about ("it may take a few minutes to duplicate backend data").

What is not copied, as on Copr: the webhook secret (a new one is made), ``persistent``,
``auto_prune`` and ``contact``, permissions, builds that never succeeded, and builds of
the project's other directories (``demo:pr:4``).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from coprd.core.builds import TERMINAL
from coprd.core.errors import InvalidInput, NotAuthenticated
from coprd.core.names import check_owner_name, check_project_name
from coprd.core.permissions import Action, require
from coprd.core.projects import get_project, resolve_owner, search_text
from coprd.core.results import want_fork_copy, want_repo
from coprd.core.tokens import new_webhook_secret
from coprd.db.models import (
    SOURCE_TASK_CHROOT,
    Build,
    BuildState,
    BuildTask,
    Package,
    Project,
    ProjectChroot,
    User,
)

# Project columns a fork takes over; the rest are the fork's own (identity, owner,
# dates, secrets) or, as on Copr, deliberately not inherited.
_PROJECT_COLUMNS = (
    "description",
    "instructions",
    "homepage",
    "additional_repos",
    "unlisted_on_hp",
    "enable_net",
    "bootstrap",
    "bootstrap_image",
    "isolation",
    "devel_mode",
    "module_hotfixes",
    "appstream",
    "runtime_dependencies",
    "packit_forge_projects_allowed",
    "repo_priority",
    "storage",
    "delete_after",
    "multilib",
    "follow_fedora_branching",
    "fedora_review",
)
# A project chroot's settings: what a fork, and a release branched from rawhide
# (core/branching.py), take over.
CHROOT_COLUMNS = (
    "buildroot_pkgs",
    "repos",
    "modules",
    "comps_name",
    "comps",
    "with_opts",
    "without_opts",
    "isolation",
    "bootstrap",
    "bootstrap_image",
    "timeout",
    "delete_after_days",
)
_PACKAGE_COLUMNS = ("source_type", "source_json", "max_builds", "timeout", "chroot_denylist")
_BUILD_COLUMNS = (
    "submitter_id",
    "source_type",
    "source_json",
    "pkg_name",
    "pkg_version",
    "srpm_name",
    "is_background",
    "timeout",
    "memory_limit",
    "enable_net",
    "bootstrap",
    "isolation",
    "submitted_on",
    "started_on",
    "ended_on",
)
# A chroot build that can be copied: one that published packages.
_COPIED_STATES = (BuildState.succeeded, BuildState.forked)


def fork_project(
    session: Session,
    actor: User | None,
    source: Project,
    ownername: str,
    name: str,
    *,
    confirm: bool = False,
) -> tuple[Project, bool]:
    """Fork ``source`` into ``ownername/name``; returns the destination and whether it
    was created. An existing destination is refused unless ``confirm`` is given (then its
    packages are updated from the source, and the actor must be allowed to edit it)."""
    if actor is None:
        raise NotAuthenticated("forking a project requires an API token")
    check_owner_name(ownername)
    check_project_name(name)
    if (ownername, name) == (source.owner_name, source.name):
        raise InvalidInput("the source project cannot be its own fork", "name")
    owner, group_id = resolve_owner(session, actor, ownername)
    exists = session.scalar(
        select(Project.id).where(Project.owner_name == ownername, Project.name == name)
    )
    if exists is not None:
        if not confirm:
            # 400, as on Copr: the request lacks its confirmation.
            raise InvalidInput(
                f"You are about to fork into an existing project: {ownername}/{name}\n"
                "Please use --confirm if you really want to do this"
            )
        destination = get_project(session, ownername, name)
        require(session, actor, Action.edit, destination)
        created = False
    else:
        destination = _copy_project(session, source, ownername, name, owner, group_id)
        created = True
    _copy_builds(session, source, destination)
    return destination, created


def _copy_project(
    session: Session,
    source: Project,
    ownername: str,
    name: str,
    owner: User,
    group_id: int | None,
) -> Project:
    fork = Project(
        name=name,
        owner_name=ownername,
        user_id=owner.id,
        group_id=group_id,
        webhook_secret=new_webhook_secret(),
        forked_from_id=source.id,
        **{column: getattr(source, column) for column in _PROJECT_COLUMNS},
    )
    fork.search_text = search_text(ownername, name, fork.description)
    chroots = session.scalars(
        select(ProjectChroot)
        .where(ProjectChroot.project_id == source.id)
        .options(selectinload(ProjectChroot.mock_chroot))
    ).all()
    fork.chroots = [
        ProjectChroot(
            mock_chroot=pc.mock_chroot,
            **{column: getattr(pc, column) for column in CHROOT_COLUMNS},
        )
        for pc in chroots
        if pc.mock_chroot.is_active
    ]
    session.add(fork)
    session.flush()
    for pc in fork.chroots:
        want_repo(session, (ownername, name), pc.mock_chroot.name, devel=fork.devel_mode)
    return fork


def newest_copies(session: Session, project: Project) -> dict[int, list[str]]:
    """What a fork of ``project`` copies: ``{build id: [chroot, …]}``, the newest build
    of each package that succeeded (or was itself forked) in each chroot, of the
    project's main directory only."""
    rows = session.execute(
        select(Build.id, Build.pkg_name, BuildTask.chroot_name)
        .join(BuildTask, BuildTask.build_id == Build.id)
        .where(
            Build.project_id == project.id,
            Build.project_dirname == project.name,
            Build.pkg_name.is_not(None),
            BuildTask.chroot_name != SOURCE_TASK_CHROOT,
            BuildTask.state.in_(_COPIED_STATES),
        )
        .order_by(Build.id.desc())
    )
    seen: set[tuple[str | None, str]] = set()
    copies: dict[int, list[str]] = defaultdict(list)
    for build_id, pkg_name, chroot in rows:
        if (pkg_name, chroot) not in seen:
            seen.add((pkg_name, chroot))
            copies[build_id].append(chroot)
    return dict(copies)


def _copy_builds(session: Session, source: Project, destination: Project) -> None:
    enabled = {
        pc.mock_chroot.name: pc
        for pc in session.scalars(
            select(ProjectChroot)
            .where(ProjectChroot.project_id == destination.id)
            .options(selectinload(ProjectChroot.mock_chroot))
        )
    }
    packages = _copy_packages(session, source, destination)
    copies = newest_copies(session, source)
    originals = session.scalars(
        select(Build).where(Build.id.in_(copies)).options(selectinload(Build.tasks))
    ).all()
    for original in sorted(originals, key=lambda build: build.id):
        chroots = [chroot for chroot in copies[original.id] if chroot in enabled]
        if not chroots or original.state not in TERMINAL:
            continue
        fork = Build(
            project=destination,
            project_id=destination.id,
            state=BuildState.forked,
            project_dirname=destination.name,
            package_id=packages.get(original.pkg_name or ""),
            forked_from_id=original.id,
            **{column: getattr(original, column) for column in _BUILD_COLUMNS},
        )
        fork.tasks = [
            forked_task(
                task,
                chroot_name=task.chroot_name,
                owner_name=destination.owner_name,
                message=f"forked from build {original.id} of {source.full_name}",
            )
            for task in original.tasks
            if task.chroot_name == SOURCE_TASK_CHROOT or task.chroot_name in chroots
        ]
        session.add(fork)
        session.flush()
        want_fork_copy(session, fork.id)


def forked_task(task: BuildTask, *, chroot_name: str, owner_name: str, message: str) -> BuildTask:
    """A copy of ``task`` that ends as ``forked`` (in a fork, or in a release branched
    from rawhide, ``core/branching.py``): the original's times, packages and the
    configuration it was built with (whose base repository is now the copy's)."""
    return BuildTask(
        chroot_name=chroot_name,
        arch=task.arch,
        owner_name=owner_name,
        state=BuildState.forked,
        started_on=task.started_on,
        ended_on=task.ended_on,
        built_packages=list(task.built_packages),
        message=message,
        config=dict(task.config) if task.config is not None else None,
    )


def _copy_packages(session: Session, source: Project, destination: Project) -> dict[str, int]:
    """The destination's packages by name, with those of the source it lacked added."""
    have = {
        package.name: package
        for package in session.scalars(select(Package).where(Package.project_id == destination.id))
    }
    for package in session.scalars(select(Package).where(Package.project_id == source.id)):
        if package.name not in have:
            copy = Package(
                project_id=destination.id,
                name=package.name,
                webhook_rebuild=False,
                **{column: getattr(package, column) for column in _PACKAGE_COLUMNS},
            )
            session.add(copy)
            have[package.name] = copy
    session.flush()
    return {name: package.id for name, package in have.items()}
