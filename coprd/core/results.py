"""Where a build's results live, relative to the results root (DESIGN.md's layout).

``<owner>/<dirname>/srpm-builds/<build_id:08d>/`` for the source task and
``<owner>/<dirname>/<chroot>/<build_id:08d>-<package>/`` for a chroot; the chroot's
repository is ``<owner>/<dirname>/<chroot>/``. Every component was checked against the
name patterns of ``core/names.py`` when it was stored.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from coprd.core.errors import InvalidInput
from coprd.db.models import SOURCE_TASK_CHROOT, Build, BuildTask

LIVE_LOG = "builder-live.log"
BACKEND_LOG = "backend.log"
BUILD_INFO = "build.info"
SUCCESS = "success"
SERVER_FILES = frozenset(
    {LIVE_LOG, f"{LIVE_LOG}.gz", BACKEND_LOG, f"{BACKEND_LOG}.gz", BUILD_INFO, SUCCESS}
)
"""What the server itself writes into a task's directory, as Copr's backend does: the live
log, its own log of the task, who built it (``build.info``) and the ``success`` marker.
No agent uploads these, and they count in no result limit."""
_FILE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+~^-]{0,254}")


def project_dir(build: Build) -> PurePosixPath:
    return PurePosixPath(build.project.owner_name, build.project_dirname)


def task_dir(build: Build, task: BuildTask) -> PurePosixPath:
    if task.chroot_name == SOURCE_TASK_CHROOT:
        return project_dir(build) / SOURCE_TASK_CHROOT / f"{build.id:08d}"
    owner, dirname = build.project.owner_name, build.project_dirname
    return PurePosixPath(
        chroot_result_dir(owner, dirname, task.chroot_name, build.id, build.pkg_name)
    )


def chroot_result_dir(
    owner: str, dirname: str, chroot: str, build_id: int, pkg_name: str | None
) -> str:
    """A chroot task's directory, from the values of its build, as a string: for callers
    that read builds as rows and name many directories at once (each component is a
    checked name, so joining them is safe)."""
    return f"{owner}/{dirname}/{chroot}/{build_id:08d}-{pkg_name or 'unknown'}"


def repo_dir(build: Build, chroot: str) -> PurePosixPath:
    return project_dir(build) / chroot


def check_result_file(name: str) -> str:
    """A file name an agent may upload into a task's directory: none of
    :data:`SERVER_FILES` (the live log is written, and cut, by the server: see
    ``core/limits.py``)."""
    if not _FILE.fullmatch(name) or name.endswith((".tmp", ".part")):
        raise InvalidInput(f"{name[:80]!r} is not an acceptable result file name", "name")
    if name in SERVER_FILES:
        raise InvalidInput(f"{name} is written by the server, not uploaded", "name")
    return name


REPOS_WANTED = "coprd_repos_wanted"


def want_repo(
    session: Session,
    build_or_project: tuple[str, str],
    chroot: str,
    *,
    devel: bool,
) -> None:
    """Ask for a (possibly empty) repository for a chroot once this transaction commits,
    in devel mode or out of it as the project is (``devel``, see
    ``publish/createrepo.py``; the last wish of the transaction holds).

    The core only records the wish; the publisher, which owns the results store, makes
    the repository after the commit, so a rolled-back enable leaves nothing behind.
    """
    owner, dirname = build_or_project
    wanted: dict[str, bool] = session.info.setdefault(REPOS_WANTED, {})
    wanted[str(PurePosixPath(owner, dirname, chroot))] = devel


REPOS_REGENERATED = "coprd_repos_regenerated"


def want_regenerated(
    session: Session, build_or_project: tuple[str, str], chroot: str, *, devel: bool
) -> None:
    """Ask for a chroot repository's metadata to be rebuilt from what is on disk once
    this transaction commits: the main metadata and, with ``devel`` (the project is in
    devel mode), the devel one; without it a devel repository left behind goes."""
    owner, dirname = build_or_project
    wanted: dict[str, bool] = session.info.setdefault(REPOS_REGENERATED, {})
    wanted[str(PurePosixPath(owner, dirname, chroot))] = devel


COMPS_CHANGED = "coprd_comps_changed"


def want_comps(
    session: Session, owner: str, dirname: str, chroot: str, content: bytes | None
) -> None:
    """Ask for the chroot repository's ``comps.xml`` to be ``content`` (None: no comps)
    and its metadata to carry it as the group file, once this transaction commits."""
    changed: dict[str, bytes | None] = session.info.setdefault(COMPS_CHANGED, {})
    changed[str(PurePosixPath(owner, dirname, chroot))] = content


RESULTS_UNWANTED = "coprd_results_unwanted"


BUILDS_DELETED = "coprd_builds_deleted"


def unwant_build(session: Session, build: Build) -> None:
    """Ask for a deleted build's results to go once this transaction commits: each chroot
    build leaves its repository's metadata first, then the disk; the source step's
    directory just goes. Its upload, if one is still kept, goes too (``uploads.attach``)."""
    gone: set[str] = session.info.setdefault(RESULTS_UNWANTED, set())
    gone.update(str(task_dir(build, task)) for task in build.tasks)
    deleted: set[int] = session.info.setdefault(BUILDS_DELETED, set())
    deleted.add(build.id)


def unwant_project(session: Session, owner: str, dirname: str) -> None:
    """Ask for a deleted project's whole results tree to go once this transaction commits."""
    gone: set[str] = session.info.setdefault(RESULTS_UNWANTED, set())
    gone.add(str(PurePosixPath(owner, dirname)))


FORKS_WANTED = "coprd_forks_wanted"


def want_fork_copy(session: Session, build_id: int) -> None:
    """Ask for a forked build's results to be copied from the build it was forked from
    once this transaction commits (see ``core/forks.py``)."""
    wanted: set[int] = session.info.setdefault(FORKS_WANTED, set())
    wanted.add(build_id)
