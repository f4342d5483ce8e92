"""The publisher: turns finished tasks and enabled chroots into published repositories.

It runs where the results store is (inside ``coprd serve`` for the embedded default) and
is the only writer of repodata; ``createrepo.update_repo`` holds a per-repository lock,
so several frontend processes on one shared store stay correct.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from coprd.core.builds import chroot_tasks
from coprd.core.results import REPOS_WANTED, RESULTS_UNWANTED, repo_dir, task_dir
from coprd.db.models import SOURCE_TASK_CHROOT, Build, BuildState
from coprd.publish._fs import remove_tree
from coprd.publish.builddir import (
    drop_packages,
    finish_build_dir,
    pending_name,
    reveal_packages,
)
from coprd.publish.createrepo import STAGING_PREFIX, CreaterepoFailed, ensure_repo, update_repo
from coprd.publish.store import LocalStore

log = logging.getLogger("coprd.publish")


class Publisher:
    def __init__(self, results_dir: Path) -> None:
        results_dir.mkdir(parents=True, exist_ok=True)
        self.store = LocalStore(results_dir)

    def path(self, rel: str) -> Path:
        return self.store.local_path(rel)

    def attach(self, factory: sessionmaker[Session]) -> None:
        """After each commit, make the repositories the transaction asked for
        (``want_repo``) and remove the results of what it deleted (``unwant_*``)."""

        @event.listens_for(factory, "after_commit")
        def _made(session: Session) -> None:
            for rel in sorted(session.info.pop(REPOS_WANTED, ())):
                try:
                    ensure_repo(self.path(rel))
                except (CreaterepoFailed, OSError, ValueError):
                    log.exception("could not create the repository %s", rel)
            gone = session.info.pop(RESULTS_UNWANTED, ())
            if gone:
                self.remove(gone)

        @event.listens_for(factory, "after_rollback")
        def _dropped(session: Session) -> None:
            session.info.pop(REPOS_WANTED, None)
            session.info.pop(RESULTS_UNWANTED, None)

    def remove(self, rels: Iterable[str]) -> None:
        """Remove results of deleted builds and projects (``core.results.unwant_*``).

        A chroot build (``owner/project/chroot/00000042-hello``) leaves its repository's
        metadata before its files go (``update_repo(remove=…)``), so dnf is never told of
        a package that is gone; anything else (a source step's directory, a whole project)
        just goes. Failures are logged: the database no longer knows these files.
        """
        by_repo: dict[str, list[str]] = defaultdict(list)
        for rel in sorted(set(rels)):
            parts = PurePosixPath(rel).parts
            if len(parts) == 4 and parts[2] != SOURCE_TASK_CHROOT:
                by_repo[str(PurePosixPath(*parts[:3]))].append(parts[3])
            else:
                path = self.path(rel)
                if path.exists():
                    remove_tree(path)
        for repo, names in by_repo.items():
            path = self.path(repo)
            try:
                if path.is_dir():
                    update_repo(path, remove=names)
            except (CreaterepoFailed, OSError, ValueError):
                log.exception("could not remove %s from the repository %s", names, repo)

    def result_file(self, build_rel: str, name: str) -> Path:
        """Where an agent's upload of ``name`` for a running task is stored."""
        directory = self.path(build_rel)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / pending_name(name)

    def publish_build(self, repo_rel: str, build_rel: str) -> None:
        """Index a succeeded chroot build into its repository; raises CreaterepoFailed.

        Safe to repeat: an agent that lost the server mid-publish sends its finish again.
        """
        directory = self.path(build_rel)
        reveal_packages(directory)
        finish_build_dir(directory)
        update_repo(self.path(repo_rel))

    def close(self, build_rel: str, *, succeeded: bool) -> None:
        """End a task that is not published into a repository: a source task, or a chroot
        build that failed or was canceled (its packages are dropped)."""
        directory = self.path(build_rel)
        if not directory.is_dir():
            return
        if succeeded:
            reveal_packages(directory)
        else:
            drop_packages(directory)
        finish_build_dir(directory)

    def repair(self) -> int:
        """Finish what a crash interrupted: every chroot repository with a leftover staging
        directory (the server died during a publish) is updated again, so its metadata
        is complete and names every package on disk. Returns the repositories updated.

        Cheap when nothing crashed: one directory listing per repository.
        """
        repaired = 0
        root = self.path("")
        for staging in sorted(root.glob(f"*/*/*/{STAGING_PREFIX}*")):
            repo = staging.parent
            if not staging.exists():  # an earlier update of the same repo removed it
                continue
            try:
                update_repo(repo)
            except (CreaterepoFailed, OSError) as exc:
                log.error("could not repair the repository %s: %s", repo, exc)
                continue
            log.info("repaired the repository %s after an interrupted publish", repo)
            repaired += 1
        return repaired

    def publish_prebuilt(self, build: Build, rpm: Path, name: str) -> None:
        """Put an uploaded binary RPM into each chroot it was accepted for, and index it."""
        for task in chroot_tasks(build):
            if task.state == BuildState.succeeded:
                directory = str(task_dir(build, task))
                self.store.put_file(f"{directory}/{name}", rpm)
                self.publish_build(str(repo_dir(build, task.chroot_name)), directory)
