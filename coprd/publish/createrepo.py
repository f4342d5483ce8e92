"""Repository metadata for one chroot repo: createrepo_c, one writer at a time, atomic swap.

A chroot repo is a directory ``<owner>/<project>/<chroot>/`` holding one sub-directory per
build (``00000042-hello/`` with its RPMs, source RPM and logs) and ``repodata/``.

**What is indexed.** Every ``*.rpm`` below the repo directory, source RPMs included (as
Copr's backend indexes them: ``dnf download --source`` finds them there, with ``arch="src"``
in primary.xml; dnf never installs one), but nothing hidden (dot-leading names: staging
directories, packages of builds that have not succeeded, temporary upload files,
directories being removed). The
metadata is XML only (``--no-database``: neither dnf nor yum needs the sqlite files; Copr
dropped them in 2023) and gzip-compressed (``--general-compress-type=gz``: createrepo_c
of Fedora 39 and later defaults to zstd, which EL 7's yum cannot read; Copr pins gzip for
the same reason). Put a build directory in place whole (a rename) before calling
``update_repo``; a file that changes later is re-read because its size or mtime changes
(``--skip-stat`` is deliberately not used). A ``comps.xml`` in the repo directory (where
Copr keeps a project chroot's comps) goes in as the group file.

**Atomic swap.** createrepo_c never writes into the live ``repodata/``: it writes into a
fresh hidden staging directory inside the repo (``.repodata-XXXX/``, so the same
filesystem), reusing the live metadata of unchanged packages (``--update
--update-md-path``). The new files are fsynced, the metadata files of the previous
generation are hard-linked in (a client that read the old ``repomd.xml`` a moment ago can
still fetch what it names), and the new directory is exchanged with the live one in one
``renameat2(RENAME_EXCHANGE)`` call. A crash at any point leaves the old or the new
``repodata/``, each complete; stale staging directories are removed by the next run. On a
filesystem without ``RENAME_EXCHANGE`` (NFS) the swap is two renames; a crash between
them leaves ``repodata/`` missing until the next ``ensure_repo`` or ``update_repo``, which
puts the complete new one in place first.

**One writer per repo.** Every run holds an exclusive ``fcntl.flock`` on
``<repo>/.createrepo.lock`` (works between threads, between processes, and across NFS
clients, where Linux maps flock to byte-range locks). A second caller blocks until the
first is done. Callers that were waiting while one run started are folded into it: each
call takes a ticket (``<repo>/.createrepo.state``, under its own short flock), and a run
records the highest ticket taken before it scanned the directory. A waiter whose ticket is
covered returns without running createrepo_c (``RepoUpdate.ran`` is False): its build was
on disk before that run looked. Twenty builds finishing together cost a run or two, not
twenty.

**Devel mode** (Copr's ``auto_createrepo`` off, a project's ``devel_mode``). A chroot repo
with a ``devel/`` sub-directory is in devel mode: ``update_repo`` indexes every package on
disk into ``devel/repodata`` (its locations start with ``../``, so they name the files in
the chroot directory, as Copr's ``--baseurl`` does) and leaves the main ``repodata``
alone, except that removed builds leave it too (its own package list, recycled, minus
them), so no metadata ever names a deleted file. The main metadata catches up with the
disk only at ``regenerate_repo``, or when devel mode is switched off (``ensure_repo(…,
devel=False)``). Both live under the chroot's one lock, so a removal can never race a
devel run that would index it again.
"""

from __future__ import annotations

import ctypes
import errno
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coprd.publish._fs import flocked, fsync_dir, fsync_file, remove_tree

__all__ = [
    "CreaterepoFailed",
    "RepoUpdate",
    "ensure_repo",
    "regenerate_repo",
    "repodata_problems",
    "update_repo",
]

CREATEREPO_C = "createrepo_c"
DEFAULT_TIMEOUT_S = 600.0
REPODATA = "repodata"
LOCK_FILE = ".createrepo.lock"
STATE_FILE = ".createrepo.state"
STAGING_PREFIX = ".repodata-"
DEVEL = "devel"

_OPTIONS: tuple[str, ...] = (
    "--no-database",
    "--general-compress-type=gz",
    # Hidden names, at the top (".incoming/x.rpm") and deeper ("00000001-x/.tmp.rpm").
    "--excludes=.*",
    "--excludes=*/.*",
)
# Reading RPM headers is the only parallel part; past a few threads the directory walk
# and the XML writing dominate.
_WORKERS = max(1, min(os.cpu_count() or 1, 8))
_REPO_NS = "{http://linux.duke.edu/metadata/repo}"
# A build directory, "00000042-hello"; no glob characters, as it becomes an --excludes.
_BUILD_DIR = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+-]*")
_PACKAGES = re.compile(rb'packages="(\d+)"')


COMPS_FILE = "comps.xml"
"""A project chroot's uploaded comps, in its repository (``Publisher.set_comps``)."""


class CreaterepoFailed(RuntimeError):
    """createrepo_c failed or timed out; the live repodata is unchanged."""


@dataclass(frozen=True)
class RepoUpdate:
    """What one ``update_repo`` call did."""

    packages: int
    """Packages in the published metadata, source RPMs included."""
    ran: bool
    """False when a run started while this call waited had already covered it."""
    lock_wait_s: float
    createrepo_s: float
    """Time createrepo_c ran; 0.0 when it did not."""
    total_s: float
    warnings: tuple[str, ...] = ()
    """What createrepo_c complained about (e.g. an unreadable RPM, left out)."""


def ensure_repo(
    repo_dir: Path, *, devel: bool | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> None:
    """Make ``repo_dir`` a valid repository if it is not one: creates the directory and
    empty ``repodata/`` (or, if builds are already there, their metadata).

    Call when a project chroot is enabled, so dnf finds a repository from then on. Does
    nothing to a repository whose metadata is complete. Takes the repo's lock.

    ``devel`` puts the chroot into devel mode (True: a ``devel/`` repo of everything on
    disk, the main metadata unchanged) or out of it (False: the main metadata is
    regenerated from disk, then ``devel/`` goes); None keeps the mode it is in.
    """
    repo_dir = repo_dir.absolute()
    repo_dir.mkdir(parents=True, exist_ok=True)
    with _repo_lock(repo_dir):
        _recover(repo_dir)
        if repodata_problems(repo_dir / REPODATA, verify_checksums=False):
            _regenerate(repo_dir, update=False, excludes=(), timeout_s=timeout_s)
        _set_mode(repo_dir, devel, main_regenerated=False, timeout_s=timeout_s)


def regenerate_repo(
    repo_dir: Path, *, devel: bool | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> RepoUpdate:
    """Index everything on disk into the main metadata now, and into ``devel/`` if the
    chroot is in devel mode (what ``copr-cli regenerate-repos`` asks for). Creates the
    repository if it is missing; never folded into another caller's run.

    ``devel`` says which mode the chroot is in (a devel repository is made, or one left
    behind goes), so a regeneration also mends a mode the disk lost; None keeps it.
    """
    started = time.monotonic()
    repo_dir = repo_dir.absolute()
    repo_dir.mkdir(parents=True, exist_ok=True)
    ticket = _take_ticket(repo_dir)
    with _repo_lock(repo_dir) as lock_wait_s:
        _recover(repo_dir)
        t0 = time.monotonic()
        warnings = _regenerate(repo_dir, update=True, excludes=(), timeout_s=timeout_s)
        warnings += _set_mode(repo_dir, devel, main_regenerated=True, timeout_s=timeout_s)
        createrepo_s = time.monotonic() - t0
        _record_done(repo_dir, ticket)
        return RepoUpdate(
            packages=_count_packages(repo_dir / REPODATA),
            ran=True,
            lock_wait_s=lock_wait_s,
            createrepo_s=createrepo_s,
            total_s=time.monotonic() - started,
            warnings=warnings,
        )


def _set_mode(
    repo_dir: Path, devel: bool | None, *, main_regenerated: bool, timeout_s: float
) -> tuple[str, ...]:
    """Put a chroot repo into devel mode (``devel`` True), out of it (False) or keep the
    mode the disk says (None); returns createrepo_c's warnings. Lock held.

    ``main_regenerated``: the main metadata was just rebuilt from disk (``regenerate_repo``),
    so the devel metadata is rebuilt too and leaving devel mode needs no second run;
    otherwise (``ensure_repo``) only a missing or broken devel metadata is made, and
    leaving devel mode first brings the main metadata up to the disk.
    """
    devel_dir = repo_dir / DEVEL
    if devel is None:
        devel = devel_dir.is_dir()
    if devel:
        devel_dir.mkdir(exist_ok=True)
        _recover(devel_dir)
        if main_regenerated or repodata_problems(devel_dir / REPODATA, verify_checksums=False):
            return _regenerate(repo_dir, update=True, excludes=(), timeout_s=timeout_s, devel=True)
    elif devel_dir.is_dir():
        if not main_regenerated:
            _regenerate(repo_dir, update=True, excludes=(), timeout_s=timeout_s)
        remove_tree(devel_dir)
    return ()


def update_repo(
    repo_dir: Path,
    *,
    remove: Iterable[str] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> RepoUpdate:
    """Publish what is on disk in ``repo_dir``: new build directories appear in the
    metadata, vanished ones leave it. Incremental: unchanged packages are not re-read.

    ``remove`` names build sub-directories (``"00000042-hello"``) to drop: they leave the
    metadata first, and are deleted from disk only after the new metadata is live, while
    the lock is still held, so no client is ever told about a package that is gone.

    Blocks while another caller works on the same repo (see the module docstring); raises
    ``CreaterepoFailed`` if createrepo_c fails or runs longer than ``timeout_s``.
    """
    started = time.monotonic()
    removed = tuple(_check_build_dir(name) for name in remove)
    repo_dir = repo_dir.absolute()
    if not repo_dir.is_dir():
        raise FileNotFoundError(f"no repository directory {repo_dir}")
    ticket = _take_ticket(repo_dir)
    with _repo_lock(repo_dir) as lock_wait_s:
        devel_dir = repo_dir / DEVEL
        devel = devel_dir.is_dir()
        published = (devel_dir if devel else repo_dir) / REPODATA
        state = _read_state(repo_dir)
        live_ok = not repodata_problems(published, verify_checksums=False)
        if not removed and state.done >= ticket and live_ok:
            return RepoUpdate(
                packages=_count_packages(published),
                ran=False,
                lock_wait_s=lock_wait_s,
                createrepo_s=0.0,
                total_s=time.monotonic() - started,
            )
        covering = state.requested
        _recover(repo_dir)
        t0 = time.monotonic()
        if devel:
            _recover(devel_dir)
            warnings = _regenerate(
                repo_dir, update=True, excludes=removed, timeout_s=timeout_s, devel=True
            )
            if removed:  # the main metadata keeps its packages, less the removed ones
                _regenerate(
                    repo_dir, update=True, excludes=removed, timeout_s=timeout_s, recycle=True
                )
        else:
            warnings = _regenerate(repo_dir, update=True, excludes=removed, timeout_s=timeout_s)
        createrepo_s = time.monotonic() - t0
        _record_done(repo_dir, covering)
        for name in removed:
            remove_tree(repo_dir / name)
        return RepoUpdate(
            packages=_count_packages(published),
            ran=True,
            lock_wait_s=lock_wait_s,
            createrepo_s=createrepo_s,
            total_s=time.monotonic() - started,
            warnings=warnings,
        )


def repodata_problems(repodata: Path, *, verify_checksums: bool = True) -> list[str]:
    """What is wrong with the metadata in ``repodata`` (empty if it is complete).

    Checks that ``repomd.xml`` parses and that every file it names exists, with the size
    and, if ``verify_checksums``, the checksum it states.
    """
    try:
        root = ET.parse(repodata / "repomd.xml").getroot()
    except (OSError, ET.ParseError) as exc:
        return [f"repomd.xml: {exc}"]
    problems = []
    for data in root.iter(f"{_REPO_NS}data"):
        location = data.find(f"{_REPO_NS}location")
        href = location.get("href", "") if location is not None else ""
        if not href.startswith(f"{REPODATA}/") or "/" in href[len(REPODATA) + 1 :]:
            problems.append(f"unexpected location {href!r}")
            continue
        path = repodata / href[len(REPODATA) + 1 :]
        try:
            size = path.stat().st_size
        except OSError as exc:
            problems.append(f"{href}: {exc.strerror}")
            continue
        size_el = data.find(f"{_REPO_NS}size")
        if size_el is not None and size_el.text and int(size_el.text) != size:
            problems.append(f"{href}: size {size}, repomd.xml says {size_el.text}")
        checksum = data.find(f"{_REPO_NS}checksum")
        if verify_checksums and checksum is not None and checksum.text:
            kind = checksum.get("type", "sha256")
            with open(path, "rb") as stream:
                actual = hashlib.file_digest(stream, "sha1" if kind == "sha" else kind).hexdigest()
            if actual != checksum.text:
                problems.append(f"{href}: {kind} checksum mismatch")
    return problems


# --- one run ------------------------------------------------------------------------------


def _regenerate(
    repo_dir: Path,
    *,
    update: bool,
    excludes: Sequence[str],
    timeout_s: float,
    devel: bool = False,
    recycle: bool = False,
) -> tuple[str, ...]:
    """Run createrepo_c into a staging directory and swap the result in. Lock held.

    The packages are always those below ``repo_dir``; ``devel`` writes the metadata into
    ``repo_dir/devel`` instead, ``recycle`` indexes only the packages the live metadata
    already names (less ``excludes``) instead of everything on disk.
    """
    out_dir = repo_dir / DEVEL if devel else repo_dir
    live = out_dir / REPODATA
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
    try:
        cmd = [CREATEREPO_C, *_OPTIONS, f"--workers={_WORKERS}", f"--outputdir={staging}"]
        if update and not repodata_problems(live, verify_checksums=False):
            cmd += ["--update", f"--update-md-path={out_dir}"]
            if recycle:
                cmd.append("--recycle-pkglist")
        elif recycle:  # nothing to recycle: the main metadata stays as it is
            return ()
        if devel:
            cmd.append("--location-prefix=../")
        cmd += [f"--excludes={name}/*" for name in excludes]
        if (repo_dir / COMPS_FILE).is_file():
            cmd.append(f"--groupfile={repo_dir / COMPS_FILE}")
        cmd.append(str(repo_dir))
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, errors="replace", timeout=timeout_s
            )
        except subprocess.TimeoutExpired as exc:
            raise CreaterepoFailed(f"createrepo_c ran longer than {timeout_s:g} s") from exc
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-20:])
            raise CreaterepoFailed(f"createrepo_c exited with {done.returncode}: {tail}")
        new = staging / REPODATA
        problems = repodata_problems(new, verify_checksums=False)
        if problems:
            raise CreaterepoFailed(f"createrepo_c wrote incomplete metadata: {problems}")
        _keep_previous_generation(live, new)
        _fsync_tree(new)
        _swap(out_dir, new, staging)
        return tuple(line for line in done.stderr.splitlines() if line.strip())
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _keep_previous_generation(live: Path, new: Path) -> None:
    """Hard-link the files the live repomd.xml names into the new repodata."""
    try:
        root = ET.parse(live / "repomd.xml").getroot()
    except (OSError, ET.ParseError):
        return
    for location in root.iter(f"{_REPO_NS}location"):
        name = location.get("href", "").removeprefix(f"{REPODATA}/")
        if not name or "/" in name or name == "repomd.xml" or (new / name).exists():
            continue
        try:
            os.link(live / name, new / name)
        except FileNotFoundError:
            continue
        except OSError:
            shutil.copy2(live / name, new / name)


def _swap(repo_dir: Path, new: Path, staging: Path) -> None:
    live = repo_dir / REPODATA
    if not os.path.lexists(live):
        os.rename(new, live)
    else:
        try:
            _exchange(new, live)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
                raise
            # No RENAME_EXCHANGE here: two renames, repaired by _recover if interrupted.
            os.rename(live, staging / "previous")
            os.rename(new, live)
    fsync_dir(repo_dir)


def _recover(repo_dir: Path) -> None:
    """Lock held: restore a repodata lost between two renames, then drop leftovers."""
    live = repo_dir / REPODATA
    stale = sorted(repo_dir.glob(f"{STAGING_PREFIX}*"))
    if repodata_problems(live, verify_checksums=False):
        for candidate in [s / name for s in stale for name in (REPODATA, "previous")]:
            if candidate.is_dir() and not repodata_problems(candidate):
                if os.path.lexists(live):
                    shutil.rmtree(live, ignore_errors=True)
                os.rename(candidate, live)
                fsync_dir(repo_dir)
                break
    # Also what a crash left of a removal (see remove_tree): hidden, so only disk space.
    for path in [*stale, *repo_dir.glob(".removing-*")]:
        shutil.rmtree(path, ignore_errors=True)


_Renameat2 = Callable[[int, bytes, int, bytes, int], int]


def _load_renameat2() -> _Renameat2 | None:
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2  # glibc >= 2.28
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    renameat2: _Renameat2 = func
    return renameat2


_RENAMEAT2 = _load_renameat2()
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> None:
    """Atomically exchange two existing paths (Linux ``renameat2(RENAME_EXCHANGE)``)."""
    if _RENAMEAT2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))


# --- locking and batching -------------------------------------------------------------------


@contextmanager
def _repo_lock(repo_dir: Path) -> Iterator[float]:
    """The one-writer lock of a repo; yields the seconds spent waiting for it."""
    with flocked(repo_dir / LOCK_FILE) as (_fd, waited):
        yield waited


@dataclass(frozen=True)
class _State:
    requested: int = 0
    done: int = 0


def _parse_state(raw: bytes) -> _State:
    try:
        data = json.loads(raw)
        return _State(int(data["requested"]), int(data["done"]))
    except (ValueError, KeyError, TypeError):
        # Unreadable (e.g. cut short by a crash): start over. Both counters restart
        # together, so no caller is ever wrongly told that a run covered it.
        return _State()


def _read_fd_state(fd: int) -> _State:
    os.lseek(fd, 0, os.SEEK_SET)
    return _parse_state(os.read(fd, 4096))


def _write_fd_state(fd: int, state: _State) -> None:
    raw = json.dumps({"requested": state.requested, "done": state.done}).encode()
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, raw)


def _take_ticket(repo_dir: Path) -> int:
    with flocked(repo_dir / STATE_FILE) as (fd, _):
        state = _read_fd_state(fd)
        ticket = state.requested + 1
        _write_fd_state(fd, _State(ticket, state.done))
        return ticket


def _read_state(repo_dir: Path) -> _State:
    with flocked(repo_dir / STATE_FILE) as (fd, _):
        return _read_fd_state(fd)


def _record_done(repo_dir: Path, covering: int) -> None:
    with flocked(repo_dir / STATE_FILE) as (fd, _):
        state = _read_fd_state(fd)
        _write_fd_state(fd, _State(state.requested, max(state.done, covering)))


# --- small helpers ------------------------------------------------------------------------


def _check_build_dir(name: str) -> str:
    if not isinstance(name, str) or not _BUILD_DIR.fullmatch(name) or name == REPODATA:
        shown = str(name).encode("unicode_escape").decode("ascii")
        raise ValueError(f"{shown!r} is not a build directory name")
    return name


def _count_packages(repodata: Path) -> int:
    """The ``packages=`` count in the header of primary.xml.gz."""
    try:
        root = ET.parse(repodata / "repomd.xml").getroot()
    except (OSError, ET.ParseError):
        return 0
    for data in root.iter(f"{_REPO_NS}data"):
        location = data.find(f"{_REPO_NS}location")
        if data.get("type") == "primary" and location is not None:
            with gzip.open(repodata.parent / location.get("href", ""), "rb") as stream:
                match = _PACKAGES.search(stream.read(4096))
            return int(match.group(1)) if match else 0
    return 0


def _fsync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        fsync_file(path)
    fsync_dir(directory)
