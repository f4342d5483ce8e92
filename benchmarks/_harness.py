"""What the benchmark scripts share: a fresh data directory and throw-away PostgreSQL
database, ``coprd serve`` on a free loopback port, latency percentiles, the machine
description, and ending a run cleanly on Ctrl-C or SIGTERM.

The scripts run as ``.venv/bin/python benchmarks/<name>.py``, which puts this directory on
``sys.path``: they ``import _harness``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn, TypedDict

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from coprd.config import Settings
from coprd.instance import ADMIN_CONFIG, LOCAL_BUILDER_TOKEN

ROOT = Path(__file__).resolve().parent.parent
COPRD = Path(sys.executable).parent / "coprd"  # run with the virtualenv's python
HOST = "127.0.0.1"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# --- running a benchmark ---------------------------------------------------------------


def run(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status. SIGTERM ends the run like Ctrl-C does, so that the
    script's cleanup runs; after either it exits with 130."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        status = main()
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(status)


# --- the database ----------------------------------------------------------------------


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """``--db sqlite|postgres`` and ``--postgres-url``, as :func:`fresh_settings` reads them."""
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("COPRD_BENCH_POSTGRES", DEFAULT_PG),
        help="maintenance database to create the coprd_bench_* database from "
        f"(default $COPRD_BENCH_POSTGRES or {DEFAULT_PG})",
    )


@contextlib.contextmanager
def postgres_database(maintenance_url: str) -> Iterator[str]:
    """A new ``coprd_bench_*`` database next to ``maintenance_url``; yields its URL and
    drops it (disconnecting any session) at the end."""
    name = f"coprd_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(maintenance_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(maintenance_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def fresh_settings(args: argparse.Namespace) -> Iterator[Settings]:
    """Settings of a new instance: a temporary data directory and, with ``--db postgres``,
    a throw-away database; both are removed at the end."""
    tmp = Path(tempfile.mkdtemp(prefix="coprd-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            url = ""
            if args.db == "postgres":
                url = stack.enter_context(postgres_database(args.postgres_url))
            yield Settings(data_dir=tmp / "data", database_url=url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def settle(engine: Engine) -> None:
    """After a bulk load: ``VACUUM ANALYZE`` on PostgreSQL (what autovacuum would do within
    a minute; makes runs independent of its timing), a WAL checkpoint on SQLite. Then
    dispose of the engine."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


# --- the server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ("" if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Server:
    """A running ``coprd serve``."""

    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def admin_config(self) -> Path:
        """The copr-cli config of the admin account the server created on first start."""
        return self.data_dir / ADMIN_CONFIG

    def agent_pids(self) -> list[int]:
        """The local builder agents ``coprd serve`` started (children naming the token file)."""
        pids = []
        token_file = LOCAL_BUILDER_TOKEN.encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
                if ppid == self.proc.pid and token_file in cmdline:
                    pids.append(int(entry.name))
        return sorted(pids)


@contextlib.contextmanager
def serve(
    data_dir: Path,
    *,
    builders: int | None = None,
    database_url: str = "",
    home: Path | None = None,
    timeout: float = 60,
) -> Iterator[Server]:
    """``coprd serve`` on a free loopback port, logging to ``data_dir/server.log``; yields
    once ``/api_3/`` answers and, if ``builders`` is given, that many local agents run.

    ``builders`` None keeps the server's default; ``database_url`` "" its SQLite file in
    ``data_dir``; ``home`` is ``$HOME`` of the server and its agents. At the end the server
    is stopped (it stops its agents) and a traceback in its log is reported on stderr.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRD_")}
    if database_url:
        env["COPRD_DATABASE_URL"] = database_url
    if home is not None:
        env["HOME"] = str(home)
    argv = [str(COPRD), "serve", "--host", HOST, "--port", str(port)]
    argv += ["--data-dir", str(data_dir), "--log-level", "warning"]
    if builders is not None:
        argv += ["--builders", str(builders)]
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    server = Server(f"http://{HOST}:{port}", data_dir, proc, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"coprd serve exited with {proc.returncode}:\n{tail(log_path)}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.url}/api_3/", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"coprd serve did not answer in {timeout} s:\n{tail(log_path)}")
            time.sleep(0.1)
        while builders and len(server.agent_pids()) < builders:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {builders} agent(s) did not start:\n{tail(log_path)}")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if "Traceback" in tail(log_path, 10_000):
            print(
                f"warning: the server or an agent logged a traceback ({log_path}):\n"
                f"{tail(log_path)}",
                file=sys.stderr,
            )


# --- measuring -------------------------------------------------------------------------


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]


class Timings(TypedDict):
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def timings(times_ms: Iterable[float]) -> Timings:
    """How many times a request was timed, and the p50, p99 and maximum of those times."""
    ordered = sorted(times_ms)
    return {
        "count": len(ordered),
        "p50_ms": percentile(ordered, 0.5),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1],
    }


@dataclass(kw_only=True)
class Result:
    """The latency of one request, timed ``count`` times; scripts add their own fields."""

    name: str
    request: str
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def row(self, *more: str) -> str:
        """A Markdown table row: name, count, p50, p99 and max, then ``more`` cells."""
        timed = (f"{ms:.1f}" for ms in (self.p50_ms, self.p99_ms, self.max_ms))
        return f"| {' | '.join([self.name, str(self.count), *timed, *more])} |"


# --- report ----------------------------------------------------------------------------


def machine(tools: Sequence[str] = ()) -> dict[str, str]:
    """CPUs, CPU model, RAM, OS and Python version, and the first line of each of ``tools``'
    ``--version`` (left out where it cannot be run)."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))}, kernel {platform.release()}"
    versions = {}
    for tool in tools:
        with contextlib.suppress(OSError, IndexError):
            done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
            if done.returncode == 0:
                versions[tool] = done.stdout.strip().splitlines()[0]
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "os": os_name,
        "python": platform.python_version(),
        **versions,
    }


def describe(info: dict[str, str]) -> str:
    """The start of the scripts' ``Machine:`` line, from :func:`machine`."""
    return (
        f"{info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM, {info['os']}, "
        f"Python {info['python']}"
    )


def report(
    table: str,
    fill_s: float,
    results: Sequence[Result],
    json_path: Path | None,
    about: dict[str, Any],
) -> None:
    """Print the results table and the ``Machine:`` line of a benchmark that fills a
    database first; with ``json_path``, also write ``about``, the machine, the fill time and
    the results there."""
    info = machine()
    print()
    sys.stdout.flush()
    print(table)
    print()
    print(f"Machine: {describe(info)}. Fill took {fill_s:.1f} s (not measured above).")
    if json_path:
        everything = {**about, "machine": info, "fill_s": fill_s}
        everything["results"] = [asdict(r) for r in results]
        json_path.write_text(json.dumps(everything, indent=2) + "\n")
