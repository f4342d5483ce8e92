"""Faults: an agent killed in the middle of a build, the server killed in the middle of a
publish, many builds finishing into one repository at once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from coprd.config import Settings
from coprd.publish import repodata_problems
from tests.integration.conftest import BIN, Server, restart_server, start_server, stop_server
from tests.integration.test_builds import CHROOT, make_srpm
from tests.publish.conftest import primary

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
    work_dir = server.env.get("COPRD_WORK_DIR")
    settings = Settings(data_dir=server.data_dir, work_dir=Path(work_dir) if work_dir else None)
    work = str(settings.agent_work_dir("serve")).encode()
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


def wait_for_end(server: Server, build_id: int, timeout_s: float = 180) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            state = str(httpx.get(f"{server.url}/api_3/build/{build_id}").json()["state"])
        except httpx.TransportError:
            state = "unreachable"
        if state in ("succeeded", "failed", "canceled"):
            return state
        assert time.monotonic() < deadline, f"build {build_id} is still {state}"
        time.sleep(0.3)


def published_names(server: Server, owner: str, project: str) -> list[str]:
    """The binary packages in the chroot's valid repodata (each build's SRPM is there too)."""
    repo = server.data_dir / "results" / owner / project / CHROOT
    assert repodata_problems(repo / "repodata") == []  # checksums included
    assert list(repo.glob(".repodata-*")) == []
    return sorted(name for name, arch, _href in primary(repo) if arch != "src")


def test_server_killed_during_a_publish(tmp_path: Path) -> None:
    """The server dies while createrepo_c runs for a finished build; after a restart the
    outside agent's finish gets through, and the repository is valid and complete."""
    control = tmp_path / "control"
    control.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # createrepo_c as the server finds it on PATH: the real one, held back while the test
    # wants a publish in flight.
    wrapper = bindir / "createrepo_c"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"if [ -e {control}/slow ]; then echo $$ > {control}/started; sleep 60; fi\n"
        f'exec {shutil.which("createrepo_c")} "$@"\n'
    )
    wrapper.chmod(0o755)
    srv = start_server(
        tmp_path / "srv",
        env={"PATH": f"{bindir}:{os.environ['PATH']}", "COPRD_LEASE_SECONDS": "30"},
    )
    token = srv.coprd("builder", "add", "outside").stdout.strip()
    with (tmp_path / "worker.log").open("wb") as out:
        worker = subprocess.Popen(
            [str(BIN / "coprd"), "worker", "--server", srv.url, "--token", token],
            env=srv.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        config = srv.add_user("alice")
        assert srv.copr_cli(config, "create", "demo", "--chroot", CHROOT).returncode == 0
        srpm = make_srpm("hello.spec", tmp_path / "a")
        first = srv.copr_cli(config, "build", "--nowait", "demo", str(srpm))
        assert wait_for_end(srv, int(first.stdout.split("Created builds: ")[1].split()[0])) == (
            "succeeded"
        )

        (control / "slow").touch()
        srpm = make_srpm("greeting.spec", tmp_path / "b")
        built = srv.copr_cli(config, "build", "--nowait", "demo", str(srpm))
        build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
        deadline = time.monotonic() + 120
        while not (control / "started").is_file() or not (control / "started").read_text():
            assert time.monotonic() < deadline, "the publish never started"
            time.sleep(0.1)
        srv.process.kill()
        srv.process.wait()
        os.kill(int((control / "started").read_text()), signal.SIGKILL)
        (control / "slow").unlink()
        repo = srv.data_dir / "results" / "alice" / "demo" / CHROOT
        assert list(repo.glob(".repodata-*")), "the publish was not interrupted"

        srv = restart_server(srv)
        assert wait_for_end(srv, build_id) == "succeeded"
        assert worker.poll() is None, "the agent gave up on the server"
        listing = httpx.get(
            f"{srv.url}/api_3/build/list", params={"ownername": "alice", "projectname": "demo"}
        ).json()["items"]
        succeeded = sorted(
            b["source_package"]["name"] for b in listing if b["state"] == "succeeded"
        )
        assert succeeded == ["greeting", "hello"]
        assert published_names(srv, "alice", "demo") == succeeded
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        if srv.process.poll() is None:
            stop_server(srv)


NAMES = [f"many{i:02d}" for i in range(20)]


def test_twenty_concurrent_builds_into_one_chroot(server: Server, tmp_path: Path) -> None:
    config = server.add_user("carol")
    assert server.copr_cli(config, "create", "many", "--chroot", CHROOT).returncode == 0
    spec = (Path(__file__).parent.parent / "builder" / "data" / "hello.spec").read_text()
    srpms = []
    for name in NAMES:
        (tmp_path / f"{name}.spec").write_text(spec.replace("hello", name))
        srpms.append(make_srpm(str(tmp_path / f"{name}.spec"), tmp_path / name))

    def submit(srpm: Path) -> int:
        built = server.copr_cli(config, "build", "--nowait", "many", str(srpm))
        assert built.returncode == 0, built.stderr
        return int(built.stdout.split("Created builds: ")[1].split()[0])

    with ThreadPoolExecutor(len(srpms)) as pool:
        ids = list(pool.map(submit, srpms))
    assert len(set(ids)) == len(NAMES)
    assert [wait_for_end(server, build_id, timeout_s=300) for build_id in ids] == [
        "succeeded"
    ] * len(NAMES)
    assert published_names(server, "carol", "many") == NAMES
