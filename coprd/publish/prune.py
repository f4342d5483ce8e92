"""The pruner's file side: removing old results from their repositories, and the record.

``core/pruning.py`` decides which chroot builds' results go; :class:`ResultsPruner` removes
them the way every removal from a repository goes (``createrepo.update_repo(remove=…)``,
under the repository's lock, so the new metadata is live before the files go and no
client is told of a package that is gone), then leaves a record of each run:

* a log line per removed build (logger ``coprd.prune``, in the server's log), and
* a file per run that removed anything, ``<data_dir>/prune-log/<UTC time>.jsonl``: one
  JSON object per removed build (build id, owner, project directory, chroot, package,
  state, when it ended, the directory that went).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from coprd.core.pruning import PrunedResult
from coprd.db.models import utcnow
from coprd.publish._fs import write_bytes_atomically
from coprd.publish.createrepo import CreaterepoFailed, update_repo
from coprd.publish.publisher import Publisher

log = logging.getLogger("coprd.prune")

PRUNE_LOG_DIR = "prune-log"


class ResultsPruner:
    """``core.pruning.RemoveResults`` for a publisher's results store."""

    def __init__(self, publisher: Publisher, log_dir: Path) -> None:
        self.publisher = publisher
        self.log_dir = log_dir

    def __call__(self, results: Sequence[PrunedResult]) -> list[PrunedResult]:
        """Remove these builds' directories from their repositories; returns those that
        are gone (removed now, or already missing). A repository whose update fails
        keeps all of its builds, and they are returned to no one: the next run retries."""
        by_repo: dict[str, list[PrunedResult]] = defaultdict(list)
        for result in results:
            by_repo[result.repo].append(result)
        gone: list[PrunedResult] = []
        removed: list[PrunedResult] = []
        for repo, pruned in sorted(by_repo.items()):
            repo_dir = self.publisher.path(repo)
            present = [result for result in pruned if (repo_dir / result.name).is_dir()]
            if present:
                try:
                    update_repo(repo_dir, remove=[result.name for result in present])
                except (CreaterepoFailed, OSError, ValueError):
                    log.exception("could not prune %d build(s) from %s", len(present), repo)
                    continue
            for result in present:
                log.info(
                    "pruned %s/%s (build %d, %s, ended %s)",
                    repo,
                    result.name,
                    result.build_id,
                    result.state.value,
                    result.ended_on.isoformat(timespec="seconds"),
                )
            removed += present
            gone += pruned
        if removed:
            self.write_record(removed)
        return gone

    def write_record(self, removed: Sequence[PrunedResult]) -> Path:
        """The run's file in the log directory; returns its path."""
        now = utcnow()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}.jsonl"
        lines = [
            json.dumps(
                {
                    "pruned_on": now.isoformat(timespec="seconds"),
                    "build_id": result.build_id,
                    "owner": result.owner,
                    "project_dirname": result.dirname,
                    "chroot": result.chroot,
                    "package": result.package,
                    "state": result.state.value,
                    "ended_on": result.ended_on.isoformat(timespec="seconds"),
                    "path": result.path,
                },
                sort_keys=True,
            )
            for result in removed
        ]
        write_bytes_atomically(path, ("\n".join(lines) + "\n").encode())
        return path
