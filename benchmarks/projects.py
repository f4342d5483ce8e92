"""Latency and throughput of the APIv3 project list, search and detail endpoints.

Fills a fresh database with many projects (setup, not measured), starts the real server
(``coprd serve``) on a free loopback port against it, and drives it over HTTP from this
process: sequential requests for latency (p50/p99), then a fixed number of requests from
several concurrent clients for throughput. Everything it creates (server process, data
directory, PostgreSQL database) is removed at the end, also after an error or Ctrl-C.

    .venv/bin/python benchmarks/projects.py                 # SQLite in a temporary data dir
    .venv/bin/python benchmarks/projects.py --db postgres   # a throw-away coprd_bench_* DB

See benchmarks/README.md for the numbers and how to read them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from coprd.config import Settings
from coprd.core.projects import search_text
from coprd.db.engine import make_session_factory, write_session
from coprd.db.models import MockChroot, Project, ProjectChroot, User
from coprd.instance import prepare

ROOT = Path(__file__).resolve().parent.parent
COPRD = Path(sys.executable).parent / "coprd"  # run with the virtualenv's python
HOST = "127.0.0.1"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SEARCH_WORD = "python"  # in every second description; no other vocabulary word contains it
VOCABULARY = [
    "build",
    "tools",
    "for",
    "fedora",
    "and",
    "epel",
    "packages",
    "nightly",
    "snapshots",
    "of",
    "the",
    "upstream",
    "development",
    "branch",
    "rust",
    "crates",
    "golang",
    "modules",
    "desktop",
    "applications",
    "kernel",
    "fonts",
    "themes",
    "games",
    "scientific",
    "computing",
    "libraries",
    "compilers",
    "toolchain",
    "backports",
    "container",
    "images",
    "utilities",
    "experimental",
    "features",
    "bug",
    "fixes",
    "patched",
    "releases",
]
PAGE = 100


# --- setup -----------------------------------------------------------------------------


@dataclass
class Dataset:
    owners: list[str]
    projects: list[tuple[str, str]]
    search_matches: int


def fill(settings: Settings, n_projects: int, n_owners: int, seed: int) -> Dataset:
    """Migrate the schema and insert users, projects and their chroots in bulk."""
    rng = random.Random(seed)
    engine = prepare(settings)
    factory = make_session_factory(engine)
    now = dt.datetime(2026, 1, 1)
    with write_session(factory) as session:
        chroot_ids = list(
            session.scalars(
                select(MockChroot.id).where(MockChroot.is_active.is_(True)).order_by(MockChroot.id)
            )
        )
        owners = [f"bench-user{i:03d}" for i in range(n_owners)]
        user_ids = list(
            session.scalars(
                insert(User).returning(User.id, sort_by_parameter_order=True),
                [{"name": name, "email": f"{name}@example.test"} for name in owners],
            )
        )
        rows: list[dict[str, Any]] = []
        for i in range(n_projects):
            owner = rng.randrange(n_owners)
            words = rng.choices(VOCABULARY, k=rng.randint(8, 30))
            if i % 2 == 0:
                words.insert(rng.randrange(len(words) + 1), SEARCH_WORD.capitalize())
            rows.append(
                {
                    "name": f"project-{i:05d}",
                    "owner_name": owners[owner],
                    "user_id": user_ids[owner],
                    "created_on": now + dt.timedelta(minutes=i),
                    "description": " ".join(words),
                    "search_text": search_text(owners[owner], f"project-{i:05d}", " ".join(words)),
                    "instructions": "dnf copr enable " + owners[owner] + f"/project-{i:05d}",
                    "homepage": f"https://example.test/{owners[owner]}/project-{i:05d}",
                    "additional_repos": [],
                    "runtime_dependencies": [],
                    "packit_forge_projects_allowed": [],
                }
            )
        project_ids = list(
            session.scalars(
                insert(Project).returning(Project.id, sort_by_parameter_order=True), rows
            )
        )
        chroot_rows = [
            {"project_id": pid, "mock_chroot_id": mc, "created_on": now}
            for pid in project_ids
            for mc in rng.sample(chroot_ids, rng.randint(1, 3))
        ]
        session.execute(insert(ProjectChroot), chroot_rows)
        matches = session.scalar(
            select(func.count())
            .select_from(Project)
            .where(Project.search_text.contains(SEARCH_WORD))
        )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # What autovacuum would do within a minute of such a bulk load; makes runs
            # independent of its timing.
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return Dataset(owners, [(r["owner_name"], r["name"]) for r in rows], int(matches or 0))


@contextlib.contextmanager
def postgres_database(maintenance_url: str) -> Iterator[str]:
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


# --- server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server(data_dir: Path, database_url: str | None, timeout: float = 60) -> Iterator[str]:
    """``coprd serve`` on a free loopback port; yields its base URL once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRD_")}
    if database_url:
        env["COPRD_DATABASE_URL"] = database_url
    log_path = data_dir / "server.log"
    base = f"http://{HOST}:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(COPRD),
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                if httpx.get(f"{base}/api_3", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within {timeout}s:\n{_tail(log_path)}")
            time.sleep(0.1)
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        errors = [line for line in _tail(log_path, 200).splitlines() if "Traceback" in line]
        if errors:
            print(f"warning: the server logged errors:\n{_tail(log_path)}", file=sys.stderr)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- measuring -------------------------------------------------------------------------


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]


@dataclass
class Result:
    kind: str  # "list", "search" or "detail"
    name: str
    request: str
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rps: float | None = None
    concurrency: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Check = Callable[[httpx.Response], None]


def expect_items(n: int) -> Check:
    def check(response: httpx.Response) -> None:
        got = len(response.json()["items"])
        if got != n:
            raise RuntimeError(f"{response.request.url}: expected {n} items, got {got}")

    return check


def _get(client: httpx.Client, path: str, check: Check | None) -> float:
    start = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    if check is not None:
        check(response)
    return elapsed


def latency(
    base: str,
    kind: str,
    name: str,
    paths: Callable[[int], str],
    count: int,
    warmup: int,
    check: Check | None,
) -> Result:
    """``count`` sequential requests over one keep-alive connection, after ``warmup``."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(warmup):
            _get(client, paths(i), check)
        times = sorted(_get(client, paths(i), check) for i in range(count))
    return Result(
        kind, name, paths(0), count, percentile(times, 0.5), percentile(times, 0.99), times[-1]
    )


def throughput(
    base: str,
    name: str,
    paths: Callable[[int], str],
    count: int,
    concurrency: int,
    warmup: int,
    max_seconds: float,
) -> Result:
    """``count`` requests spread over ``concurrency`` clients, each a thread and connection."""
    lock = threading.Lock()
    next_index = 0
    times: list[float] = []
    failures: list[BaseException] = []
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        nonlocal next_index
        mine: list[float] = []
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                for i in range(warmup):
                    _get(client, paths(i), None)
                barrier.wait()
                while time.monotonic() < deadline:
                    with lock:
                        index = next_index
                        next_index += 1
                    if index >= count:
                        break
                    mine.append(_get(client, paths(index), None))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            barrier.abort()
        with lock:
            times.extend(mine)

    barrier = threading.Barrier(concurrency + 1)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join(max_seconds + 120)
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{name}: {failures[0]!r}") from failures[0]
    times.sort()
    return Result(
        "detail",
        name,
        paths(0),
        len(times),
        percentile(times, 0.5),
        percentile(times, 0.99),
        times[-1],
        rps=len(times) / elapsed,
        concurrency=concurrency,
    )


def _constant(path: str) -> Callable[[int], str]:
    return lambda _i: path


def run_measurements(base: str, data: Dataset, args: argparse.Namespace) -> list[Result]:
    n = len(data.projects)
    deep = max(0, n - PAGE)
    search_deep = max(0, data.search_matches - PAGE)
    owner = data.owners[0]
    owned = sum(1 for o, _ in data.projects if o == owner)
    rng = random.Random(args.seed + 1)
    sample = [data.projects[rng.randrange(n)] for _ in range(args.rps_requests + 1000)]

    list_path = f"/api_3/project/list?limit={PAGE}"
    search_path = f"/api_3/project/search?query={SEARCH_WORD}&limit={PAGE}"
    plans: list[tuple[str, str, str, Check]] = [
        ("list", "list, offset 0", f"{list_path}&offset=0", expect_items(PAGE)),
        (
            "list",
            f"list, offset {deep}",
            f"{list_path}&offset={deep}",
            expect_items(min(PAGE, n - deep)),
        ),
        (
            "list",
            f"list by owner ({owned} projects)",
            f"{list_path}&ownername={owner}",
            expect_items(min(PAGE, owned)),
        ),
        (
            "search",
            f"search {SEARCH_WORD!r}, offset 0",
            f"{search_path}&offset=0",
            expect_items(min(PAGE, data.search_matches)),
        ),
        (
            "search",
            f"search {SEARCH_WORD!r}, offset {search_deep}",
            f"{search_path}&offset={search_deep}",
            expect_items(min(PAGE, data.search_matches - search_deep)),
        ),
    ]
    results = []
    for kind, name, path, check in plans:
        print(f"  measuring {name} ...", file=sys.stderr, flush=True)
        results.append(
            latency(base, kind, name, _constant(path), args.requests, args.warmup, check)
        )

    def detail(i: int) -> str:
        ownername, projectname = sample[i]
        return f"/api_3/project?ownername={ownername}&projectname={projectname}"

    print(f"  measuring project detail x{args.concurrency} ...", file=sys.stderr, flush=True)
    results.append(
        throughput(
            base,
            "one project (GET /api_3/project)",
            detail,
            args.rps_requests,
            args.concurrency,
            20,
            args.rps_max_seconds,
        )
    )
    return results


# --- report ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
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
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "os": os_name,
        "python": platform.python_version(),
    }


def markdown(results: Sequence[Result], backend: str, target_ms: float) -> str:
    lines = [
        f"| {backend} | requests | p50 ms | p99 ms | max ms | req/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rps = f"{r.rps:.0f} ({r.concurrency} clients)" if r.rps is not None else ""
        lines.append(
            f"| {r.name} | {r.count} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.1f} | {rps} |"
        )
    lines.append("")
    for kind, what in (("list", "project/list"), ("search", "project/search")):
        worst = max(r.p99_ms for r in results if r.kind == kind)
        verdict = "met" if worst < target_ms else "MISSED"
        lines.append(
            f"- p99 < {target_ms:.0f} ms for a page of {PAGE} of {what} at any offset: "
            f"**{verdict}** (worst p99 {worst:.1f} ms)"
        )
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument(
        "--postgres-url",
        default=os.environ.get("COPRD_BENCH_POSTGRES", DEFAULT_PG),
        help="maintenance database to create the coprd_bench_* database from "
        f"(default $COPRD_BENCH_POSTGRES or {DEFAULT_PG})",
    )
    p.add_argument("--projects", type=int, default=10_000)
    p.add_argument("--owners", type=int, default=100)
    p.add_argument("--requests", type=int, default=200, help="timed requests per list query")
    p.add_argument("--warmup", type=int, default=20, help="untimed requests before each")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rps-requests", type=int, default=4000, help="requests in the throughput run")
    p.add_argument(
        "--rps-max-seconds",
        type=float,
        default=60,
        help="stop the throughput run after this long even if not done",
    )
    p.add_argument("--target-ms", type=float, default=50)
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.projects < PAGE or args.owners < 1 or args.requests < 1 or args.concurrency < 1:
        p.error(f"need at least {PAGE} projects, one owner, one request and one client")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM ends the run like Ctrl-C does, so that the cleanup below runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    tmp = Path(tempfile.mkdtemp(prefix="coprd-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            url = None
            if args.db == "postgres":
                url = stack.enter_context(postgres_database(args.postgres_url))
            settings = Settings(data_dir=tmp / "data", database_url=url or "")
            print(
                f"filling {args.db} with {args.projects} projects ...", file=sys.stderr, flush=True
            )
            started = time.perf_counter()
            data = fill(settings, args.projects, args.owners, args.seed)
            fill_s = time.perf_counter() - started
            print(
                f"  filled in {fill_s:.1f} s; {data.search_matches} match {SEARCH_WORD!r}",
                file=sys.stderr,
                flush=True,
            )
            base = stack.enter_context(server(settings.data_dir, url))
            results = run_measurements(base, data, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    info = machine()
    print()
    label = f"{args.db}, {args.projects} projects"
    sys.stdout.flush()
    print(markdown(results, label, args.target_ms))
    print()
    print(
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM, {info['os']}, "
        f"Python {info['python']}. Fill took {fill_s:.1f} s (not measured above)."
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "db": args.db,
                    "projects": args.projects,
                    "machine": info,
                    "fill_s": fill_s,
                    "results": [asdict(r) for r in results],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        raise SystemExit(130) from None
