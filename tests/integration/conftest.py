"""A real ``coprd serve`` process on a free loopback port, and the official clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES, create_postgres_database, drop_postgres_database

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 30


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

    def copr_cli(
        self, config: Path | None, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The real copr-cli, with ``--config`` or, without it, ``~/.config/copr``."""
        cmd = [str(BIN / "copr-cli")]
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRD_")}
    env.update(HOME=str(home), COPRD_DATA_DIR=str(data_dir), **extra)
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
