"""The local backend's buildroot: the SRPM's BuildRequires, installed from the build's
repositories into a tree that the build sees over the host's ``/usr``.

Copr's buildroot holds the project's own repository (``copr_base``), the project's and
chroot's additional repositories and the chroot's buildroot packages; mock installs the
BuildRequires from there. The local backend builds with the host's toolchain, so it installs
only what those repositories provide, and takes the rest from the host:

1. **What is asked.** The SRPM's BuildRequires (its header's requirements, less
   ``rpmlib(…)``) and the chroot's ``buildroot_pkgs``. Dynamic BuildRequires
   (``%generate_buildrequires``) are not run.
2. **Resolved** by libsolv (``depsolve.py``) in a sandbox, as the build's uid, against the
   task's repositories with their priorities (dnf's: lower wins). A requirement a repository
   provides is installed from there with what it requires from the repositories; one only
   the host's rpm database provides is the host's (Fedora and EL builder hosts); one nobody
   provides fails the build with mock's sentence ("No matching package to install: 'x'"),
   or, on a host without an rpm database (Debian), is assumed to be part of the host's
   toolchain, one line in the log per requirement.
3. **Fetched.** The server's own repositories (``BuildRepo.served``: the project's, or
   another project's of this server) are fetched by the agent, which may reach a server on
   its loopback; their packages are checked against the metadata's checksums here. Any other
   repository is fetched inside the resolving sandbox, with network, by ``depsolve.py``: an
   address a user chose is never fetched from the builder's own network namespace.
4. **Unpacked** in a second sandbox without network: each package's payload
   (``rpm2archive | tar``) into ``buildroot/tree``. No scriptlet runs, nothing is
   registered in an rpm database, the host is not changed.
5. **Laid over ``/usr``** for rpmbuild (``SandboxSpec.usr_overlay``): what the packages put
   under ``/usr`` is seen there, over the host's files; what they put elsewhere (``/etc``,
   ``/opt``) is not, and the log says so. ``buildroot/`` itself is hidden from the build.

The record of it all, what was installed from which repository and what was assumed, is
``root.log`` in the result directory, as mock's ``root.log`` is on Copr. Layout in the
task's work directory::

    buildroot/             sandbox work directory of steps 2 and 4 (the build's uid)
        depsolve.py request.json result.json
        repos/<n>/repodata/   metadata the agent fetched (served repositories)
        rpms/                 packages to unpack
        tree/                 their payloads; tree/usr is the overlay
    fetched/               the agent's downloads, before they are copied into buildroot/
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from coprd.builder.backends.base import RpmTask, log_line
from coprd.builder.confined import ConfinedDir, ConfinementError
from coprd.builder.macros import chroot_target
from coprd.builder.sandbox import (
    SANDBOX_WORKDIR,
    SandboxSpec,
    SandboxUnavailable,
    run_sandboxed,
    usr_overlay_problem,
)
from coprd.builder.srpm import InvalidPackage, Requirement, build_requires

SYSTEM_PYTHON = "/usr/bin/python3"
WORK = "buildroot"
FETCHED = "fetched"
RESULT_LIMIT = 64 * 1024 * 1024
MAX_METADATA = 512 * 1024 * 1024
MAX_PACKAGES = 5_000
RESOLVE_TIMEOUT_S = 1800.0
UNPACK_TIMEOUT_S = 1800.0
_REPOMD_NS = "{http://linux.duke.edu/metadata/repo}"
# Each package's payload into tree/; a member tar refuses (.., an absolute name) is
# skipped by tar itself. Runs without network, as the build's uid.
_UNPACK = (
    'mkdir -p tree && for rpm in rpms/*.rpm; do [ -e "$rpm" ] || continue; '
    'rpm2archive -n < "$rpm" | tar -x -f - -C tree --no-same-owner --no-same-permissions '
    '|| { echo "cannot unpack $rpm"; exit 1; }; done'
)


class BuildrootFailed(Exception):
    """The buildroot cannot be made; ``str`` is the task's one-line reason."""


class BuildrootCanceled(BuildrootFailed):
    """The task was canceled while its buildroot was being made."""


@dataclass(frozen=True)
class Buildroot:
    """What :func:`prepare` made: ``usr`` is the directory to lay over ``/usr`` (None when
    nothing was installed), ``hidden`` what rpmbuild must not see of the work directory."""

    usr: Path | None
    hidden: tuple[str, ...] = (WORK, FETCHED)


@functools.cache
def host_has_rpmdb() -> bool:
    """Whether this host's packages are rpm's (Fedora, EL): its database lists any."""
    try:
        done = subprocess.run(
            ["rpm", "-qa", "--qf", "%{NAME}\n"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


@functools.cache
def host_rpmdb() -> Path | None:
    """The directory of the host's rpm database (``rpm --eval %_dbpath``), or None on a
    host without one; the resolving sandbox reads it."""
    if not host_has_rpmdb():
        return None
    done = subprocess.run(
        ["rpm", "--eval", "%{_dbpath}"], capture_output=True, text=True, timeout=60, check=False
    )
    path = Path(done.stdout.strip())
    return path.resolve() if path.is_absolute() and path.is_dir() else None


@functools.cache
def solver_problem() -> str | None:
    """Why this host cannot resolve BuildRequires, or None if it can."""
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-I", "-c", "import solv"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return f"{SYSTEM_PYTHON} is missing"
    if done.returncode != 0:
        return "libsolv's Python binding is not installed (python3-solv)"
    return None


def prepare(
    task: RpmTask,
    files: ConfinedDir,
    on_output: Callable[[bytes], None],
    cancel: threading.Event | None = None,
) -> Buildroot:
    """Make the buildroot of ``task`` in its work directory (``files``); see the module
    docstring. Raises BuildrootFailed with the reason the task fails for."""
    record = RootLog(on_output)
    try:
        try:
            wanted = build_requires(task.srpm)
        except InvalidPackage as error:
            raise BuildrootFailed(f"invalid source RPM: {error}") from None
        wanted += [Requirement(name, 0, "") for name in task.buildroot_pkgs]
        record.line(f"BuildRequires and buildroot packages: {len(wanted)}")
        for repo in task.repos:
            where = "this server" if repo.served else "fetched in the sandbox"
            priority = repo.priority if repo.priority is not None else 99
            record.line(f"repository {repo.id}: {repo.baseurl} (priority {priority}, {where})")
        if not wanted:
            return Buildroot(None)
        problem = solver_problem()
        if problem is not None:
            raise BuildrootFailed(f"this builder cannot resolve BuildRequires: {problem}")
        for directory in (WORK, FETCHED):
            files.remove(directory)
            files.make_dir(directory)
        result = _resolve(task, files, wanted, record, on_output, cancel)
        installs = _report(result, task, record)
        if not installs:
            return Buildroot(None)
        _fetch_served(task, files, installs, record)
        _unpack(task, files, record, on_output, cancel)
        return Buildroot(_overlay(task, files, record))
    except BuildrootFailed as error:
        record.line(f"failed: {error}")
        raise
    finally:
        record.save(task.outdir / "root.log")


class RootLog:
    """``root.log``: what the buildroot step did, line by line; the important lines also go
    to the build's log."""

    def __init__(self, on_output: Callable[[bytes], None]) -> None:
        self.on_output = on_output
        self.lines: list[bytes] = []

    def line(self, text: str, *, shown: bool = False) -> None:
        entry = log_line("buildroot", text)
        self.lines.append(entry)
        if shown:
            self.on_output(entry)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(self.lines))


def _resolve(
    task: RpmTask,
    files: ConfinedDir,
    wanted: list[Requirement],
    record: RootLog,
    on_output: Callable[[bytes], None],
    cancel: threading.Event | None,
) -> dict[str, Any]:
    rpmdb = host_rpmdb()
    repos: list[dict[str, Any]] = []
    for index, repo in enumerate(task.repos):
        local = f"repos/{index}" if repo.served else None
        if repo.served and not _fetch_metadata(task, files, index, repo.baseurl, wanted, record):
            continue
        repos.append(
            {"id": repo.id, "baseurl": repo.baseurl, "priority": repo.priority, "local": local}
        )
    request = {
        "arch": chroot_target(task.chroot),
        "repos": repos,
        "requires": [{"name": r.name, "flags": r.flags, "version": r.version} for r in wanted],
        "rpmdb": str(rpmdb) if rpmdb is not None else None,
        "max_bytes": task.max_result_bytes,
    }
    with files.create_file(f"{WORK}/request.json") as out:
        out.write(json.dumps(request).encode())
    with files.create_file(f"{WORK}/depsolve.py") as out:
        out.write(Path(__file__).with_name("depsolve.py").read_bytes())
    spec = SandboxSpec(
        workdir=task.workdir / WORK,
        network=any(not repo["local"] for repo in repos),
        timeout_s=min(task.timeout_s, RESOLVE_TIMEOUT_S),
        ro_binds=(rpmdb,) if rpmdb is not None else (),
        policy=task.sandbox,
    )
    said = bytearray()

    def keep(chunk: bytes) -> None:
        said.extend(chunk[: max(0, 65536 - len(said))])

    argv = [SYSTEM_PYTHON, "-I", str(SANDBOX_WORKDIR / "depsolve.py")]
    try:
        ended = run_sandboxed(argv, spec, keep, cancel)
    except SandboxUnavailable as error:
        raise BuildrootFailed(str(error)) from None
    if said:
        on_output(bytes(said))
    if ended.canceled:
        raise BuildrootCanceled("canceled")
    if ended.returncode != 0 or ended.timed_out or ended.limit_exceeded:
        raise BuildrootFailed(f"resolving the BuildRequires {ended.reason}")
    try:
        answer = json.loads(files.read_bytes(f"{WORK}/result.json", RESULT_LIMIT))
    except (ConfinementError, ValueError) as error:
        raise BuildrootFailed(f"the resolver gave no answer ({error})") from None
    if not isinstance(answer, dict):
        raise BuildrootFailed("the resolver's answer is not an object")
    # The indexes in the answer are of the repositories that were offered.
    answer["_repos"] = repos
    return answer


def _fetch_metadata(
    task: RpmTask,
    files: ConfinedDir,
    index: int,
    baseurl: str,
    wanted: list[Requirement],
    record: RootLog,
) -> bool:
    """The served repository's ``repodata`` into ``buildroot/repos/<index>``; False (noted)
    if the server has none there (a devel repository not made yet)."""
    base = baseurl.rstrip("/") + "/"
    fetched = task.workdir / FETCHED / f"repomd-{index}.xml"
    try:
        _download(task, base + "repodata/repomd.xml", fetched)
    except BuildrootFailed as error:
        record.line(f"repository {base} skipped: {error}", shown=True)
        return False
    hrefs = _metadata_hrefs(fetched, any(r.name.startswith("/") for r in wanted))
    where = f"{WORK}/repos/{index}"
    if files.lstat(f"{WORK}/repos") is None:
        files.make_dir(f"{WORK}/repos")
    files.make_dir(where)
    files.make_dir(f"{where}/repodata")
    _copy_in(files, fetched, f"{where}/repodata/repomd.xml")
    for href in hrefs:
        local = task.workdir / FETCHED / f"meta-{index}-{PurePosixPath(href).name}"
        _download(task, base + href, local)
        _copy_in(files, local, f"{where}/{href}")
    return True


def _metadata_hrefs(repomd: Path, with_files: bool) -> list[str]:
    try:
        root = ElementTree.parse(repomd).getroot()
    except ElementTree.ParseError as error:
        raise BuildrootFailed(f"the repository's repomd.xml is unreadable: {error}") from None
    hrefs = []
    for data in root.findall(f"{_REPOMD_NS}data"):
        location = data.find(f"{_REPOMD_NS}location")
        kinds = ("primary", "filelists") if with_files else ("primary",)
        if data.get("type") in kinds and location is not None:
            href = location.get("href") or ""
            _check_location(href)
            if not href.startswith("repodata/") or href.count("/") != 1:
                raise BuildrootFailed(f"unexpected metadata location {href!r}")
            hrefs.append(href)
    return hrefs


def _check_location(location: str) -> None:
    parts = location.split("/")
    if not location or location.startswith("/") or ".." in parts or "" in parts:
        raise BuildrootFailed(f"the repository names an unsafe location {location!r}")
    if not location.isprintable() or "?" in location or "#" in location:
        raise BuildrootFailed(f"the repository names an unsafe location {location!r}")


def _download(task: RpmTask, url: str, dest: Path) -> None:
    if task.fetch is None:
        raise BuildrootFailed(f"this agent cannot fetch {url}")
    try:
        task.fetch(url, dest)
    except Exception as error:  # the agent's download raises httpx's and its own errors
        raise BuildrootFailed(f"could not fetch {url}: {error}") from None
    if dest.stat().st_size > MAX_METADATA:
        raise BuildrootFailed(f"{url} is larger than {MAX_METADATA} bytes")


def _copy_in(files: ConfinedDir, source: Path, rel: str) -> None:
    with source.open("rb") as data, files.create_file(rel) as out:
        shutil.copyfileobj(data, out)
    source.unlink()


@dataclass(frozen=True)
class _Install:
    nevra: str
    repo: dict[str, Any]
    location: str
    checksum: tuple[str, str]
    file: str | None


def _report(result: dict[str, Any], task: RpmTask, record: RootLog) -> list[_Install]:
    """Record the resolver's answer; the packages to install, or BuildrootFailed."""
    if result.get("error"):
        raise BuildrootFailed(_text(result["error"]))
    for item in _strings(result.get("assumed")):
        record.line(f"assumed from the host's toolchain (no rpm database here): {item}", shown=True)
    for item in _strings(result.get("assumed_by_packages")):
        record.line(f"assumed from the host's toolchain: {item}")
    for item in _strings(result.get("notes")):
        record.line(f"rpm: {item}", shown=True)
    for item in _strings(result.get("host")):
        record.line(f"from the host: {item}", shown=True)
    missing = _strings(result.get("missing"))
    if missing:
        # mock's (dnf's) words, so that what users search for finds the same answers.
        for item in missing:
            record.line(f"No matching package to install: '{item}'", shown=True)
        raise BuildrootFailed(
            "No matching package to install: " + ", ".join(f"'{m}'" for m in missing)
        )
    problems = _strings(result.get("problems"))
    if problems:
        for item in problems:
            record.line(f"problem: {item}", shown=True)
        raise BuildrootFailed("the BuildRequires cannot be installed: " + "; ".join(problems))
    repos = result["_repos"]
    raw = result.get("install") or []
    if not isinstance(raw, list) or len(raw) > MAX_PACKAGES:
        raise BuildrootFailed("the resolver's answer is not a list of packages")
    installs = []
    for entry in raw:
        try:
            repo = repos[int(entry["repo"])]
            kind, digest = entry["checksum"]
            install = _Install(
                nevra=_text(entry["nevra"]),
                repo=repo,
                location=str(entry["location"]),
                checksum=(str(kind), str(digest)),
                file=None if entry.get("file") is None else str(entry["file"]),
            )
        except (KeyError, IndexError, TypeError, ValueError):
            raise BuildrootFailed("the resolver's answer is malformed") from None
        _check_location(install.location)
        if (install.file is None) != bool(repo["local"]):
            raise BuildrootFailed("the resolver's answer is malformed")
        record.line(f"installed: {install.nevra} from {repo['id']}", shown=True)
        installs.append(install)
    return installs


def _fetch_served(
    task: RpmTask, files: ConfinedDir, installs: list[_Install], record: RootLog
) -> None:
    if files.lstat(f"{WORK}/rpms") is None:
        files.make_dir(f"{WORK}/rpms")
    total = 0
    for number, install in enumerate(installs):
        if install.file is not None:
            continue
        url = install.repo["baseurl"].rstrip("/") + "/" + install.location
        local = task.workdir / FETCHED / f"{number}.rpm"
        _download(task, url, local)
        total += local.stat().st_size
        if total > task.max_result_bytes:
            raise BuildrootFailed("the buildroot's packages are larger than this builder allows")
        kind, expected = install.checksum
        if kind not in hashlib.algorithms_guaranteed:
            raise BuildrootFailed(f"unknown checksum type {kind!r} for {install.nevra}")
        digest = hashlib.new(kind)
        with local.open("rb") as data:
            for chunk in iter(lambda: data.read(1024 * 1024), b""):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            raise BuildrootFailed(f"{install.nevra} does not match its repository's checksum")
        _copy_in(files, local, f"{WORK}/rpms/served-{number}.rpm")
    record.line(f"fetched the packages of {len(installs)} installs")


def _unpack(
    task: RpmTask,
    files: ConfinedDir,
    record: RootLog,
    on_output: Callable[[bytes], None],
    cancel: threading.Event | None,
) -> None:
    spec = SandboxSpec(
        workdir=task.workdir / WORK,
        network=False,
        timeout_s=min(task.timeout_s, UNPACK_TIMEOUT_S),
        policy=task.sandbox,
    )
    try:
        ended = run_sandboxed(["/bin/sh", "-c", _UNPACK], spec, on_output, cancel)
    except SandboxUnavailable as error:
        raise BuildrootFailed(str(error)) from None
    if ended.canceled:
        raise BuildrootCanceled("canceled")
    if ended.returncode != 0 or ended.timed_out or ended.limit_exceeded:
        raise BuildrootFailed(f"unpacking the buildroot's packages {ended.reason}")
    record.line("unpacked into the buildroot")


def _overlay(task: RpmTask, files: ConfinedDir, record: RootLog) -> Path | None:
    tree = f"{WORK}/tree"
    try:
        entries = files.list_dir(tree)
    except ConfinementError as error:
        raise BuildrootFailed(f"the buildroot cannot be read: {error}") from None
    elsewhere = sorted(e.name for e in entries if e.name != "usr")
    if elsewhere:
        unseen = ", ".join(f"/{name}" for name in elsewhere)
        record.line(
            f"only /usr of the installed packages is in the buildroot; not seen: {unseen}",
            shown=True,
        )
    usr = files.lstat(f"{tree}/usr")
    if usr is None:
        return None
    if usr.kind != "directory":
        raise BuildrootFailed("the buildroot's usr is not a directory")
    problem = usr_overlay_problem()
    if problem is not None:
        raise BuildrootFailed(f"this builder cannot show the buildroot to the build: {problem}")
    return task.workdir / tree / "usr"


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [_text(item) for item in value[:1000]]


def _text(value: object) -> str:
    return str(value)[:1000]
