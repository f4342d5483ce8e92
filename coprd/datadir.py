"""The data directory, and the secrets in it private from the moment they exist.

What a data directory holds, and who may read it::

    <data_dir>/                 0711: other users may pass through to results/, not list it
      coprd.sqlite(-wal,-shm)   0600  password and token hashes, webhook secrets, sessions
      web-session.key           0600  signs the web UI's cookies
      copr-cli-admin.conf       0600  the first admin's API token
      builder-local.token       0600  the local agents' builder token
      coprd.toml                0600  may hold secret_key or a database password
      signing/                  0700 directories, 0600 files: the projects' secret keys
      uploads/                  0700 directories, 0600 files: packages not yet built
      results/                  0755 directories, 0644 files: what a web server serves
      work/                     the build directories of agents run as an ordinary user
                                (a root agent's are under /var/lib/coprd/builds, where its
                                builds' uids can reach them: Settings.agent_work_dir)
      server.url                0644  the public URL, nothing secret

Secrets are created with their final mode (``os.open(..., 0o600)``, ``mkdir(mode=0o700)``),
never written first and restricted after, so there is no moment at which another user can
open them; SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, which
is therefore created 0600 before SQLite opens it (:func:`create_private_file`).

A data directory made by an older coprd, or loosened by hand, is tightened when it is
opened (:func:`tighten`, by ``coprd serve`` and every admin command): group and other
permissions come off the secrets, and read and write permission for them off the data
directory itself. Nothing is followed: a secret's name that is a symlink is reported and
left alone, and the trees are walked through directory descriptors, so a link planted
inside them changes nothing outside. Modes are only ever narrowed, never widened.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from coprd.config import Settings

__all__ = [
    "DATA_DIR_MODE",
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "create_private_file",
    "make_data_dir",
    "make_private_dir",
    "sqlite_path",
    "tighten",
    "write_private",
]

log = logging.getLogger("coprd.datadir")

DATA_DIR_MODE = 0o711
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# The secret files directly in the data directory, and the directories whose whole tree
# is secret.
SECRET_FILES = (
    "web-session.key",
    "copr-cli-admin.conf",
    "builder-local.token",
    "coprd.toml",
)
SECRET_TREES = ("signing", "uploads")
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def make_data_dir(path: Path) -> None:
    """Create the data directory (0711) if it does not exist; its parents as usual."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=DATA_DIR_MODE, exist_ok=True)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (0700) if it does not exist; its parent must exist."""
    path.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty and 0600 unless it exists; returns whether it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` by a new 0600 file holding ``text``.

    A new file, renamed over the old one: a file that existed with a looser mode may be
    held open by someone who could read it, and would then show them the new secret too.
    A symlink at ``path`` is replaced, not followed.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite database URL; None for other databases and in-memory ones."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    name = url.database or ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def tighten(settings: Settings) -> list[str]:
    """Take group and other permissions off every secret of ``settings``' data directory
    (and of its SQLite database, wherever it is); returns what was changed, one line each,
    also logged as warnings."""
    changes: list[str] = []
    root = settings.data_dir
    try:
        # The data directory itself may be a link an administrator made; what is in it
        # is never followed.
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        root_fd = None
    if root_fd is not None:
        try:
            _narrow(root_fd, root, ~0o066 & 0o7777, changes)
            for name in SECRET_FILES:
                _narrow_entry(root_fd, name, root / name, changes)
            for name in SECRET_TREES:
                _narrow_tree(root_fd, name, root / name, changes)
        finally:
            os.close(root_fd)
    database = sqlite_path(settings.effective_database_url)
    if database is not None:
        try:
            dir_fd = os.open(database.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            dir_fd = None
        if dir_fd is not None:
            try:
                for suffix in SQLITE_COMPANIONS:
                    name = database.name + suffix
                    _narrow_entry(dir_fd, name, database.parent / name, changes)
            finally:
                os.close(dir_fd)
    for line in changes:
        log.warning("%s", line)
    return changes


def _open_nofollow(dir_fd: int, name: str, shown: Path, changes: list[str]) -> int | None:
    """``name`` in ``dir_fd`` opened without following a symlink (None: absent, a link, or
    neither a file nor a directory)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        changes.append(f"{shown} is a symlink; left as it is (a secret should be a file)")
        return None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None
    try:
        # O_NONBLOCK: a FIFO swapped in after the check does not hang the start.
        return os.open(
            name,
            os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            dir_fd=dir_fd,
        )
    except OSError as exc:
        changes.append(f"{shown} could not be opened to tighten it: {exc.strerror}")
        return None


def _narrow(fd: int, shown: Path, keep: int, changes: list[str]) -> None:
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    narrowed = mode & keep
    if narrowed == mode:
        return
    try:
        os.fchmod(fd, narrowed)
    except OSError as exc:
        changes.append(f"{shown} is {mode:04o} and could not be tightened: {exc.strerror}")
        return
    changes.append(f"tightened {shown} from {mode:04o} to {narrowed:04o}")


def _narrow_entry(dir_fd: int, name: str, shown: Path, changes: list[str]) -> None:
    fd = _open_nofollow(dir_fd, name, shown, changes)
    if fd is None:
        return
    try:
        _narrow(fd, shown, 0o700 if stat.S_ISDIR(os.fstat(fd).st_mode) else 0o600, changes)
    finally:
        os.close(fd)


def _narrow_tree(dir_fd: int, name: str, shown: Path, changes: list[str]) -> None:
    fd = _open_nofollow(dir_fd, name, shown, changes)
    if fd is None:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            _narrow(fd, shown, 0o600, changes)
            return
        _narrow(fd, shown, 0o700, changes)
        # fwalk opens each directory relative to its parent's descriptor and never
        # follows a symlink, so the walk stays inside this tree.
        for dirpath, dirnames, filenames, walk_fd in os.fwalk(".", dir_fd=fd):
            base = shown / dirpath
            for entry in (*dirnames, *filenames):
                _narrow_entry(walk_fd, entry, Path(os.path.normpath(base / entry)), changes)
    finally:
        os.close(fd)
