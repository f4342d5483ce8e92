"""Reading back what untrusted code left in a work directory, without following its links.

A build's spec, a ``make_srpm`` Makefile or a custom script runs in the sandbox with one
host directory mounted read-write. Afterwards the agent reads results out of that directory
on the host, as its own user: RPMs, SRPMs, specs, a ``sources`` file. The build may have
replaced anything in there by a symlink, and a symlink it wrote is followed on the host with
the host's meaning: ``build -> /srv/coprd/results/alice`` turns "the RPMs this build made"
into "the RPMs of that host directory", which the agent would then upload, sign and publish
as this build's. Checking only the last component (``O_NOFOLLOW``), or ``resolve()``-ing a
path and checking it is inside, leaves every other component (and the time between the check
and the use) to the build.

:class:`ConfinedDir` is opened on the work directory *before* the untrusted code runs and
keeps an ``O_PATH`` descriptor of it; every later access is relative to that descriptor and
refuses a symlink at every component, ``..``, absolute paths, and other file systems. What
it opens as a file must be a regular file (FIFOs and devices are refused, and opened
``O_NONBLOCK`` so that one swapped in cannot block the agent); listings and walks use
descriptors and never follow links. Renaming the work directory away and putting a symlink
in its place changes nothing: the descriptor still names the original directory.

Two ways to resolve a path, with the same result:

* ``openat2(2)`` with ``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
  RESOLVE_NO_XDEV`` (Linux 5.6 and later): the kernel walks the whole path in one call and
  fails it at the first symlink, ``..`` escape or mount crossing. Called through ``ctypes``
  (Python has no wrapper); its absence (``ENOSYS``, or a seccomp filter answering ``EPERM``)
  is detected once per process.
* otherwise, one ``openat`` per component with ``O_NOFOLLOW | O_DIRECTORY``, each relative
  to the descriptor of the one before (and its ``st_dev`` compared with the work
  directory's): more system calls, as strict for symlinks and ``..``, and needed on older
  kernels, on architectures whose syscall number is not known here, and in containers whose
  seccomp filter predates openat2. (It cannot see a bind mount of the same file system,
  which ``RESOLVE_NO_XDEV`` refuses; untrusted code cannot make mounts the host sees.)

Errors are :class:`ConfinementError`; its message names the path relative to the work
directory (never the host path) and why, so that it can go into the build's log as it is.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import platform
import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

Kind = Literal["file", "directory", "symlink", "other"]

# openat2's number where it is known; elsewhere the component-by-component walk is used.
_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437}.get(platform.machine())
_RESOLVE_NO_XDEV = 0x01
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_RESOLVE = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS | _RESOLVE_NO_XDEV
# openat2 answers EAGAIN when a rename raced with its walk; it may simply be asked again.
_EAGAIN_TRIES = 8

_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LISTABLE = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC

MAX_ENTRIES = 100_000
"""Default bound on the entries a listing or a walk looks at."""
_CHUNK = 1024 * 1024


class ConfinementError(Exception):
    """A path in a confined directory cannot be used: ``str(error)`` is ``"<path> <reason>"``.

    ``path`` is relative to the work directory (``.`` for the directory itself);
    ``reason`` is short ("is a symlink", "is not a regular file", "does not exist",
    "escapes the work directory", "is larger than N bytes"); ``missing`` is true when the
    path (or a directory on it) does not exist.
    """

    def __init__(self, path: str, reason: str, *, missing: bool = False) -> None:
        super().__init__(f"{path or '.'} {reason}")
        self.path = path or "."
        self.reason = reason
        self.missing = missing


@dataclass(frozen=True)
class Entry:
    """What is at ``path`` (relative to the work directory), as ``lstat`` sees it."""

    path: str
    kind: Kind
    size: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_openat2_state: bool | None = None
_openat2_lock = threading.Lock()


def _openat2_syscall(dirfd: int, path: str, flags: int, resolve: int) -> int:
    """``openat2(dirfd, path, {flags, 0, resolve})``; raises OSError as ``os.open`` does."""
    if _SYS_OPENAT2 is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
    how = _OpenHow(flags, 0, resolve)
    fd = _libc.syscall(
        ctypes.c_long(_SYS_OPENAT2),
        ctypes.c_long(dirfd),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), path)
    return int(fd)


def openat2_available() -> bool:
    """Whether this kernel (and any seccomp filter around us) lets openat2 be used; asked
    once per process."""
    global _openat2_state
    with _openat2_lock:
        if _openat2_state is None:
            try:
                os.close(_openat2_syscall(-100, ".", _DIR, _RESOLVE))  # AT_FDCWD
                _openat2_state = True
            except OSError as error:
                # ENOSYS: no such syscall; EPERM: a seccomp filter that does not know it;
                # EINVAL/E2BIG: a kernel that lacks one of the flags.
                _openat2_state = error.errno not in (
                    errno.ENOSYS,
                    errno.EPERM,
                    errno.EINVAL,
                    errno.E2BIG,
                )
        return _openat2_state


def _kind(mode: int) -> Kind:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _split(rel: str | PurePath) -> tuple[str, ...]:
    """The components of ``rel``, refused before anything is looked up if it is not a plain
    relative path. The empty path ``""`` is the work directory itself."""
    text = rel if isinstance(rel, str) else rel.as_posix()
    if text in ("", "."):
        return ()
    if "\0" in text:
        raise ConfinementError(text.replace("\0", "\\0"), "is not a usable path")
    if text.startswith("/"):
        raise ConfinementError(text, "escapes the work directory")
    parts = tuple(text.split("/"))
    if ".." in parts:
        raise ConfinementError(text, "escapes the work directory")
    if any(part in ("", ".") for part in parts):
        raise ConfinementError(text, "is not a plain relative path")
    return parts


def _shown(parts: tuple[str, ...]) -> str:
    return "/".join(parts)


class ConfinedDir:
    """A work directory that untrusted code writes into, as the agent may read it back.

    Open it before the untrusted code runs; close it (or use it as a context manager) when
    done. Paths given to its methods are relative to the directory, ``/``-separated, with no
    ``.``, ``..`` or empty components (``""`` is the directory itself). ``use_openat2=False``
    forces the component-by-component walk even where the kernel has openat2.
    """

    def __init__(self, path: Path, *, use_openat2: bool = True) -> None:
        self.path = path
        """Where the directory was when it was opened (for the sandbox; never read through)."""
        self._fd: int | None = os.open(path, _DIR & ~os.O_NOFOLLOW)
        self._dev = os.fstat(self._fd).st_dev
        self._openat2 = use_openat2 and openat2_available()

    @property
    def uses_openat2(self) -> bool:
        return self._openat2

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ConfinedDir:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def _root(self) -> int:
        if self._fd is None:
            raise ValueError(f"the confined directory {self.path} is closed")
        return self._fd

    # -- reading ---------------------------------------------------------------------------

    def lstat(self, rel: str | PurePath) -> Entry | None:
        """What is at ``rel`` (a symlink there is reported, not followed); None if nothing.

        Raises ConfinementError if a directory on the way is a symlink or not a directory.
        """
        parts = _split(rel)
        if not parts:
            st = os.fstat(self._root)
            return Entry("", _kind(st.st_mode), st.st_size)
        try:
            with self._parent(parts) as parent:
                st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except ConfinementError as error:
            if error.missing:
                return None
            raise
        except FileNotFoundError:
            return None
        return Entry(_shown(parts), _kind(st.st_mode), st.st_size)

    def is_dir(self, rel: str | PurePath) -> bool:
        """Whether ``rel`` is a directory reached without any symlink on the way."""
        try:
            os.close(self._open(_split(rel), _DIR))
        except ConfinementError:
            return False
        return True

    def open_file(self, rel: str | PurePath) -> io.BufferedReader:
        """The regular file at ``rel``, opened for reading."""
        parts = _split(rel)
        if not parts:
            raise ConfinementError("", "is not a regular file")
        with self._parent(parts) as parent:
            try:
                before = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            except OSError as error:
                raise self._why(parent, parts, len(parts) - 1, error, want_dir=False) from None
            if not stat.S_ISREG(before.st_mode):
                # Not even opened: a FIFO or a device has effects when opened.
                reason = "is a symlink" if stat.S_ISLNK(before.st_mode) else None
                raise ConfinementError(_shown(parts), reason or "is not a regular file")
            fd = self._open(parts, _FILE, dirfd=parent, done=len(parts) - 1)
        file = os.fdopen(fd, "rb")
        try:
            after = os.fstat(fd)
            if not stat.S_ISREG(after.st_mode):
                raise ConfinementError(_shown(parts), "is not a regular file")
            if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
                raise ConfinementError(_shown(parts), "changed while it was opened")
        except BaseException:
            file.close()
            raise
        return file

    def read_bytes(self, rel: str | PurePath, limit: int) -> bytes:
        """The content of the regular file at ``rel``; ConfinementError if over ``limit``."""
        with self.open_file(rel) as file:
            data = bytearray()
            while len(data) <= limit:
                chunk = file.read(min(_CHUNK, limit + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
        if len(data) > limit:
            raise ConfinementError(_shown(_split(rel)), f"is larger than {limit} bytes")
        return bytes(data)

    def copy_file(self, rel: str | PurePath, dest: Path, limit: int) -> int:
        """Copy the regular file at ``rel`` into the new file ``dest`` (outside this directory,
        the agent's own; it must not exist); returns its size. Over ``limit`` bytes, nothing is
        left at ``dest`` and ConfinementError says so."""
        with self.open_file(rel) as src:
            fd = os.open(dest, _NEW_FILE, 0o644)
            size = 0
            try:
                with os.fdopen(fd, "wb") as dst:
                    while chunk := src.read(_CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise ConfinementError(
                                _shown(_split(rel)), f"is larger than {limit} bytes"
                            )
                        dst.write(chunk)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
        return size

    def list_dir(self, rel: str | PurePath = "", *, max_entries: int = MAX_ENTRIES) -> list[Entry]:
        """The entries of the directory ``rel``, sorted by name, each as ``lstat`` sees it;
        past ``max_entries`` of them, ConfinementError."""
        parts = _split(rel)
        try:
            return self._list(parts, max_entries)
        except _TooMany:
            reason = f"holds more than {max_entries} entries"
            raise ConfinementError(_shown(parts), reason) from None

    def walk(self, rel: str | PurePath = "", *, max_entries: int = MAX_ENTRIES) -> list[Entry]:
        """Everything under the directory ``rel`` that is not a directory, at any depth,
        sorted by path. Directories are entered, symlinks to them are not (they are
        reported as symlinks); past ``max_entries`` entries looked at, ConfinementError."""
        top = _split(rel)
        found: list[Entry] = []
        pending = [top]
        budget = max_entries
        while pending:
            parts = pending.pop()
            try:
                entries = self._list(parts, budget)
            except _TooMany:
                raise ConfinementError(
                    _shown(top), f"holds more than {max_entries} entries"
                ) from None
            budget -= len(entries)
            for entry in entries:
                if entry.kind == "directory":
                    pending.append(_split(entry.path))
                else:
                    found.append(entry)
        return sorted(found, key=lambda entry: entry.path)

    # -- writing ---------------------------------------------------------------------------

    def create_file(self, rel: str | PurePath, mode: int = 0o644) -> io.BufferedWriter:
        """A new regular file at ``rel``, open for writing; nothing may be there yet."""
        parts = _split(rel)
        if not parts:
            raise ConfinementError("", "is not a regular file")
        with self._parent(parts) as parent:
            try:
                fd = os.open(parts[-1], _NEW_FILE, mode, dir_fd=parent)
            except OSError as error:
                raise self._why(parent, parts, len(parts) - 1, error, want_dir=False) from None
        return os.fdopen(fd, "wb")

    def make_dir(self, rel: str | PurePath, mode: int = 0o755) -> None:
        """A new directory at ``rel`` (its parent must exist)."""
        parts = _split(rel)
        if not parts:
            raise ConfinementError("", "exists already")
        with self._parent(parts) as parent:
            try:
                os.mkdir(parts[-1], mode, dir_fd=parent)
            except OSError as error:
                raise self._why(parent, parts, len(parts) - 1, error, want_dir=True) from None

    def remove(self, rel: str | PurePath) -> None:
        """Remove whatever is at ``rel`` (a directory with its content; a symlink itself,
        not what it points to). Nothing there is fine."""
        parts = _split(rel)
        if not parts:
            raise ConfinementError("", "cannot be removed")
        try:
            with self._parent(parts) as parent:
                try:
                    st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
                except FileNotFoundError:
                    return
                if stat.S_ISDIR(st.st_mode):
                    # rmtree with dir_fd works through descriptors and never follows links.
                    shutil.rmtree(parts[-1], dir_fd=parent)
                else:
                    os.unlink(parts[-1], dir_fd=parent)
        except ConfinementError as error:
            if not error.missing:
                raise

    # -- resolution ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _parent(self, parts: tuple[str, ...]) -> Iterator[int]:
        """A descriptor of the directory holding ``parts[-1]``."""
        if len(parts) == 1:
            yield self._root
            return
        fd = self._open(parts[:-1], _DIR)
        try:
            yield fd
        finally:
            os.close(fd)

    def _open(
        self, parts: tuple[str, ...], flags: int, *, dirfd: int | None = None, done: int = 0
    ) -> int:
        """A new descriptor of ``parts`` opened with ``flags``; ``dirfd`` is the descriptor of
        ``parts[:done]`` (default: the work directory itself, ``done`` = 0)."""
        base = self._root if dirfd is None else dirfd
        if not parts[done:]:
            return os.open(".", flags & ~os.O_NOFOLLOW, dir_fd=base)
        if self._openat2:
            for _ in range(_EAGAIN_TRIES):
                try:
                    return _openat2_syscall(base, _shown(parts[done:]), flags, _RESOLVE)
                except OSError as error:
                    if error.errno == errno.EAGAIN:
                        continue
                    # The walk below finds which component is wrong, and says so.
                    fd = self._walk(base, parts, done, flags)
                    os.close(fd)
                    missing = error.errno == errno.ENOENT
                    raise ConfinementError(_shown(parts), _reason(error), missing=missing) from None
            raise ConfinementError(_shown(parts), "kept changing while it was opened")
        return self._walk(base, parts, done, flags)

    def _walk(self, base: int, parts: tuple[str, ...], done: int, flags: int) -> int:
        """``parts[done:]`` opened one component at a time below ``base``."""
        current = base
        try:
            for index in range(done, len(parts)):
                last = index == len(parts) - 1
                try:
                    fd = os.open(parts[index], flags if last else _DIR, dir_fd=current)
                except OSError as error:
                    want_dir = not last or bool(flags & os.O_DIRECTORY)
                    raise self._why(current, parts, index, error, want_dir=want_dir) from None
                if current != base:
                    os.close(current)
                current = fd
                if os.fstat(fd).st_dev != self._dev:  # what RESOLVE_NO_XDEV refuses
                    raise ConfinementError(_shown(parts[: index + 1]), "is another file system")
        except BaseException:
            if current != base:
                os.close(current)
            raise
        return current

    def _why(
        self, dirfd: int, parts: tuple[str, ...], index: int, error: OSError, *, want_dir: bool
    ) -> ConfinementError:
        """Why ``parts[index]`` (in ``dirfd``) could not be opened, named relative to here."""
        shown = _shown(parts[: index + 1])
        try:
            st = os.stat(parts[index], dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            return ConfinementError(shown, "does not exist", missing=True)
        except OSError:
            return ConfinementError(shown, _reason(error), missing=error.errno == errno.ENOENT)
        if stat.S_ISLNK(st.st_mode):
            return ConfinementError(shown, "is a symlink")
        if want_dir and not stat.S_ISDIR(st.st_mode):
            return ConfinementError(shown, "is not a directory")
        if not want_dir and not stat.S_ISREG(st.st_mode):
            return ConfinementError(shown, "is not a regular file")
        return ConfinementError(shown, _reason(error))

    def _list(self, parts: tuple[str, ...], max_entries: int) -> list[Entry]:
        fd = self._open(parts, _LISTABLE)
        try:
            names: list[str] = []
            with os.scandir(fd) as listing:
                for item in listing:
                    if len(names) >= max_entries:
                        raise _TooMany
                    names.append(item.name)
            entries = []
            for name in sorted(names):
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                entries.append(Entry(_shown((*parts, name)), _kind(st.st_mode), st.st_size))
            return entries
        finally:
            os.close(fd)


class _TooMany(Exception):
    pass


def _reason(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "is a symlink"
    if error.errno == errno.EXDEV:
        return "is another file system"
    if error.errno == errno.ENOENT:
        return "does not exist"
    if error.errno == errno.ENOTDIR:
        return "is not a directory"
    if error.errno == errno.EEXIST:
        return "exists already"
    return f"cannot be opened: {error.strerror or error}"
