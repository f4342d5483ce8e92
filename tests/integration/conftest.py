"""A real ``coprd serve`` process on a free loopback port, and the official clients."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import BUILD_UID
from tests.conftest import (
    POSTGRES,
    create_postgres_database,
    drop_postgres_database,
    passable_dir,
)

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 30


# The installed copr-cli, with a watched build polled every second (watching_copr_cli.py).
COPR_CLI = [str(BIN / "python"), str(Path(__file__).with_name("watching_copr_cli.py"))]


def process_env() -> dict[str, str]:
    """This process's environment without its ``COPRD_*`` settings, for a server or agent
    the test configures itself; the build uids of this test worker are kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRD_")}
    env["COPRD_BUILD_UID"] = str(BUILD_UID)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    home: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    bind: str = "127.0.0.1"

    def coprd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the admin CLI against this server's data directory and database."""
        result = subprocess.run(
            [str(BIN / "coprd"), *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        if check and result.returncode != 0:
            raise AssertionError(f"coprd {' '.join(args)} failed:\n{result.stderr}")
        return result

    def add_user(self, name: str) -> Path:
        """``coprd user add NAME && coprd token NAME > config``; returns the config path."""
        self.coprd("user", "add", name)
        config = self.home / f"{name}.conf"
        config.write_text(self.coprd("token", name).stdout)
        return config

    def add_user_with_project(self, name: str, project: str, *chroots: str) -> Path:
        """:meth:`add_user`, then ``copr-cli create PROJECT --chroot …`` as that user."""
        config = self.add_user(name)
        options = [option for chroot in chroots for option in ("--chroot", chroot)]
        created = self.copr_cli(config, "create", project, *options)
        assert created.returncode == 0, created.stdout + created.stderr
        return config

    def copr_cli(
        self, config: Path | None, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The real copr-cli, with ``--config`` or, without it, ``~/.config/copr``."""
        cmd = COPR_CLI.copy()
        if config is not None:
            cmd += ["--config", str(config)]
        return subprocess.run(
            [*cmd, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            input=input,
        )

    def server_log(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    tmp: Path, builders: int = 0, env: dict[str, str] | None = None, bind: str = "127.0.0.1"
) -> Server:
    """``coprd serve`` on a free port of ``bind`` (``0.0.0.0`` also lets networked
    sandboxes reach it, at the host's address); its URL for clients is on 127.0.0.1."""
    data_dir = tmp / "data"
    home = tmp / "home"
    home.mkdir(parents=True)
    extra = env or {}
    env = process_env()
    env.update(HOME=str(home), COPRD_DATA_DIR=str(data_dir), **extra)
    if os.geteuid() == 0 and "COPRD_WORK_DIR" not in env:
        # The agents' builds run as other uids, which must reach their work directory.
        env["COPRD_WORK_DIR"] = str(passable_dir("work"))
    if POSTGRES:
        env["COPRD_DATABASE_URL"] = create_postgres_database("coprd_it")
    return _run_server(tmp / "server.log", data_dir, home, env, free_port(), builders, bind)


def restart_server(server: Server, builders: int = 0) -> Server:
    """Start ``coprd serve`` again on the same port, data directory and database (after
    the test stopped or killed it)."""
    assert server.process.poll() is not None, "the server is still running"
    port = int(server.url.rsplit(":", 1)[1])
    return _run_server(
        server.log, server.data_dir, server.home, server.env, port, builders, server.bind
    )


def _run_server(
    log: Path,
    data_dir: Path,
    home: Path,
    env: dict[str, str],
    port: int,
    builders: int,
    bind: str = "127.0.0.1",
) -> Server:
    command = ["serve", "--host", bind, "--port", str(port), "--builders", str(builders)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(BIN / "coprd"), *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    server = Server(url, data_dir, home, env, log, process, bind)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"coprd serve exited:\n{server.server_log()}")
        try:
            if httpx.get(f"{url}/api_3/", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(
        f"coprd serve did not answer in {START_TIMEOUT_S} s:\n{server.server_log()}"
    )


def stop_server(server: Server) -> None:
    server.process.terminate()  # coprd serve stops its local agents too
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if POSTGRES and "COPRD_DATABASE_URL" in server.env:
        drop_postgres_database(server.env["COPRD_DATABASE_URL"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd"))
    yield srv
    stop_server(srv)


# -- builder agents outside the server, as root or as an unprivileged user ---------------

UNPRIVILEGED_UID = 1_999_990_000
"""The uid an unprivileged test agent runs as: no account, far from login users and from
the build uids of root agents (2000000000 and up)."""


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    workdir: Path
    log: Path
    uid: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def agent_python(uid: int) -> tuple[list[str], dict[str, str]]:
    """A Python command that ``uid`` can run with coprd importable, and the environment it
    needs: this interpreter where ``uid`` may execute it, else the system's python3 of the
    same version with this checkout and the venv's packages on its path."""

    def runs(command: list[str], env: dict[str, str]) -> bool:
        try:
            done = subprocess.run(
                command,
                user=uid,
                group=uid,
                extra_groups=[],
                cwd="/",
                capture_output=True,
                env={**os.environ, **env},
                timeout=60,
            )
        except OSError:  # not executable by uid
            return False
        return done.returncode == 0

    if runs([sys.executable, "-c", "import coprd"], {}):
        return [sys.executable], {}
    system = Path("/usr/bin/python3")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    site = Path(sys.prefix) / "lib" / f"python{version}" / "site-packages"
    repo = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": f"{repo}:{site}"}
    check = f"import sys, coprd; assert sys.version.startswith('{version}.')"
    if system.exists() and runs([str(system), "-c", check], env):
        return [str(system)], env
    pytest.skip(f"no Python {version} with coprd that uid {uid} may run")


def start_worker(
    server: Server,
    home: Path,
    *,
    uid: int | None = None,
    concurrency: int = 2,
    env: dict[str, str] | None = None,
) -> Worker:
    """``coprd worker`` against ``server`` with a builder token of its own, as root
    (``uid`` None) or as the unprivileged ``uid``; ``home`` (which ``uid`` must be able to
    reach) holds its token, settings and work directory."""
    name = f"agent-{secrets.token_hex(3)}"
    token = server.coprd("builder", "add", name).stdout.strip()
    home.mkdir(parents=True, exist_ok=True)
    token_file = home / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    workdir = home / "work"
    log = home / "worker.log"
    command = [str(BIN / "coprd")]
    extra: dict[str, str] = {}
    user: dict[str, Any] = {}
    if uid is not None:
        python, extra = agent_python(uid)
        command = [*python, "-m", "coprd.cli"]
        for path in (home, token_file):
            os.chown(path, uid, uid)
        user = {"user": uid, "group": uid, "extra_groups": []}
    agent_env = process_env()
    agent_env.update(HOME=str(home), COPRD_DATA_DIR=str(home / "data"), **extra, **(env or {}))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *command,
                "worker",
                "--server",
                server.url,
                "--token-file",
                str(token_file),
                "--workdir",
                str(workdir),
                "--concurrency",
                str(concurrency),
            ],
            env=agent_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
            **user,
        )
    worker = Worker(process, workdir, log, uid if uid is not None else 0)
    deadline = time.monotonic() + START_TIMEOUT_S
    while "slot(s) for" not in worker.output():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"coprd worker did not start:\n{worker.output()}")
        time.sleep(0.1)
    return worker


def stop_worker(worker: Worker) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()
