"""The builder agent: claim a task, build it, stream its log, upload results, finish.

The agent knows the server only by URL and builder token. It survives a short loss of
the server: every call is retried with backoff, a build in progress goes on meanwhile,
and its log is kept until the server takes it again. A task the server took back (lease
expired, 409) is abandoned at once.

A build is hostile code: its log is cut past ``max_log_bytes`` (its tail kept) and its
packages are counted before any is copied out of the build (by the backend) or uploaded,
with this host's settings (``AgentConfig``; the rules are ``core/limits.py``'s). The server
holds the build to its own settings too.
"""

from __future__ import annotations

import base64
import contextlib
import http.cookiejar
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from coprd.builder import workspace
from coprd.builder.backends.base import Backend, BuildRepo, RpmTask, log_line
from coprd.builder.provides import requirement_names, spec_provides
from coprd.builder.sandbox import SandboxPolicy
from coprd.builder.specfile import extract_spec
from coprd.builder.srpm import InvalidPackage, inspect_srpm
from coprd.config import Settings
from coprd.core.limits import cut_marker, ring_reads, ring_writes, split_head
from coprd.sources import SourceFailed, make_srpm
from coprd.sources.common import FILE_NAME
from coprd.sources.link import file_name

log = logging.getLogger("coprd.agent")

MAX_BACKOFF_S = 30.0
# How soon a cancel reaches a running build; the lease itself is longer.
HEARTBEAT_S = 3.0
# An idle agent's claim waits on the server this long for work (a long poll, woken as
# soon as a task becomes claimable); between claims it pauses poll_s and, if the server
# keeps answering at once, up to MAX_IDLE_POLL_S.
CLAIM_WAIT_S = 20.0
MAX_IDLE_POLL_S = 2.0
LOG_FLUSH_S = 1.0
LOG_FLUSH_BYTES = 256 * 1024
# One log request carries at most this (the server takes up to 1 MiB); the end of the log
# that travels with finish at most LOG_FINISH_BYTES (base64 makes it a third longer).
LOG_CHUNK_BYTES = 512 * 1024
LOG_FINISH_BYTES = 64 * 1024
UPLOAD_CHUNK = 1024 * 1024
MAX_DOWNLOAD = 4 * 1024 * 1024 * 1024
DOWNLOAD_ATTEMPTS = 5


class TaskLost(Exception):
    """The server no longer lets this agent work on the task (canceled or taken back)."""


_DEFAULTS = Settings()


@dataclass(frozen=True)
class AgentConfig:
    """One agent; the limits are the settings of the host it runs on (``load_settings``)."""

    server: str
    token: str
    arches: tuple[str, ...]
    workdir: Path
    poll_s: float = 0.5
    # What every sandbox of this agent may do and consume, and as which uid.
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    max_log_bytes: int = _DEFAULTS.max_log_bytes
    log_tail_bytes: int = _DEFAULTS.log_tail_bytes
    max_result_files: int = _DEFAULTS.max_result_files
    max_result_bytes: int = _DEFAULTS.max_result_bytes


class Server:
    """The agent's side of ``/backend``: every call retried until the server answers."""

    def __init__(self, config: AgentConfig, stop: threading.Event) -> None:
        self.config = config
        self.stop = stop
        self.client = httpx.Client(
            base_url=config.server.rstrip("/"),
            headers={"Authorization": f"Bearer {config.token}"},
            timeout=httpx.Timeout(60.0, connect=10.0),
        )
        self._anonymous: httpx.Client | None = None

    def anonymous(self) -> httpx.Client:
        """The client for URLs that get no token, made once: a new client loads the CA
        bundle, ~30 ms of CPU per download. It stores no cookies, so nothing one URL sets
        is sent with a later download (another user's)."""
        if self._anonymous is None:
            no_cookies = http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
            self._anonymous = httpx.Client(
                timeout=60.0, cookies=http.cookiejar.CookieJar(policy=no_cookies)
            )
        return self._anonymous

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        delay = 1.0
        while True:
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                log.warning("server unreachable (%s); retrying in %.0f s", exc, delay)
            else:
                if response.status_code in (404, 409):
                    raise TaskLost(response.text)
                if response.status_code < 500 and response.status_code != 429:
                    response.raise_for_status()
                    return response
                log.warning("server answered %s; retrying in %.0f s", response.status_code, delay)
            if self.stop.wait(delay):
                raise TaskLost("agent stopping")
            delay = min(delay * 2, MAX_BACKOFF_S)

    def download(self, url: str, dest: Path, *, authenticated: bool) -> None:
        """Fetch ``url`` into ``dest``; transient failures (transport, 5xx, 429) are retried.

        Only the server's own URLs get the builder token; a user's URL gets none.
        """
        delay = 1.0
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                self._download_once(url, dest, authenticated=authenticated)
                return
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                if (status < 500 and status != 429) or attempt == DOWNLOAD_ATTEMPTS:
                    raise
                log.warning("%s answered %s; retrying in %.0f s", url, status, delay)
            except httpx.TransportError as exc:
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise
                log.warning("could not fetch %s (%s); retrying in %.0f s", url, exc, delay)
            if self.stop.wait(delay):
                raise TaskLost("agent stopping")
            delay = min(delay * 2, MAX_BACKOFF_S)

    def _download_once(self, url: str, dest: Path, *, authenticated: bool) -> None:
        client = self.client if authenticated else self.anonymous()
        with client.stream("GET", url, follow_redirects=True) as response:
            response.raise_for_status()
            size = 0
            with dest.open("wb") as out:
                for chunk in response.iter_bytes(1024 * 1024):
                    size += len(chunk)
                    if size > MAX_DOWNLOAD:
                        raise InvalidPackage(f"{url} is larger than {MAX_DOWNLOAD} bytes")
                    out.write(chunk)


class _FileBody:
    """A file as a request body that is read from its start each time it is sent, so a
    retried upload sends the whole file again (an open file would go on from where the
    failed attempt stopped)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as data:
            while chunk := data.read(UPLOAD_CHUNK):
                yield chunk


def _refusal(response: httpx.Response) -> str:
    """The server's reason for a 4xx, from its ``{"error": …}`` body."""
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.reason_phrase}"


def _why(error: Exception) -> str:
    """Why a download failed, in one line (httpx's own text for a status adds a second line
    with a link to a web page)."""
    if isinstance(error, httpx.HTTPStatusError):
        response = error.response
        return f"the server answered {response.status_code} {response.reason_phrase}"
    return str(error) or type(error).__name__


class _Ring:
    """The last ``size`` bytes written to it, in ``size`` bytes of memory."""

    def __init__(self, size: int) -> None:
        self.data = bytearray(size)
        self.written = 0

    def add(self, chunk: bytes) -> None:
        source, ring = memoryview(chunk), memoryview(self.data)  # copied once, no temporary
        for start, offset, length in ring_writes(self.written, len(self.data), len(chunk)):
            ring[offset : offset + length] = source[start : start + length]
        self.written += len(chunk)

    def contents(self) -> bytes:
        return b"".join(
            self.data[offset : offset + length]
            for offset, length in ring_reads(self.written, len(self.data))
        )


class LiveLog:
    """Buffers build output and ships it to the server's ``builder-live.log``.

    A background thread flushes every :data:`LOG_FLUSH_S`, so a build that prints one line
    and then works quietly for an hour still shows that line at once.

    Past ``max_bytes`` the log is cut (``core/limits.py``): the marker line is sent at once
    (``?cut=true``), so the live view says why the log stops growing; the output that
    follows goes to a ring of ``tail_bytes`` and only its last bytes are sent, when the
    task ends. Memory stays bounded however fast the build prints: a write blocks while
    a full buffer is sent, and past the cut nothing is buffered but the ring.
    """

    def __init__(
        self,
        server: Server,
        task_id: int,
        max_bytes: int = _DEFAULTS.max_log_bytes,
        tail_bytes: int = _DEFAULTS.log_tail_bytes,
    ) -> None:
        self.server = server
        self.task_id = task_id
        self.max_bytes = max_bytes
        self.tail_bytes = tail_bytes
        self.buffer = bytearray()
        self.head = 0  # bytes of the head taken so far, sent or buffered
        self.ends_line = True  # the head so far ends a line (or is empty)
        self.cut = False
        self.marker: bytes | None = None  # the cut line, until it is sent
        self.ring: _Ring | None = None  # once cut: the output since, not sent yet
        self.lock = threading.Lock()
        self.send_lock = threading.RLock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._tick, name=f"log-{task_id}", daemon=True)

    def __enter__(self) -> LiveLog:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        self._send_rest(keep=0)

    def stop(self) -> None:
        """Stop the background flushes; what is left stays buffered (see :meth:`tail`)."""
        self.done.set()
        if self.thread.ident is not None:  # started (a LiveLog used without ``with`` is not)
            self.thread.join(timeout=10)

    def tail(self) -> bytes:
        """Stop, send what is left but the last :data:`LOG_FINISH_BYTES` and return those:
        they go with ``finish``, one request less."""
        self.stop()
        return self._send_rest(keep=LOG_FINISH_BYTES)

    def _tick(self) -> None:
        while not self.done.wait(LOG_FLUSH_S):
            try:
                self.flush()
            except TaskLost:
                return

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.cut:
                self._ring().add(data)
                return
            head, rest = split_head(self.head, self.max_bytes, data)
            if head:
                self.buffer += head
                self.head += len(head)
                self.ends_line = head.endswith(b"\n")
            if rest:
                self.cut = True
                self.marker = cut_marker(
                    self.max_bytes, self.tail_bytes, after_newline=self.ends_line
                )
                self._ring().add(rest)
            due = len(self.buffer) >= LOG_FLUSH_BYTES or self.marker is not None
        if due:
            self.flush()

    def _ring(self) -> _Ring:
        if self.ring is None:
            self.ring = _Ring(self.tail_bytes)
        return self.ring

    def line(self, text: str) -> None:
        self.write(log_line("coprd-agent", text))

    def flush(self) -> None:
        """Send the buffered head, and the cut line once the log is cut."""
        with self.send_lock:  # chunks must arrive in order
            with self.lock:
                chunk, self.buffer = bytes(self.buffer), bytearray()
                marker, self.marker = self.marker, None
            self._send(chunk)
            if marker is not None:
                self.server.call(
                    "POST",
                    f"/backend/task/{self.task_id}/log",
                    params={"cut": "true"},
                    content=marker,
                )

    def _send_rest(self, *, keep: int) -> bytes:
        """Send everything not sent yet, the cut line and the ring's tail too, but its last
        ``keep`` bytes, and return those."""
        with self.send_lock:
            self.flush()
            with self.lock:
                rest = bytes(self.buffer) + (self.ring.contents() if self.ring else b"")
                self.buffer, self.ring = bytearray(), None
            split = max(0, len(rest) - keep)
            self._send(rest[:split])
            return rest[split:]

    def _send(self, chunk: bytes) -> None:
        for start in range(0, len(chunk), LOG_CHUNK_BYTES):
            piece = chunk[start : start + LOG_CHUNK_BYTES]
            self.server.call("POST", f"/backend/task/{self.task_id}/log", content=piece)


@contextmanager
def heartbeats(
    server: Server, task_id: int, lease_s: int, cancel: threading.Event
) -> Iterator[None]:
    """Renew the lease in the background; set ``cancel`` when the server says so."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(min(HEARTBEAT_S, lease_s / 4)):
            try:
                answer = server.call("POST", f"/backend/task/{task_id}/heartbeat").json()
            except TaskLost:
                cancel.set()
                return
            if answer.get("action") == "cancel":
                cancel.set()

    thread = threading.Thread(target=beat, name=f"heartbeat-{task_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


class Agent:
    def __init__(self, config: AgentConfig, backend: Backend) -> None:
        self.config = config
        self.backend = backend
        self.stop = threading.Event()
        self.server = Server(config, self.stop)

    def run(self) -> None:
        """Claim and run tasks until :attr:`stop` is set."""
        root = workspace.prepare_root(self.config.workdir, self.config.policy.user)
        for leftover in root.glob("task-*"):  # of an agent that was killed mid-task
            workspace.remove(leftover)
        try:
            self._claim_and_run()
        finally:
            with contextlib.suppress(OSError):  # only if empty
                root.rmdir()

    def _claim_and_run(self) -> None:
        idle = self.config.poll_s
        while not self.stop.is_set():
            asked = time.monotonic()
            try:
                response = self.server.call(
                    "POST",
                    "/backend/claim",
                    json={"arches": list(self.config.arches), "wait_s": CLAIM_WAIT_S},
                )
            except TaskLost:
                break
            if response.status_code == 204:
                if time.monotonic() - asked >= 1.0:
                    continue  # the server held the claim while there was no work: ask again
                # It answered at once (it is stopping, or does not hold claims): back off.
                self.stop.wait(idle)
                idle = min(idle * 1.5, MAX_IDLE_POLL_S)
                continue
            idle = self.config.poll_s
            task = response.json()
            try:
                self.run_task(task)
            except TaskLost as exc:
                log.info("task %s abandoned: %s", task["task_id"], exc)
            except Exception:
                log.exception("task %s crashed the agent's handling", task["task_id"])

    def run_task(self, task: dict[str, Any]) -> None:
        task_id = int(task["task_id"])
        cancel = threading.Event()
        user = self.config.policy.user
        root = workspace.prepare_root(self.config.workdir, user)
        workdir = workspace.task_dir(root, task_id, user)
        try:
            with (
                heartbeats(self.server, task_id, int(task["lease_seconds"]), cancel),
                LiveLog(
                    self.server, task_id, self.config.max_log_bytes, self.config.log_tail_bytes
                ) as live,
            ):
                live.line(
                    f"task {task_id}: {task['kind']} build for {task['chroot']} "
                    f"of {task['owner']}/{task['project']} (build {task['build_id']})"
                )
                if task["kind"] == "source":
                    outcome = self._source(task, workdir, live, cancel)
                else:
                    outcome = self._rpm(task, workdir, live, cancel)
                live.line(
                    f"result: {outcome['state']}"
                    + (f" ({outcome['message']})" if outcome.get("message") else "")
                )
                outcome["log_tail"] = base64.b64encode(live.tail()).decode("ascii")
            self.server.call("POST", f"/backend/task/{task_id}/finish", json=outcome)
        finally:
            workspace.remove(workdir)

    def _upload(self, task_id: int, path: Path) -> str | None:
        """Upload one result file; None, or why the server refused it."""
        body = _FileBody(path)
        try:
            self.server.call(
                "PUT",
                f"/backend/task/{task_id}/files/{path.name}",
                content=body,
                headers={"Content-Length": str(body.size)},
            )
        except httpx.HTTPStatusError as exc:
            return f"the server refused {path.name}: {_refusal(exc.response)}"
        return None

    def _source(
        self, task: dict[str, Any], workdir: Path, live: LiveLog, cancel: threading.Event
    ) -> dict[str, Any]:
        task_id = int(task["task_id"])
        url = task.get("source_url")
        uploaded_spec = task["source_type"] == "upload" and str(
            task["source"].get("pkg", "")
        ).endswith(".spec")
        served = (task["source_type"] == "upload" and not uploaded_spec) or (
            task["source_type"] == "link" and bool(task.get("source_is_served"))
        )
        uploaded: Path | None = None
        if uploaded_spec:
            # Fetched here, with the builder's token; built into an SRPM in the sandbox.
            name = str(task["source"]["pkg"])
            if not FILE_NAME.fullmatch(name) or not url:
                return {"state": "failed", "message": "the task names no usable spec file"}
            (workdir / "upload").mkdir()
            uploaded = workdir / "upload" / name
            live.line(f"fetching {url}")
            try:
                self.server.download(url, uploaded, authenticated=True)
            except (httpx.HTTPError, InvalidPackage) as exc:
                return {"state": "failed", "message": f"could not download {url}: {_why(exc)}"}
        if not served:
            # A user's URL and every other source type: fetched and made into an SRPM in
            # the sandbox, whose network cannot reach this host's loopback.
            try:
                srpm = make_srpm(
                    task,
                    workdir,
                    live.write,
                    cancel,
                    http=self.server.anonymous(),
                    policy=self.config.policy,
                    uploaded=uploaded,
                )
            except SourceFailed as exc:
                state = "canceled" if cancel.is_set() else "failed"
                return {"state": state, "message": str(exc)}
        elif not url:
            return {"state": "failed", "message": "the task names no SRPM to download"}
        else:
            name = (
                file_name(url)
                if task["source_type"] == "link"
                else str(task["source"].get("pkg", "source.src.rpm"))
            )
            if not name.endswith((".src.rpm", ".nosrc.rpm")) or not FILE_NAME.fullmatch(name):
                name = "source.src.rpm"
            srpm = workdir / name
            live.line(f"fetching {url}")
            try:
                self.server.download(url, srpm, authenticated=task["source_type"] == "upload")
            except (httpx.HTTPError, InvalidPackage) as exc:
                return {"state": "failed", "message": f"could not download {url}: {_why(exc)}"}
        if cancel.is_set():
            return {"state": "canceled", "message": "canceled"}
        # ``srpm`` is the agent's own file: downloaded here, or copied by make_srpm out of
        # the sandbox into ``result/``, which no sandbox ever mounts (only ``sandbox/`` is,
        # and make_srpm reads that through a ConfinedDir). Plain paths are safe from here on.
        try:
            info = inspect_srpm(srpm)
        except InvalidPackage as exc:
            return {"state": "failed", "message": str(exc)}
        final = f"{info.name}-{info.version}-{info.release}.src.rpm"
        live.line(f"source package {final}")
        srpm = srpm.rename(workdir / final) if srpm.name != final else srpm
        spec = self._spec_of(srpm, workdir, live, cancel)
        try:
            requires = requirement_names(srpm)
        except InvalidPackage as exc:
            return {"state": "failed", "message": str(exc)}
        provides: list[str] = []
        if spec is not None:
            provides = spec_provides(
                spec, workdir / "provides", live.write, policy=self.config.policy, cancel=cancel
            )
        refused = self._upload_each(task_id, [srpm, *([spec] if spec else [])], live)
        if refused:
            return {"state": "failed", "message": refused}
        version = f"{info.version}-{info.release}"
        if info.epoch:
            version = f"{info.epoch}:{version}"
        return {
            "state": "succeeded",
            "source": {
                "name": info.name,
                "version": version,
                "srpm_name": final,
                "exclusive_arch": list(info.exclusive_arch),
                "exclude_arch": list(info.exclude_arch),
                "build_requires": requires,
                "provides": provides,
            },
        }

    def _rpm(
        self, task: dict[str, Any], workdir: Path, live: LiveLog, cancel: threading.Event
    ) -> dict[str, Any]:
        task_id = int(task["task_id"])
        srpm_url = str(task["srpm_url"])
        srpm = workdir / srpm_url.rsplit("/", 1)[-1]
        live.line(f"fetching {srpm_url}")
        try:
            self.server.download(srpm_url, srpm, authenticated=False)
        except httpx.HTTPError as exc:
            return {"state": "failed", "message": f"could not download the SRPM: {_why(exc)}"}
        outdir = workdir / "out"
        outdir.mkdir()
        build_dir = workdir / "build"
        build_dir.mkdir()
        # As on Copr, the chroot's result directory holds the spec (whatever the build's
        # outcome) and the SRPM (with the packages) beside the packages and logs.
        spec = self._spec_of(srpm, workdir, live, cancel)
        own = [srpm, *([spec] if spec else [])]
        if spec is not None:
            refused = self._upload_each(task_id, [spec], live)
            if refused:
                live.line(refused)
                return {"state": "failed", "message": refused}
        try:
            rpm_task = self._rpm_task(task, srpm, outdir, build_dir, reserved=own)
        except ValueError as exc:
            return {"state": "failed", "message": f"cannot build this task: {exc}"}
        result = self.backend.build_rpm(rpm_task, live.write, cancel)
        # The backend counted what it copied out of the build against this builder's
        # limits, less what the agent uploads itself (``reserved``); the server counts
        # what it stores.
        refused = self._upload_each(task_id, sorted(outdir.glob("*.log")), live)
        if result.state == "succeeded" and not refused:
            refused = self._upload_each(task_id, [*sorted(outdir.glob("*.rpm")), srpm], live)
        if refused:
            live.line(refused)
            # No packages: a build that made too many could not even report them all.
            return {"state": "failed", "message": refused}
        return {
            "state": result.state,
            "message": result.message,
            "packages": [
                {
                    "name": p.name,
                    "epoch": p.epoch,
                    "version": p.version,
                    "release": p.release,
                    "arch": p.arch,
                }
                for p in result.packages
            ],
        }

    def _upload_each(self, task_id: int, paths: list[Path], live: LiveLog) -> str | None:
        for path in paths:
            live.line(f"uploading {path.name}")
            refused = self._upload(task_id, path)
            if refused:
                return refused
        return None

    def _spec_of(
        self, srpm: Path, workdir: Path, live: LiveLog, cancel: threading.Event
    ) -> Path | None:
        """The SRPM's spec file, read out of it in the sandbox (``specfile``), or None."""
        out = workdir / "spec-out"
        out.mkdir(exist_ok=True)
        return extract_spec(
            srpm, workdir / "spec", out, live.write, policy=self.config.policy, cancel=cancel
        )

    def _rpm_task(
        self,
        task: dict[str, Any],
        srpm: Path,
        outdir: Path,
        build_dir: Path,
        *,
        reserved: list[Path],
    ) -> RpmTask:
        memory = task.get("memory_limit_mb")
        return RpmTask(
            srpm=srpm,
            chroot=str(task["chroot"]),
            outdir=outdir,
            workdir=build_dir,
            enable_net=bool(task["enable_net"]),
            timeout_s=float(task["timeout"]),
            memory_bytes=int(memory) * 1024 * 1024 if memory else None,
            with_opts=tuple(task["with_opts"]),
            without_opts=tuple(task["without_opts"]),
            repos=_repos(task),
            buildroot_pkgs=tuple(task["buildroot_pkgs"]),
            modules=tuple(task.get("modules", ())),
            isolation=str(task.get("isolation", "default")),
            bootstrap=str(task.get("bootstrap", "default")),
            bootstrap_image=task.get("bootstrap_image"),
            sandbox=self.config.policy,
            max_result_files=self.config.max_result_files,
            max_result_bytes=self.config.max_result_bytes,
            reserved_files=len(reserved),
            reserved_bytes=sum(path.stat().st_size for path in reserved),
            fetch=lambda url, dest: self.server.download(url, dest, authenticated=False),
        )


def _repos(task: dict[str, Any]) -> tuple[BuildRepo, ...]:
    """The task's repositories with their options (``repo_specs``); from a server that
    sends their base URLs only (``repos``), without options."""
    specs = task.get("repo_specs")
    if not specs:
        return tuple(BuildRepo(str(url), id=f"repo{i}") for i, url in enumerate(task["repos"]))
    return tuple(
        BuildRepo(
            str(spec["baseurl"]),
            id=str(spec["id"]),
            name=str(spec.get("name") or ""),
            priority=spec.get("priority"),
            module_hotfixes=bool(spec.get("module_hotfixes")),
            served=bool(spec.get("served")),
        )
        for spec in specs
    )


def run_agents(configs: list[AgentConfig], make_backend: Callable[[], Backend]) -> None:
    """Run one agent per config in threads until interrupted."""
    agents = [Agent(config, make_backend()) for config in configs]
    threads = [threading.Thread(target=a.run, name=f"agent-{i}") for i, a in enumerate(agents)]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.5)
    except KeyboardInterrupt:
        for agent in agents:
            agent.stop.set()
        for thread in threads:
            thread.join()
