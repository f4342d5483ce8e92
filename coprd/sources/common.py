"""What every source type shares: the job's directories, sandboxed steps, downloads, specs.

A :class:`Job` is one source task on the agent. Its work directory holds two parts:

``<workdir>/sandbox/``
    mounted at ``/builddir`` in the sandbox; every step that runs user-controlled content
    (git, make, a custom script, rpmbuild parsing a spec) works here, with the network on
    (the sandbox's own, routed out by slirp4netns; the host's loopback out of reach).
``<workdir>/result/``
    never visible to the sandbox; the finished SRPM is copied here and only here is it
    read by the agent (inspected, renamed, uploaded).

Anything a sandboxed step left in ``sandbox/`` is untrusted on the host: it may be a symlink
to anywhere. The agent reads such files only through :meth:`Job.contained` (the resolved
path must stay inside ``sandbox/``) and opens them with ``O_NOFOLLOW``; files it writes
there are created with ``O_EXCL | O_NOFOLLOW`` after removing what was in the way.

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

import errno
import hashlib
import os
import re
import shlex
import shutil
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx

from coprd.builder._process import format_seconds
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
    log(f"[coprd-agent] {text}\n".encode(errors="replace"))


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
    log: Callable[[bytes], None]
    cancel: threading.Event
    http: httpx.Client
    timeout_s: float
    memory_bytes: int | None = None
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout_s

    @classmethod
    def start(
        cls,
        task: Mapping[str, Any],
        workdir: Path,
        log: Callable[[bytes], None],
        cancel: threading.Event,
        http: httpx.Client,
        policy: SandboxPolicy | None = None,
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
            log=log,
            cancel=cancel,
            http=http,
            timeout_s=float(task.get("timeout") or 5 * 3600),
            memory_bytes=int(memory) * 1024 * 1024 if memory else None,
            policy=policy or SandboxPolicy(),
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

    def contained(self, path: Path) -> Path | None:
        """``path`` resolved on the host if it exists and stays inside :attr:`root`."""
        try:
            resolved = path.resolve(strict=True)
            resolved.relative_to(self.root.resolve())
        except (OSError, ValueError, RuntimeError):
            return None
        return resolved

    def directory(self, path: Path, what: str) -> Path:
        """``path`` as a directory inside the work directory, or SourceFailed naming it."""
        resolved = self.contained(path)
        if resolved is None or not resolved.is_dir():
            raise SourceFailed(f"{what} {self.shown(path)!r} is not a directory")
        return resolved

    def fresh_dir(self, path: Path) -> Path:
        """An empty directory at ``path`` (under :attr:`root`), whatever was there."""
        remove(path)
        path.mkdir(parents=True)
        return path

    def read_file(self, path: Path, limit: int) -> bytes:
        """A regular file a sandboxed step may have written, read safely (no symlinks)."""
        if self.contained(path.parent) is None:
            raise SourceFailed(f"{self.shown(path)} is not inside the work directory")
        fd = self._open(path)
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SourceFailed(f"{self.shown(path)} is not a regular file")
            data = file.read(limit + 1)
        if len(data) > limit:
            raise SourceFailed(f"{self.shown(path)} is larger than {limit} bytes")
        return data

    def _open(self, path: Path) -> int:
        try:
            return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise SourceFailed(f"{self.shown(path)} is not a regular file") from None
            raise SourceFailed(f"cannot read {self.shown(path)}: {exc.strerror}") from None

    def copy_out(self, path: Path) -> Path:
        """Copy an SRPM a sandboxed step wrote into :attr:`out`; returns the copy."""
        if self.contained(path.parent) is None or not FILE_NAME.fullmatch(path.name):
            raise SourceFailed(f"{self.shown(path)} is not a usable file name")
        fd = self._open(path)
        dest = self.out / path.name
        with os.fdopen(fd, "rb") as src:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SourceFailed(f"{self.shown(path)} is not a regular file")
            with dest.open("xb") as dst:
                shutil.copyfileobj(src, dst)
        return dest

    def one_srpm(self, directory: Path, what: str) -> Path:
        """The only ``*.src.rpm`` a step left in ``directory``, copied out of the sandbox."""
        resolved = self.directory(directory, f"{what}'s output directory")
        found = sorted(p.name for p in resolved.iterdir() if p.name.endswith(".src.rpm"))
        if not found:
            raise SourceFailed(f"{what} made no .src.rpm in {self.shown(directory)}")
        if len(found) > 1:
            raise SourceFailed(f"{what} made several SRPMs, expected one: {', '.join(found)}")
        srpm = self.copy_out(resolved / found[0])
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
        """``name`` in ``directory``, or the only ``*.spec`` there; SourceFailed otherwise."""
        resolved = self.directory(directory, "the directory")
        if name:
            path = directory / name
            if self.contained(path) is None or not path.is_file():
                raise SourceFailed(f"there is no spec file {self.shown(path)!r}")
            return path
        specs = sorted(p.name for p in resolved.iterdir() if p.name.endswith(".spec"))
        where = self.shown(directory)
        if not specs:
            raise SourceFailed(f"no .spec file in {where!r}")
        if len(specs) > 1:
            raise SourceFailed(
                f"several .spec files in {where!r}: {', '.join(specs)}; name the one to build"
            )
        return directory / specs[0]

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
        """Fetch ``url`` into the new file ``dest``; ``digest`` = (hash name, hex value) is
        checked, and the file removed if it does not match."""
        self.note(f"downloading {url}")
        remove(dest)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        hashers: list[hashlib._Hash] = []
        try:
            with os.fdopen(fd, "wb") as file:

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
            dest.unlink(missing_ok=True)
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


def remove(path: Path) -> None:
    """Remove whatever is at ``path`` without following a symlink there."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        path.unlink()


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
