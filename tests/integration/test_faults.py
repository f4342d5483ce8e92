"""Faults: an agent killed in the middle of a build."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import CHROOT, make_srpm

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("coprd-faults"), builders=2, env={"COPRD_LEASE_SECONDS": "5"}
    )
    yield srv
    stop_server(srv)


def sandbox_of(server: Server) -> tuple[int, int] | None:
    """(bwrap pid, its agent's pid) of a build running for this server, if any."""
    work = str(server.data_dir / "work").encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            status = (proc / "status").read_text()
        except OSError:
            continue
        if args[0].endswith(b"bwrap") and any(work in arg for arg in args):
            ppid = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
            return int(proc.name), int(ppid)
    return None


def test_killed_agent_task_is_rebuilt_by_another(server: Server, tmp_path: Path) -> None:
    config = server.add_user("alice")
    assert server.copr_cli(config, "create", "demo", "--chroot", CHROOT).returncode == 0
    srpm = make_srpm("slowpoke.spec", tmp_path / "srpm")
    built = server.copr_cli(config, "build", "--nowait", "demo", str(srpm))
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])

    deadline = time.monotonic() + 60
    while (found := sandbox_of(server)) is None:
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.2)
    _, agent = found
    os.kill(agent, signal.SIGKILL)

    deadline = time.monotonic() + 120
    while True:
        state = httpx.get(f"{server.url}/api_3/build/{build_id}").json()["state"]
        if state in ("succeeded", "failed", "canceled"):
            break
        assert time.monotonic() < deadline, f"build {build_id} is still {state}"
        time.sleep(0.5)
    assert state == "succeeded"

    url = server.env.get("COPRD_DATABASE_URL") or f"sqlite:///{server.data_dir / 'coprd.sqlite'}"
    engine = create_engine(url)
    with engine.connect() as conn:
        attempts, _message = conn.execute(
            text(
                "SELECT attempts, message FROM build_tasks WHERE build_id = :b AND chroot_name = :c"
            ),
            {"b": build_id, "c": CHROOT},
        ).one()
        running = conn.execute(
            text("SELECT count(*) FROM build_tasks WHERE state IN ('starting', 'running')")
        ).scalar()
    engine.dispose()
    assert attempts == 2
    assert running == 0
    repo = httpx.get(f"{server.url}/results/alice/demo/{CHROOT}/").text
    assert f"{build_id:08d}-slowpoke" in repo


def agents_of(server: Server) -> list[int]:
    token_file = str(server.data_dir / "builder-local.token").encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if token_file in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_local_agents_die_with_their_server(tmp_path: Path, sig: signal.Signals) -> None:
    srv = start_server(tmp_path, builders=2)
    try:
        agents = agents_of(srv)
        assert len(agents) == 2
        srv.process.send_signal(sig)
        srv.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while agents_of(srv):
            assert time.monotonic() < deadline, "agents outlived their server"
            time.sleep(0.1)
    finally:
        if srv.process.poll() is None:
            stop_server(srv)
