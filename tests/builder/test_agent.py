"""The agent against a scripted server (httpx's MockTransport): what it sends of a build's
log, and what it does with a build's results, when the build makes too much of either."""

from __future__ import annotations

import base64
import json
import threading
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from coprd.builder.agent import LOG_CHUNK_BYTES, Agent, AgentConfig, LiveLog, Server
from coprd.builder.backends import RpmResult, RpmTask
from coprd.builder.srpm import Nevra
from coprd.core.limits import cut_marker

MARKER_300 = (
    b"[coprd] the log is longer than 1000 bytes: the rest is cut, "
    b"only its last 300 bytes are kept below\n"
)


@dataclass
class FakeServer:
    """Answers the agent's calls and records them. ``refuse(request)`` may answer an
    upload instead."""

    log: bytearray = field(default_factory=bytearray)
    keep_log: bool = True  # False: count the log's bytes only (log_size)
    log_size: int = 0
    cuts: list[bytes] = field(default_factory=list)
    log_requests: list[int] = field(default_factory=list)
    uploads: list[tuple[str, bytes]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    refuse: Callable[[httpx.Request], httpx.Response | None] = lambda _request: None

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/heartbeat"):
            return httpx.Response(200, json={"action": "continue"})
        if path.endswith("/log"):
            body = request.read()
            if len(body) > 1024 * 1024:  # the server's own limit on a log request
                return httpx.Response(413, json={"error": "too large"})
            self.log_requests.append(len(body))
            if request.url.params.get("cut") == "true":
                self.cuts.append(body)
            self.log_size += len(body)
            if self.keep_log:
                self.log += body
            return httpx.Response(204)
        if "/files/" in path:
            refused = self.refuse(request)
            if refused is not None:
                return refused
            self.uploads.append((path.rsplit("/", 1)[1], request.read()))
            return httpx.Response(204)
        if path.endswith("/finish"):
            body = json.loads(request.read())
            self.finished.append(body)
            self.log += base64.b64decode(body["log_tail"])
            return httpx.Response(200, json={"build_state": body["state"]})
        if path.endswith(".src.rpm"):
            return httpx.Response(200, content=b"not really an srpm")
        return httpx.Response(404)


def make_server(fake: FakeServer, config: AgentConfig) -> Server:
    server = Server(config, threading.Event())
    transport = httpx.MockTransport(fake.handle)
    server.client = httpx.Client(
        transport=transport, base_url=config.server, headers=server.client.headers
    )
    server._anonymous = httpx.Client(transport=transport)
    return server


def config(tmp_path: Path, **limits: int) -> AgentConfig:
    return AgentConfig("http://coprd.test", "token", ("x86_64",), tmp_path / "work", **limits)


def output(size: int) -> bytes:
    """Distinct lines, so that any byte out of place shows."""
    text = b"".join(b"line %07d of the build's output\n" % i for i in range(size // 20 + 1))
    return text[:size]


def expected(data: bytes, cap: int, tail: int) -> bytes:
    if len(data) <= cap:
        return data
    marker = cut_marker(cap, tail, after_newline=data[cap - 1 : cap] == b"\n")
    return data[:cap] + marker + data[max(cap, len(data) - tail) :]


# --- the log -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 1001, 1200, 1300, 5000, 100_000])
def test_past_the_cap_the_log_keeps_its_head_one_line_and_its_tail(
    tmp_path: Path, size: int
) -> None:
    fake = FakeServer()
    data = output(size)
    live = LiveLog(make_server(fake, config(tmp_path)), 7, max_bytes=1000, tail_bytes=300)
    for start in range(0, len(data), 77):  # pieces that cross the cap mid-line
        live.write(data[start : start + 77])
    live.flush()
    if size > 1000:
        # The live view has the head and the line at once; the tail waits for the end.
        assert data[999:1000] != b"\n"  # so the line begins with a newline of its own
        assert fake.cuts == [b"\n" + MARKER_300]
        assert bytes(fake.log) == data[:1000] + b"\n" + MARKER_300
    fake.log += live.tail()
    assert bytes(fake.log) == expected(data, 1000, 300)
    assert bytes(fake.log).count(b"the log is longer than") == (1 if size > 1000 else 0)


def test_the_cut_line_starts_a_line_of_its_own(tmp_path: Path) -> None:
    fake = FakeServer()
    live = LiveLog(make_server(fake, config(tmp_path)), 7, max_bytes=10, tail_bytes=4)
    live.write(b"123456789\nABCDEFGHIJ")
    fake.log += live.tail()
    assert bytes(fake.log) == (
        b"123456789\n[coprd] the log is longer than 10 bytes: the rest is cut, "
        b"only its last 4 bytes are kept below\nGHIJ"
    )


def test_memory_stays_bounded_however_much_the_build_prints(tmp_path: Path) -> None:
    fake = FakeServer(keep_log=False)
    cap, tail = 1024 * 1024, 64 * 1024
    live = LiveLog(make_server(fake, config(tmp_path)), 7, max_bytes=cap, tail_bytes=tail)
    piece = bytes(range(256)) * 256  # 64 KiB
    for _ in range(17):  # the head, sent, and the cut: then only the ring takes output
        live.write(piece)
    tracemalloc.start()
    try:
        for _ in range(4096):  # 256 MiB more
            live.write(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024, peak  # nothing grows with the output, not even a copy of it
    assert live.ring is not None and len(live.ring.data) == tail
    assert fake.log_size == cap + len(fake.cuts[0])  # the live view: head and cut line
    assert fake.log_size + len(live.tail()) == cap + len(fake.cuts[0]) + tail


def test_a_long_buffer_goes_in_requests_the_server_takes(tmp_path: Path) -> None:
    """After the server was out of reach, the buffer may hold more than one request may
    carry: it is sent in pieces."""
    fake = FakeServer()
    live = LiveLog(make_server(fake, config(tmp_path)), 7)
    data = output(3 * 1024 * 1024)
    live.write(data)
    fake.log += live.tail()
    assert bytes(fake.log) == data
    assert max(fake.log_requests) <= LOG_CHUNK_BYTES


def test_a_task_that_ends_without_finish_still_sends_its_tail(tmp_path: Path) -> None:
    fake = FakeServer()
    data = output(5000)
    with LiveLog(make_server(fake, config(tmp_path)), 7, max_bytes=1000, tail_bytes=300) as live:
        live.write(data)
    assert bytes(fake.log) == expected(data, 1000, 300)


# --- results -------------------------------------------------------------------------------


@dataclass
class ManyPackages:
    """A backend whose build "makes" ``count`` packages of ``size`` bytes each."""

    count: int
    size: int = 100
    name: str = "many"
    tasks: list[RpmTask] = field(default_factory=list)

    def build_rpm(
        self,
        task: RpmTask,
        on_output: Callable[[bytes], None],
        cancel: threading.Event | None = None,
    ) -> RpmResult:
        self.tasks.append(task)
        packages = []
        for i in range(self.count):
            (task.outdir / f"many-p{i:04d}-1-1.noarch.rpm").write_bytes(b"r" * self.size)
            packages.append(Nevra(f"many-p{i:04d}", None, "1", "1", "noarch"))
        on_output(b"built\n")
        return RpmResult("succeeded", packages, f"built {self.count} package(s)")


TASK = {
    "task_id": 9,
    "build_id": 3,
    "kind": "rpm",
    "chroot": "fedora-rawhide-x86_64",
    "owner": "alice",
    "project": "demo",
    "srpm_url": "http://coprd.test/results/alice/demo/srpm-builds/00000003/many-1-1.src.rpm",
    "timeout": 600,
    "memory_limit_mb": None,
    "enable_net": False,
    "with_opts": [],
    "without_opts": [],
    "repos": [],
    "buildroot_pkgs": [],
    "lease_seconds": 60,
}


def run_task(fake: FakeServer, backend: ManyPackages, tmp_path: Path, **limits: int) -> None:
    cfg = config(tmp_path, **limits)
    agent = Agent(cfg, backend)
    agent.server = make_server(fake, cfg)
    agent.run_task(dict(TASK))


# Too many or too large packages are refused by the backend before any is copied out of
# the build (tests/builder/test_backends.py, and end to end tests/integration/
# test_build_limits.py); the agent only passes its limits on.


SRPM_SIZE = len(b"not really an srpm")


def test_the_agent_passes_its_result_limits_to_the_backend(tmp_path: Path) -> None:
    # Less the SRPM, which the agent uploads itself (this one has no spec to keep).
    backend = ManyPackages(1)
    run_task(FakeServer(), backend, tmp_path, max_result_files=7, max_result_bytes=4096)
    limits = [
        (t.max_result_files, t.max_result_bytes, t.reserved_files, t.reserved_bytes)
        for t in backend.tasks
    ]
    assert limits == [(7, 4096, 1, SRPM_SIZE)]


def test_packages_within_the_limits_are_uploaded_with_the_srpm(tmp_path: Path) -> None:
    fake = FakeServer()
    run_task(
        fake, ManyPackages(20), tmp_path, max_result_files=21, max_result_bytes=2000 + SRPM_SIZE
    )
    assert len(fake.uploads) == 21
    assert fake.uploads[-1] == ("many-1-1.src.rpm", b"not really an srpm")
    assert fake.finished[0]["state"] == "succeeded"
    assert len(fake.finished[0]["packages"]) == 20


def test_a_refused_upload_fails_the_build_with_the_servers_reason(tmp_path: Path) -> None:
    """The server may accept fewer than this builder: its refusal ends the build, once."""
    reason = (
        "the build made more than 2 result files; this server accepts at most 2 "
        "(setting max_result_files)"
    )
    fake = FakeServer()
    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response | None:
        attempts.append(request.url.path)
        return httpx.Response(413, json={"error": reason}) if len(attempts) > 2 else None

    fake.refuse = refuse
    run_task(fake, ManyPackages(5), tmp_path)
    assert len(attempts) == 3 and len(fake.uploads) == 2
    (finish,) = fake.finished
    assert finish["state"] == "failed"
    assert finish["message"] == f"the server refused many-p0002-1-1.noarch.rpm: {reason}"


def test_a_retried_upload_sends_the_whole_file_again(tmp_path: Path) -> None:
    fake = FakeServer()
    failed = []

    def cut_once(request: httpx.Request) -> httpx.Response | None:
        if not failed:  # the connection drops once the body was sent (MockTransport reads it)
            failed.append(request.url.path)
            raise httpx.WriteError("connection reset")
        return None

    fake.refuse = cut_once
    run_task(fake, ManyPackages(1, size=3 * 1024 * 1024), tmp_path)
    assert fake.uploads[0] == ("many-p0000-1-1.noarch.rpm", b"r" * 3 * 1024 * 1024)
    assert fake.finished[0]["state"] == "succeeded"
