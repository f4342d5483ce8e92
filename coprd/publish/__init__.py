"""Publishing results: the results store, repository metadata, finished build directories.

Knows nothing of the database: callers say which directory to publish.
"""

from coprd.publish.builddir import finish_build_dir
from coprd.publish.createrepo import (
    CreaterepoFailed,
    RepoUpdate,
    ensure_repo,
    repodata_problems,
    update_repo,
)
from coprd.publish.store import Entry, LocalStore, Readable, ResultsStore, UnsafePath

__all__ = [
    "CreaterepoFailed",
    "Entry",
    "LocalStore",
    "Readable",
    "RepoUpdate",
    "ResultsStore",
    "UnsafePath",
    "ensure_repo",
    "finish_build_dir",
    "repodata_problems",
    "update_repo",
]
