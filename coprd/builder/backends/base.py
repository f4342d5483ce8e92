"""What a build backend is: it turns one source RPM into binary RPMs for one chroot.

An implementation (``local.py``: rpmbuild in bubblewrap; ``mock.py``: mock) takes an
:class:`RpmTask`, streams its log through ``on_output`` while it works, stops when ``cancel``
is set or ``timeout_s`` has passed, leaves the binary RPMs in ``outdir`` and says how it went
in an :class:`RpmResult`. It never raises for anything the package does: a broken SRPM, a
failing %build or a build that runs too long are results, not exceptions.

The build writes into ``workdir``; ``outdir`` is the agent's alone. A backend opens a
:class:`~coprd.builder.confined.ConfinedDir` on ``workdir`` before the build starts and
:func:`collect_packages` copies the RPMs through it into ``outdir``, so nothing the build
planted (a symlink to a host directory in place of its result directory, say) is followed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from coprd.builder._process import ProcessResult
from coprd.builder.confined import ConfinedDir, ConfinementError
from coprd.builder.macros import split_chroot
from coprd.builder.sandbox import SandboxPolicy
from coprd.builder.srpm import InvalidPackage, Nevra, arch_allowed, inspect_rpm, inspect_srpm
from coprd.config import Settings
from coprd.core.limits import too_many_bytes, too_many_files

_DEFAULTS = Settings()
_BCOND = re.compile(r"[A-Za-z0-9_]+")
# name, name:stream, name:stream/profile; a leading ! disables the module.
_MODULE = re.compile(r"!?[A-Za-z0-9_.+-]+(:[A-Za-z0-9_.+-]+)?(/[A-Za-z0-9_.+-]+)?")
_REPO_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
ISOLATIONS = ("default", "simple", "nspawn")
BOOTSTRAPS = ("default", "on", "off", "image", "custom_image")

MAX_PACKAGE = 4 * 1024 * 1024 * 1024
"""The largest binary RPM a backend collects."""
MAX_RESULT_ENTRIES = 100_000
"""How many files and directories a result directory may hold (texlive has ~6,000 RPMs)."""


def _plain(value: str) -> bool:
    """One printable line without spaces that cannot pass for a command-line option, nor
    hold a template (:func:`_templated`)."""
    return (
        bool(value)
        and value.isprintable()
        and not value.startswith("-")
        and " " not in value
        and not _templated(value)
    )


def _templated(value: str) -> bool:
    """Whether ``value`` could hold a Jinja template (``{{``, ``{%``, ``{#``). mock reads
    every string of its config as one, again until it stops changing (outside Jinja's
    sandbox in releases before the fix of CVE-2023-6395, in a process that runs as root),
    so no value a user chose (a repository URL, a package name) may carry a "{" into it."""
    return "{" in value


@dataclass(frozen=True)
class BuildRepo:
    """A repository of the buildroot: ``baseurl``, its id, name, ``priority`` and
    ``module_hotfixes`` (dnf's options), and whether it is ``served`` by the agent's own
    server (the project's repository: the agent fetches it itself, see ``buildroot.py``)."""

    baseurl: str
    id: str = "repo"
    name: str = ""
    priority: int | None = None
    module_hotfixes: bool = False
    served: bool = False

    def __post_init__(self) -> None:
        if not _plain(self.baseurl):
            raise ValueError(f"not a repository URL: {self.baseurl!r}")
        if not _REPO_ID.fullmatch(self.id):
            raise ValueError(f"not a repository id: {self.id!r}")
        if not self.name.isprintable() or _templated(self.name):
            raise ValueError(f"not a repository name: {self.name!r}")
        if self.priority is not None and not 1 <= self.priority <= 99:
            raise ValueError(f"not a repository priority: {self.priority!r}")


@dataclass(frozen=True)
class RpmTask:
    """One chroot's build of one SRPM, as a backend needs it (paths are on this host).

    ``workdir`` is the backend's scratch space (it may delete and create anything in it);
    ``outdir`` receives the binary RPMs. ``with_opts``/``without_opts`` are bcond names for
    ``--with``/``--without``; ``repos`` are the buildroot's repositories and
    ``buildroot_pkgs`` extra packages for it; ``modules`` are module streams to enable
    (``name:stream``) or disable (``!name``); ``isolation``, ``bootstrap`` and
    ``bootstrap_image`` are mock's. A backend that cannot honour one of them says so in
    the log.
    """

    srpm: Path
    chroot: str
    outdir: Path
    workdir: Path
    enable_net: bool
    timeout_s: float
    memory_bytes: int | None
    with_opts: tuple[str, ...]
    without_opts: tuple[str, ...]
    repos: tuple[BuildRepo, ...]
    buildroot_pkgs: tuple[str, ...]
    modules: tuple[str, ...] = ()
    isolation: str = "default"
    bootstrap: str = "default"
    bootstrap_image: str | None = None
    # The agent's sandbox settings (limits, build uid), for backends that use the sandbox.
    sandbox: SandboxPolicy = field(default_factory=SandboxPolicy)
    # What the build may leave behind (the agent's settings max_result_files/_bytes), and
    # what of it the agent stores itself besides what the backend collects (SRPM, spec).
    max_result_files: int = _DEFAULTS.max_result_files
    max_result_bytes: int = _DEFAULTS.max_result_bytes
    reserved_files: int = 0
    reserved_bytes: int = 0
    # Downloads a URL of the agent's own server into a file (the local backend's buildroot
    # fetches the project's repository with it); None where there is no server (tests).
    fetch: Callable[[str, Path], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        split_chroot(self.chroot)
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        for option in self.with_opts + self.without_opts:
            if not _BCOND.fullmatch(option):
                raise ValueError(f"not a bcond name: {option!r}")
        for value in self.buildroot_pkgs:
            if not _plain(value):
                raise ValueError(f"not a package name: {value!r}")
        for module in self.modules:
            if not _MODULE.fullmatch(module):
                raise ValueError(f"not a module (name:stream or !name): {module!r}")
        if self.isolation not in ISOLATIONS:
            raise ValueError(f"not an isolation: {self.isolation!r}")
        if self.bootstrap not in BOOTSTRAPS:
            raise ValueError(f"not a bootstrap setting: {self.bootstrap!r}")
        if self.bootstrap_image is not None and not _plain(self.bootstrap_image):
            raise ValueError(f"not a container image: {self.bootstrap_image!r}")


@dataclass(frozen=True)
class RpmResult:
    """How a build ended; ``packages`` are the binary RPMs in ``outdir`` on success.

    ``message`` is one line for people: empty or a summary on success, the reason otherwise
    ("timed out after 3600 s", "rpmbuild exited with status 1", "canceled").
    """

    state: Literal["succeeded", "failed", "canceled"]
    packages: list[Nevra]
    message: str


class Backend(Protocol):
    """Builds binary RPMs from an SRPM; ``name`` is what the agent advertises (``local``…)."""

    name: str

    def build_rpm(
        self,
        task: RpmTask,
        on_output: Callable[[bytes], None],
        cancel: threading.Event | None = None,
    ) -> RpmResult:
        """Build ``task``; stream the log to ``on_output``; stop soon after ``cancel`` is set.

        Blocks until the build has ended and none of its processes runs any more.
        """
        ...


def log_line(marker: str, text: str) -> bytes:
    """One line of coprd's own for a build log, ``[marker] text``. Names in ``text`` may be
    the build's (file names, package names): a newline, a carriage return or a terminal
    escape in them is written as ``\\xNN``, so that they cannot fake a line of coprd's."""
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return f"[{marker}] {shown}\n".encode(errors="replace")


def write_note(on_output: Callable[[bytes], None], text: str) -> None:
    """A line of the backend's own in the build log, marked as coprd's, not the build's."""
    on_output(log_line("coprd", text))


def failed(on_output: Callable[[bytes], None], message: str) -> RpmResult:
    """A failed result; the message also goes to the log, so the log says why it ended."""
    write_note(on_output, f"failed: {message}")
    return RpmResult("failed", [], message)


class TooManyResults(Exception):
    """The build made more packages, or bigger ones, than this builder accepts; ``str``
    is the sentence for the log."""


def collect_packages(
    results: ConfinedDir,
    where: str,
    outdir: Path,
    on_output: Callable[[bytes], None],
    *,
    max_files: int = _DEFAULTS.max_result_files,
    max_bytes: int = _DEFAULTS.max_result_bytes,
    besides_files: int = 0,
    besides_bytes: int = 0,
) -> list[Nevra]:
    """Copy the binary RPMs the build left under ``where`` (in ``results``) into ``outdir``.

    ``results`` is the handle on the work directory taken before the build ran. Nothing at
    ``where``: no packages. A symlink on the way to ``where``, or at it, raises
    ConfinementError: the build swapped its result directory for something else, and the
    task fails saying so. Below ``where`` every directory is searched and no link is
    followed: a symlink, FIFO or device there is skipped with a note in the log. Each
    regular ``*.rpm`` (not ``*.src.rpm``) is copied, checked to be an intact binary RPM
    (InvalidPackage otherwise) and stored as ``name-version-release.arch.rpm`` whatever the
    build called it. More than ``max_files`` packages, or more than ``max_bytes`` of them,
    raise TooManyResults before any is copied (copying and checking one takes ~20 ms);
    ``besides_files`` and ``besides_bytes`` are the task's other results, counted too.
    """
    if results.lstat(where) is None:
        return []
    entries = results.walk(where, max_entries=MAX_RESULT_ENTRIES)
    wanted = [e for e in entries if e.kind == "file" and _is_binary_rpm(e.name)]
    refused = too_many_files(
        len(wanted), max_files, who="this builder", besides=besides_files
    ) or too_many_bytes(
        sum(e.size for e in wanted), max_bytes, who="this builder", besides=besides_bytes
    )
    if refused:
        raise TooManyResults(refused)
    outdir.mkdir(parents=True, exist_ok=True)
    packages: list[Nevra] = []
    seen: set[Path] = set()
    for entry in entries:
        if entry.kind != "file":
            write_note(on_output, f"skipped {entry.name}: not a regular file")
            continue
        if not _is_binary_rpm(entry.name):
            continue
        partial = outdir / ".incoming"  # not the build's name: it may be any length
        results.copy_file(entry.path, partial, MAX_PACKAGE)
        try:
            nevra = inspect_rpm(partial)
        except InvalidPackage:
            partial.unlink()
            raise
        final = outdir / f"{nevra.name}-{nevra.version}-{nevra.release}.{nevra.arch}.rpm"
        if final in seen:
            partial.unlink()
            write_note(on_output, f"skipped {entry.name}: a second copy of {nevra}")
            continue
        partial.replace(final)
        seen.add(final)
        packages.append(nevra)
    return sorted(packages, key=str)


MAX_TOOL_LOG = 256 * 1024 * 1024
"""The largest log of a build tool (mock's ``build.log``, …) a backend collects."""


def collect_logs(
    results: ConfinedDir,
    where: str,
    names: Sequence[str],
    outdir: Path,
    on_output: Callable[[bytes], None],
    *,
    max_files: int,
    max_bytes: int,
) -> list[Path]:
    """Copy the logs ``names`` that a build tool left directly under ``where`` (in
    ``results``, as for :func:`collect_packages`) into ``outdir``, whatever the build's
    outcome; returns the copies. A log that is missing is not looked for further; one that
    is not a regular file, is larger than :data:`MAX_TOOL_LOG`, or would take the logs
    past ``max_files`` or ``max_bytes`` (what the task's results may hold) is skipped
    with a note. Nothing at ``where``, or a symlink on the way: no logs.
    """
    try:
        if results.lstat(where) is None:
            return []
        entries = {e.name: e for e in results.list_dir(where, max_entries=MAX_RESULT_ENTRIES)}
    except ConfinementError as error:
        write_note(on_output, f"no logs collected: {error}")
        return []
    outdir.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    total = 0
    for name in names:
        entry = entries.get(name)
        if entry is None:
            continue
        if entry.kind != "file":
            write_note(on_output, f"skipped {name}: not a regular file")
            continue
        if (
            entry.size > MAX_TOOL_LOG
            or len(copied) + 1 > max_files
            or total + entry.size > max_bytes
        ):
            write_note(on_output, f"skipped {name}: the task's results have no room for it")
            continue
        try:
            total += results.copy_file(entry.path, outdir / name, MAX_TOOL_LOG)
        except (ConfinementError, FileExistsError) as error:
            write_note(on_output, f"skipped {name}: {error}")
            continue
        copied.append(outdir / name)
    return copied


def _is_binary_rpm(name: str) -> bool:
    return name.endswith(".rpm") and not name.endswith(".src.rpm")


def srpm_problem(task: RpmTask) -> str | None:
    """Why ``task.srpm`` cannot be built for ``task.chroot`` at all, or None if it can.

    Not an intact source RPM, or its ExclusiveArch/ExcludeArch rule out the chroot's
    architecture (the service normally skips such chroots before a backend sees them).
    """
    arch = split_chroot(task.chroot)[2]
    try:
        info = inspect_srpm(task.srpm)
    except InvalidPackage as error:
        return f"invalid source RPM: {error}"
    except OSError as error:
        return f"cannot read the source RPM {task.srpm.name}: {error.strerror}"
    if not arch_allowed(info, arch):
        return (
            f"{info.name} does not build for {arch} "
            f"(ExclusiveArch: {' '.join(info.exclusive_arch) or '-'}; "
            f"ExcludeArch: {' '.join(info.exclude_arch) or '-'})"
        )
    return None


def rpm_result(
    tool: str,
    ended: ProcessResult,
    on_output: Callable[[bytes], None],
    collect: Callable[[], list[Nevra]],
    exit_text: str | None = None,
) -> RpmResult:
    """The task's result from how ``tool`` ended and the packages ``collect`` finds."""
    if ended.canceled:
        write_note(on_output, "canceled")
        return RpmResult("canceled", [], "canceled")
    if ended.timed_out or ended.limit_exceeded:
        return failed(on_output, ended.reason)
    if ended.returncode != 0:
        return failed(on_output, f"{tool} {exit_text or ended.reason}")
    try:
        packages = collect()
    except InvalidPackage as error:
        return failed(on_output, f"{tool} produced an invalid package: {error}")
    except ConfinementError as error:
        return failed(on_output, f"{tool}'s results cannot be collected: {error}")
    except TooManyResults as error:
        return failed(on_output, str(error))
    if not packages:
        return failed(on_output, f"{tool} produced no binary RPMs")
    write_note(on_output, f"built {', '.join(str(p) for p in packages)}")
    return RpmResult("succeeded", packages, f"built {len(packages)} package(s)")
