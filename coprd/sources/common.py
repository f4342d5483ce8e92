"""What every source type shares: the job's directories, sandboxed steps, downloads, specs.

A :class:`Job` is one source task on the agent. Its work directory holds two parts:

``<workdir>/sandbox/``
    mounted at ``/builddir`` in the sandbox; every step that runs user-controlled content
    (git, make, a custom script, rpmbuild parsing a spec) works here, with the network on
    (the sandbox's own, routed out by slirp4netns; the host's loopback out of reach).
``<workdir>/result/``
    never visible to the sandbox; the finished SRPM is copied here and only here is it
    read by the agent (inspected, renamed, uploaded).

Anything a sandboxed step left in ``sandbox/`` is untrusted on the host: any part of a path
there may be a symlink to anywhere. :meth:`Job.start` opens ``sandbox/`` as a
:class:`~coprd.builder.confined.ConfinedDir` before any step runs, and every later look
into it goes through that handle (:attr:`Job.files`): listing, reading, copying the SRPM
out, and the agent's own writes there (downloads, fresh directories), so that no symlink
the sandbox planted is followed, at any component. Errors name the path relative to
``sandbox/``. A spec or Makefile is only checked to exist there (a symlink is fine): the
agent never opens it, rpmbuild or make in the sandbox does.

Downloads of plain files whose URLs the server's settings determine (a PyPI simple index
and its sdists, a RubyGems source and its gems, a dist-git lookaside cache) are done here in
the agent with httpx, not in the sandbox: they execute nothing, only http and https URLs
are fetched, each response is size-limited, and hashes are checked where the index gives
them. The agent reads them as data only (index pages, ``PKG-INFO``, a gem's metadata),
never extracts an archive on the host. Source URLs *inside a spec* are fetched by rpmbuild
itself in the sandbox (``_disable_source_fetch 0``, curl limited to http, https, ftp and
ftps), as Copr's builders do.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx

from coprd.builder._process import format_seconds
from coprd.builder.backends.base import log_line
from coprd.builder.confined import ConfinedDir, ConfinementError, Entry
from coprd.builder.sandbox import (
    SANDBOX_WORKDIR,
    SandboxPolicy,
    SandboxResult,
    SandboxSpec,
    SandboxUnavailable,
    run_sandboxed,
)

MAX_PAGE = 32 * 1024 * 1024
"""An index page or API answer."""
MAX_ARCHIVE = 1024 * 1024 * 1024
"""An sdist or a gem."""
MAX_LOOKASIDE = 4 * 1024 * 1024 * 1024
"""One file of a dist-git lookaside cache (kernel tarballs are large)."""
MAX_SRPM = 4 * 1024 * 1024 * 1024
"""An SRPM a sandboxed step made or downloaded."""
HTTP_ATTEMPTS = 3
_CHUNK = 1024 * 1024

FILE_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+~-]{0,254}")
"""A file name the agent writes or names in a spec: no path, no leading dot or dash."""

# rpmbuild fetches Source URLs missing from %_sourcedir with curl; only these protocols.
_URLHELPER_OPTS = "--proto -all,+http,+https,+ftp,+ftps --max-filesize 4G"


class SourceFailed(Exception):
    """The source could not be turned into an SRPM; ``str(err)`` says why, for the user."""


class NotFound(SourceFailed):
    """An HTTP 404 (or 410): the index, gem source or lookaside has no such thing."""


def note(log: Callable[[bytes], None], text: str) -> None:
    """An agent's line in the task's log (as ``LiveLog.line`` writes them)."""
    log(log_line("coprd-agent", text))


@dataclass(frozen=True)
class Fetched:
    url: str
    content_type: str
    content: bytes


@dataclass
class Job:
    """One source task on this agent; see the module docstring."""

    task: Mapping[str, Any]
    root: Path
    out: Path
    files: ConfinedDir
    """:attr:`root`, opened before any sandboxed step: the only way into it afterwards."""
    log: Callable[[bytes], None]
    cancel: threading.Event
    http: httpx.Client
    timeout_s: float
    memory_bytes: int | None = None
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    uploaded: Path | None = None
    """An ``upload`` build's file, fetched by the agent (its own, outside :attr:`root`)."""
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout_s

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.files.close()

    @classmethod
    def start(
        cls,
        task: Mapping[str, Any],
        workdir: Path,
        log: Callable[[bytes], None],
        cancel: threading.Event,
        http: httpx.Client,
        policy: SandboxPolicy | None = None,
        uploaded: Path | None = None,
    ) -> Job:
        root = workdir / "sandbox"
        out = workdir / "result"
        for path in (root, out):
            path.mkdir(mode=0o755)
        memory = task.get("memory_limit_mb")
        return cls(
            task=task,
            root=root,
            out=out,
            files=ConfinedDir(root),
            log=log,
            cancel=cancel,
            http=http,
            timeout_s=float(task.get("timeout") or 5 * 3600),
            memory_bytes=int(memory) * 1024 * 1024 if memory else None,
            policy=policy or SandboxPolicy(),
            uploaded=uploaded,
        )

    @property
    def source(self) -> Mapping[str, Any]:
        source = self.task.get("source")
        return source if isinstance(source, dict) else {}

    def note(self, text: str) -> None:
        note(self.log, text)

    def check_time(self) -> float:
        """Seconds left; raises SourceFailed once canceled or past the task's timeout."""
        if self.cancel.is_set():
            raise SourceFailed("canceled")
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise SourceFailed(f"timed out after {format_seconds(self.timeout_s)} s")
        return left

    # -- paths --------------------------------------------------------------------------

    def inside(self, path: Path) -> PurePosixPath:
        """Where ``path`` (a host path under :attr:`root`) is in the sandbox; lexical."""
        return SANDBOX_WORKDIR / path.relative_to(self.root).as_posix()

    def shown(self, path: Path) -> str:
        """``path`` as the user knows it: relative to the sandbox's work directory."""
        try:
            relative = path.relative_to(self.root).as_posix()
        except ValueError:
            return path.name
        return relative or "."

    def rel(self, path: Path) -> str:
        """``path`` (a host path under :attr:`root`) relative to it, for :attr:`files`."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            raise SourceFailed(f"{path.name} is not inside the work directory") from None

    def lstat(self, path: Path) -> Entry | None:
        """What is at ``path`` (a symlink is reported, not followed), or None."""
        with _confined():
            return self.files.lstat(self.rel(path))

    def directory(self, path: Path, what: str) -> Path:
        """``path`` if it is a directory (reached without a symlink), or SourceFailed naming it."""
        try:
            found = self.files.is_dir(self.rel(path))
        except SourceFailed:  # not under root at all
            found = False
        if not found:
            raise SourceFailed(f"{what} {self.shown(path)!r} is not a directory")
        return path

    def fresh_dir(self, path: Path) -> Path:
        """An empty directory at ``path`` (under :attr:`root`), whatever was there."""
        with _confined():
            self.files.remove(self.rel(path))
            self.files.make_dir(self.rel(path))
        return path

    def remove(self, path: Path) -> None:
        """Remove whatever is at ``path`` (under :attr:`root`), following no symlink."""
        with _confined():
            self.files.remove(self.rel(path))

    def read_file(self, path: Path, limit: int) -> bytes:
        """A regular file a sandboxed step may have written, at most ``limit`` bytes."""
        with _confined():
            return self.files.read_bytes(self.rel(path), limit)

    def copy_out(self, path: Path) -> Path:
        """Copy an SRPM a sandboxed step wrote into :attr:`out`; returns the copy."""
        if not FILE_NAME.fullmatch(path.name):
            raise SourceFailed(f"{self.shown(path)} is not a usable file name")
        dest = self.out / path.name
        with _confined():
            self.files.copy_file(self.rel(path), dest, MAX_SRPM)
        return dest

    def one_srpm(self, directory: Path, what: str) -> Path:
        """The only ``*.src.rpm`` a step left in ``directory``, copied out of the sandbox."""
        try:
            entries = self.files.list_dir(self.rel(directory))
        except ConfinementError as error:
            raise SourceFailed(f"{what}'s output directory {error}") from None
        found = [e.name for e in entries if e.name.endswith(".src.rpm")]
        if not found:
            raise SourceFailed(f"{what} made no .src.rpm in {self.shown(directory)}")
        if len(found) > 1:
            raise SourceFailed(f"{what} made several SRPMs, expected one: {', '.join(found)}")
        srpm = self.copy_out(directory / found[0])
        self.note(f"{what} made {srpm.name}")
        return srpm

    # -- sandboxed steps ------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        what: str,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        capture: bool = False,
        check: bool = True,
        shown: Sequence[str] | None = None,
    ) -> tuple[SandboxResult, bytes]:
        """Run ``argv`` in the sandbox (network on) with what is left of the task's time.

        The command (or ``shown``, a shorter form of it) is logged, and its output too, or
        with ``capture`` only returned. Raises SourceFailed for a timeout, a cancel, or (with
        ``check``) a non-zero exit.
        """
        left = self.check_time()
        prefix: list[str] = []
        if cwd is not None or env:
            prefix = ["env"]
            if cwd is not None:
                prefix += ["-C", str(self.inside(cwd))]
            prefix += [f"{key}={value}" for key, value in (env or {}).items()]
        if not capture:
            self.note(f"$ {shlex.join(shown or argv)}")
        captured = bytearray()
        sink: Callable[[bytes], None] = captured.extend if capture else self.log
        spec = SandboxSpec(
            workdir=self.root,
            network=True,
            timeout_s=left,
            memory_bytes=self.memory_bytes,
            policy=self.policy,
        )
        try:
            result = run_sandboxed([*prefix, *argv], spec, sink, self.cancel)
        except SandboxUnavailable as exc:
            raise SourceFailed(str(exc)) from None
        if result.canceled:
            raise SourceFailed("canceled")
        if result.timed_out:
            raise SourceFailed(
                f"{what} timed out: the task's time ({format_seconds(self.timeout_s)} s) ran out"
            )
        if result.limit_exceeded:
            raise SourceFailed(f"{what} was stopped: {result.reason}")
        if check and result.returncode != 0:
            if capture and captured:
                self.log(bytes(captured))
            raise SourceFailed(f"{what} failed: {argv[0]} {result.reason}")
        return result, bytes(captured)

    def rpmbuild_srpm(self, spec: Path, sourcedir: Path, *, fetch: bool = True) -> Path:
        """``rpmbuild -bs`` of ``spec`` with ``sourcedir`` as %_sourcedir, in the sandbox.

        With ``fetch``, Source URLs not present in ``sourcedir`` are downloaded by rpmbuild.
        ``%dist`` is empty, as for Copr's SRPM builds.
        """
        topdir = self.fresh_dir(self.root / ".coprd-rpmbuild")
        srpm_dir = self.fresh_dir(self.root / ".coprd-srpm")
        argv = [
            "rpmbuild",
            "-bs",
            "--nodeps",
            "--define",
            f"_topdir {self.inside(topdir)}",
            "--define",
            f"_sourcedir {self.inside(sourcedir)}",
            "--define",
            f"_specdir {self.inside(sourcedir)}",
            "--define",
            f"_srcrpmdir {self.inside(srpm_dir)}",
            "--define",
            f"_tmppath {self.inside(topdir)}",
            "--define",
            "dist %{nil}",
        ]
        if fetch:
            argv += [
                "--define",
                "_disable_source_fetch 0",
                "--define",
                f"__urlhelper_localopts {_URLHELPER_OPTS}",
            ]
        argv.append(str(self.inside(spec)))
        self.run(argv, "rpmbuild -bs")
        return self.one_srpm(srpm_dir, "rpmbuild -bs")

    def find_spec(self, directory: Path, name: str = "") -> Path:
        """``name`` in ``directory``, or the only ``*.spec`` there; SourceFailed otherwise.

        The spec may be a symlink: the agent never opens it, rpmbuild in the sandbox does.
        """
        if name:
            path = directory / name
            if not self.is_sandbox_file(path):
                raise SourceFailed(f"there is no spec file {self.shown(path)!r}")
            return path
        where = self.shown(directory)
        try:
            entries = self.files.list_dir(self.rel(directory))
        except ConfinementError:
            raise SourceFailed(f"the directory {where!r} is not a directory") from None
        specs = [e.name for e in entries if e.name.endswith(".spec") and e.kind != "directory"]
        if not specs:
            raise SourceFailed(f"no .spec file in {where!r}")
        if len(specs) > 1:
            raise SourceFailed(
                f"several .spec files in {where!r}: {', '.join(specs)}; name the one to build"
            )
        return directory / specs[0]

    def is_sandbox_file(self, path: Path) -> bool:
        """Whether ``path`` is a file for a sandboxed step to read (a regular file, or a
        symlink that the sandbox resolves in its own view); a directory on the way must not
        be a symlink."""
        try:
            entry = self.files.lstat(self.rel(path))
        except (ConfinementError, SourceFailed):
            return False
        return entry is not None and entry.kind in ("file", "symlink")

    # -- downloads ------------------------------------------------------------------------

    def get(self, url: str, what: str, *, accept: str | None = None) -> Fetched:
        """GET a small document (an index page, an API answer), at most :data:`MAX_PAGE`."""
        chunks: list[bytes] = []
        final, content_type = self._stream(url, what, chunks.append, chunks.clear, MAX_PAGE, accept)
        return Fetched(final, content_type, b"".join(chunks))

    def download(
        self,
        url: str,
        dest: Path,
        what: str,
        *,
        limit: int = MAX_ARCHIVE,
        digest: tuple[str, str] | None = None,
    ) -> None:
        """Fetch ``url`` into the new file ``dest`` (under :attr:`root`; whatever was there is
        replaced); ``digest`` = (hash name, hex value) is checked, and the file removed if it
        does not match."""
        self.note(f"downloading {url}")
        rel = self.rel(dest)
        with _confined():
            self.files.remove(rel)
            opened = self.files.create_file(rel)
        hashers: list[hashlib._Hash] = []
        try:
            with opened as file:

                def start() -> None:  # each attempt starts from an empty file
                    file.seek(0)
                    file.truncate()
                    hashers[:] = [hashlib.new(digest[0])] if digest else []

                def write(chunk: bytes) -> None:
                    file.write(chunk)
                    for hasher in hashers:
                        hasher.update(chunk)

                self._stream(url, what, write, start, limit, None)
            if digest is not None:
                got = hashers[0].hexdigest()
                if got.lower() != digest[1].lower():
                    raise SourceFailed(
                        f"{what} {url} does not match its {digest[0]} hash "
                        f"(expected {digest[1]}, got {got})"
                    )
        except BaseException:
            self.files.remove(rel)
            raise

    def _stream(
        self,
        url: str,
        what: str,
        write: Callable[[bytes], object],
        start: Callable[[], object],
        limit: int,
        accept: str | None,
    ) -> tuple[str, str]:
        """GET ``url``, passing the body to ``write``; transport errors, 5xx and 429 are
        tried again (``start`` is called before each attempt), other errors raise
        SourceFailed (NotFound for 404 and 410)."""
        check_url(url, what)
        headers = {"Accept": accept} if accept else {}
        delay = 1.0
        for attempt in range(1, HTTP_ATTEMPTS + 1):
            self.check_time()
            start()
            size = 0
            try:
                with self.http.stream(
                    "GET", url, headers=headers, follow_redirects=True
                ) as response:
                    status = response.status_code
                    reason = f"{url} answered {status} {response.reason_phrase}"
                    if status in (404, 410):
                        raise NotFound(f"{what}: {reason}")
                    if 400 <= status < 500 and status != 429:
                        raise SourceFailed(f"{what}: {reason}")
                    if status >= 400:
                        raise _Transient(reason)
                    for chunk in response.iter_bytes(_CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise SourceFailed(f"{what}: {url} is larger than {limit} bytes")
                        self.check_time()
                        write(chunk)
                    return str(response.url), response.headers.get("content-type", "")
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise SourceFailed(f"{what}: could not fetch {url}: {exc}") from None
            except (_Transient, httpx.TransportError) as exc:
                if attempt == HTTP_ATTEMPTS:
                    raise SourceFailed(f"{what}: could not fetch {url}: {exc}") from None
                self.note(f"could not fetch {url} ({exc}); trying again in {delay:.0f} s")
            except httpx.HTTPError as exc:  # too many redirects, a broken encoding, …
                raise SourceFailed(f"{what}: could not fetch {url}: {exc}") from None
            if self.cancel.wait(delay):
                raise SourceFailed("canceled")
            delay *= 2
        raise AssertionError("unreachable")


class _Transient(Exception):
    pass


def check_url(url: str, what: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """``url`` if it is a plain URL with a host and one of ``schemes``; only http and
    https URLs are fetched by the agent itself (curl in the sandbox also fetches ftp)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        allowed = ", ".join(schemes)
        raise SourceFailed(f"{what}: refusing to fetch {url[:200]!r} (only {allowed} URLs)")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise SourceFailed(f"{what}: refusing to fetch {url[:200]!r} (not a plain URL)")
    return url


@contextmanager
def _confined() -> Iterator[None]:
    """A path the sandbox made unusable, as the task's failure (its message names it)."""
    try:
        yield
    except ConfinementError as error:
        raise SourceFailed(str(error)) from None


def spec_escape(text: str) -> str:
    """``text`` as literal spec text: ``%`` doubled so rpm expands no macro of it."""
    return text.replace("%", "%%")


def one_line(text: str, limit: int = 200) -> str:
    """``text`` as one line: control characters and newlines become spaces, runs of spaces
    one, and the length is bounded."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3].rstrip() + "..."
    return cleaned


def spec_line(text: str, limit: int = 200) -> str:
    """One line of plain text for a spec tag (Summary, License, URL), ``%`` escaped."""
    return spec_escape(one_line(text, limit))


def spec_paragraph(text: str, limit: int = 4000) -> str:
    """Text for a %description: printable lines, bounded, ``%`` escaped, never empty.

    rpm looks for sections (``%files``), conditionals (``%if``) and comments (``#``) in
    each line *after* expanding it, so an escaped ``%%if`` would still open a conditional:
    a line starting with ``%`` gets ``> `` before it, and a leading ``#`` (a Markdown
    heading, usually) is dropped.
    """
    lines = []
    for raw in text.splitlines():
        line = "".join(c for c in raw if c.isprintable()).rstrip()
        stripped = line.lstrip()
        if stripped.startswith("#"):
            line = stripped.lstrip("#").strip()
        elif stripped.startswith("%"):
            line = "> " + stripped
        lines.append(line)
    body = "\n".join(lines).strip()
    if len(body) > limit:
        body = body[:limit].rstrip() + "\n..."
    return spec_escape(body) or "No description."
