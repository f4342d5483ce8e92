"""The publisher: turns finished tasks and enabled chroots into published repositories.

It runs where the results store is (inside ``coprd serve`` for the embedded default) and
is the only writer of repodata; ``createrepo.update_repo`` holds a per-repository lock,
so several frontend processes on one shared store stay correct.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from coprd.core.builds import chroot_tasks
from coprd.core.results import REPOS_WANTED, repo_dir, task_dir
from coprd.db.models import Build, BuildState
from coprd.publish.createrepo import CreaterepoFailed, ensure_repo, update_repo
from coprd.publish.logs import finish_build_dir
from coprd.publish.store import LocalStore

log = logging.getLogger("coprd.publish")


class Publisher:
    def __init__(self, results_dir: Path) -> None:
        results_dir.mkdir(parents=True, exist_ok=True)
        self.store = LocalStore(results_dir)

    def path(self, rel: str) -> Path:
        return self.store.local_path(rel)

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Make the repositories that committed transactions asked for (``want_repo``)."""

        @event.listens_for(factory, "after_commit")
        def _made(session: Session) -> None:
            for rel in sorted(session.info.pop(REPOS_WANTED, ())):
                try:
                    ensure_repo(self.path(rel))
                except (CreaterepoFailed, OSError, ValueError):
                    log.exception("could not create the repository %s", rel)

        @event.listens_for(factory, "after_rollback")
        def _dropped(session: Session) -> None:
            session.info.pop(REPOS_WANTED, None)

    def publish_build(self, repo_rel: str, build_rel: str) -> None:
        """Index a finished chroot build into its repository; raises CreaterepoFailed."""
        finish_build_dir(self.path(build_rel))
        update_repo(self.path(repo_rel))

    def publish_prebuilt(self, build: Build, rpm: Path, name: str) -> None:
        """Put an uploaded binary RPM into each chroot it was accepted for, and index it."""
        for task in chroot_tasks(build):
            if task.state == BuildState.succeeded:
                directory = str(task_dir(build, task))
                self.store.put_file(f"{directory}/{name}", rpm)
                self.publish_build(str(repo_dir(build, task.chroot_name)), directory)

    def close_source(self, build_rel: str) -> None:
        directory = self.path(build_rel)
        if directory.is_dir():
            finish_build_dir(directory)
