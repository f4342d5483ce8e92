"""The results store: where build results live, addressed by relative paths.

``ResultsStore`` says what every store does; ``LocalStore`` keeps the files in a directory
on this machine and is the only store a repository can be generated in (createrepo_c and
the web server need real files: see ``LocalStore.local_path``).

Relative paths are ``/``-separated, like ``alice/demo/fedora-rawhide-x86_64/00000007-hello/
hello-1.0-1.noarch.rpm``. Before any filesystem call a path must pass ``check_relative``:
not absolute, no empty, ``.`` or ``..`` or dot-leading component (so hidden staging and lock
files can never be addressed), no control characters, no component longer than 255 bytes.
``LocalStore`` then resolves symlinks and refuses anything that ends up outside its root.
A refused path raises ``UnsafePath``.

Writes are atomic: a reader sees the old file or the complete new one, never a part. A
partly written file has a dot-leading temporary name, which createrepo_c and the results
pages ignore.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from coprd.publish._fs import remove_tree, write_atomically

__all__ = ["Entry", "LocalStore", "Readable", "ResultsStore", "UnsafePath", "check_relative"]

NAME_MAX = 255
PATH_MAX = 4096
_CHUNK = 1024 * 1024


class UnsafePath(ValueError):
    """A relative path broke the store's path rule, or resolved to outside the store."""


class Readable(Protocol):
    """Anything with ``read(size)`` returning bytes: an open file, an upload, a response."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Entry:
    """One name in a store directory."""

    name: str
    is_dir: bool
    size: int
    mtime: float


class ResultsStore(Protocol):
    """What a results store does. Every ``rel`` is checked by ``check_relative`` first."""

    def put_file(self, rel: str, source: Path) -> int:
        """Copy the local file ``source`` to ``rel`` atomically; returns the size written.

        Missing parent directories are created; an existing file at ``rel`` is replaced.
        """
        ...

    def put_stream(self, rel: str, stream: Readable) -> int:
        """Write everything ``stream`` yields to ``rel`` atomically; returns the size."""
        ...

    def append(self, rel: str, data: bytes) -> int:
        """Append ``data`` to ``rel`` (created if missing); returns the new size.

        For live logs: readers may read the file while it grows. Not atomic.
        """
        ...

    def open(self, rel: str) -> BinaryIO:
        """Open the file ``rel`` for reading. Raises ``FileNotFoundError`` if missing."""
        ...

    def stat(self, rel: str) -> Entry | None:
        """The entry at ``rel`` (``""`` is the root), or None when nothing is there."""
        ...

    def list_dir(self, rel: str) -> list[Entry]:
        """The entries of directory ``rel`` (``""`` is the root), sorted by name.

        Hidden (dot-leading) names are left out: no path can address them.
        Raises ``FileNotFoundError`` or ``NotADirectoryError``.
        """
        ...

    def remove(self, rel: str) -> None:
        """Remove the file or the whole directory tree at ``rel``; nothing there is fine.

        A directory disappears from its parent at once (it is renamed to a hidden name
        first), so nobody lists or indexes a half-removed build.
        """
        ...


def _describe(rel: str) -> str:
    return rel.encode("unicode_escape").decode("ascii")


def check_relative(rel: str, *, allow_root: bool = False) -> tuple[str, ...]:
    """Split ``rel`` into components, or raise ``UnsafePath`` if it breaks the path rule.

    ``""`` is the root itself and is accepted only with ``allow_root``.
    """
    if not isinstance(rel, str):
        raise UnsafePath(f"a relative path must be a string, not {type(rel).__name__}")
    if rel == "":
        if allow_root:
            return ()
        raise UnsafePath("the path must not be empty")
    if len(rel) > PATH_MAX:
        raise UnsafePath(f"the path is longer than {PATH_MAX} characters")
    if rel.startswith("/"):
        raise UnsafePath(f"absolute path {_describe(rel)!r}")
    for char in rel:
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise UnsafePath(f"control character in path {_describe(rel)!r}")
    parts = tuple(rel.split("/"))
    for part in parts:
        if part == "":
            raise UnsafePath(f"empty component in path {_describe(rel)!r}")
        if part.startswith("."):
            raise UnsafePath(f"dot-leading component {_describe(part)!r} in path")
        if len(os.fsencode(part)) > NAME_MAX:
            raise UnsafePath(f"a component of {_describe(rel)!r} is longer than {NAME_MAX} bytes")
    return parts


def _copy_stream(stream: Readable) -> Callable[[BinaryIO], None]:
    def write(out: BinaryIO) -> None:
        while chunk := stream.read(_CHUNK):
            out.write(chunk)

    return write


class LocalStore:
    """A results store in a directory of this machine. Implements ``ResultsStore``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _within(self, path: Path, rel: str) -> Path:
        if path != self.root and not path.is_relative_to(self.root):
            raise UnsafePath(f"{_describe(rel)!r} leads outside the store")
        return path

    def local_path(self, rel: str) -> Path:
        """The checked, symlink-resolved local path of ``rel`` (``""`` is the root).

        For what needs real files: createrepo_c, a web server. The path may not exist.
        """
        parts = check_relative(rel, allow_root=True)
        return self._within(self.root.joinpath(*parts).resolve(), rel)

    def _entry_path(self, rel: str) -> Path:
        """``rel`` with its parent resolved but its last component not followed."""
        parts = check_relative(rel)
        parent = self._within(self.root.joinpath(*parts[:-1]).resolve(), rel)
        return parent / parts[-1]

    def _target(self, rel: str) -> Path:
        path = self.local_path(rel)
        if path == self.root:
            raise UnsafePath("the store's root is not a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def put_file(self, rel: str, source: Path) -> int:
        """See ``ResultsStore.put_file``."""
        target = self._target(rel)
        with open(source, "rb") as stream:
            return write_atomically(target, _copy_stream(stream))

    def put_stream(self, rel: str, stream: Readable) -> int:
        """See ``ResultsStore.put_stream``."""
        return write_atomically(self._target(rel), _copy_stream(stream))

    def append(self, rel: str, data: bytes) -> int:
        """See ``ResultsStore.append``."""
        target = self._target(rel)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(target, flags, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def open(self, rel: str) -> BinaryIO:
        """See ``ResultsStore.open``."""
        path = self.local_path(rel)
        if path == self.root:
            raise IsADirectoryError(rel)
        return open(path, "rb")

    def stat(self, rel: str) -> Entry | None:
        """See ``ResultsStore.stat``."""
        path = self.local_path(rel)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        name = rel.rsplit("/", 1)[-1] if rel else self.root.name
        return Entry(name, stat.S_ISDIR(st.st_mode), st.st_size, st.st_mtime)

    def list_dir(self, rel: str) -> list[Entry]:
        """See ``ResultsStore.list_dir``. Symlinks leading out of the store are left out."""
        path = self.local_path(rel)
        entries = []
        with os.scandir(path) as it:
            for item in it:
                if item.name.startswith("."):
                    continue
                if item.is_symlink() and not _resolves_within(Path(item.path), self.root):
                    continue
                try:
                    st = item.stat()
                except OSError:
                    continue  # removed meanwhile, or a dangling symlink
                entries.append(Entry(item.name, stat.S_ISDIR(st.st_mode), st.st_size, st.st_mtime))
        entries.sort(key=lambda e: e.name)
        return entries

    def remove(self, rel: str) -> None:
        """See ``ResultsStore.remove``."""
        path = self._entry_path(rel)
        try:
            st = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return
        if not stat.S_ISDIR(st.st_mode):
            path.unlink(missing_ok=True)
            return
        remove_tree(path)


def _resolves_within(path: Path, root: Path) -> bool:
    try:
        target = path.resolve(strict=True)
    except OSError:
        return False
    return target == root or target.is_relative_to(root)
