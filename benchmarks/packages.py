"""Latency of the APIv3 package list with each package's latest builds.

Fills a fresh database with one project of many packages, each with several builds
(setup, not measured), starts the real server (``coprd serve``) on a free loopback port
against it, and times sequential requests over HTTP from this process: the whole list as
one page (what ``copr-cli list-packages --with-latest-build`` asks for), and pages of 100.
Everything it creates (server process, data directory, PostgreSQL database) is removed at
the end, also after an error or Ctrl-C.

    .venv/bin/python benchmarks/packages.py                 # SQLite in a temporary data dir
    .venv/bin/python benchmarks/packages.py --db postgres   # a throw-away coprd_bench_* DB

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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from coprd.config import Settings
from coprd.db.engine import make_session_factory, write_session
from coprd.db.models import (
    SOURCE_TASK_CHROOT,
    Build,
    BuildState,
    BuildTask,
    MockChroot,
    Package,
    Project,
    ProjectChroot,
    User,
)
from coprd.instance import prepare

ROOT = Path(__file__).resolve().parent.parent
COPRD = Path(sys.executable).parent / "coprd"  # run with the virtualenv's python
HOST = "127.0.0.1"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
OWNER, PROJECT = "bench-user", "many-packages"
CHROOTS = ("fedora-rawhide-x86_64", "fedora-rawhide-aarch64")
PAGE = 100


# --- setup -----------------------------------------------------------------------------


def fill(settings: Settings, n_packages: int, builds_per_package: int) -> int:
    """Migrate, then bulk insert a user, one project with two chroots, ``n_packages`` scm
    packages and ``builds_per_package`` builds of each (the last one failed, the others
    succeeded), each build with a source task and a task per chroot. Returns the builds."""
    engine = prepare(settings)
    factory = make_session_factory(engine)
    now = dt.datetime(2026, 1, 1)
    with write_session(factory) as session:
        user_id = session.scalars(
            insert(User).returning(User.id), [{"name": OWNER, "email": "b@example.test"}]
        ).one()
        project_id = session.scalars(
            insert(Project).returning(Project.id),
            [
                {
                    "name": PROJECT,
                    "owner_name": OWNER,
                    "user_id": user_id,
                    "created_on": now,
                    "search_text": f"{OWNER}/{PROJECT}\n",
                    "additional_repos": [],
                    "runtime_dependencies": [],
                    "packit_forge_projects_allowed": [],
                }
            ],
        ).one()
        chroot_ids = session.scalars(select(MockChroot.id).where(MockChroot.name.in_(CHROOTS)))
        session.execute(
            insert(ProjectChroot),
            [
                {"project_id": project_id, "mock_chroot_id": mc, "created_on": now}
                for mc in chroot_ids
            ],
        )
        package_ids = session.scalars(
            insert(Package).returning(Package.id, sort_by_parameter_order=True),
            [
                {
                    "project_id": project_id,
                    "name": f"package-{i:05d}",
                    "source_type": "scm",
                    "source_json": {
                        "clone_url": f"https://git.example.test/{OWNER}/package-{i:05d}.git",
                        "committish": "",
                        "subdirectory": "",
                        "spec": "",
                        "type": "git",
                        "source_build_method": "rpkg",
                    },
                    "webhook_rebuild": i % 2 == 0,
                    "chroot_denylist": [],
                    "created_on": now,
                }
                for i in range(n_packages)
            ],
        ).all()
        # Builds in submission order: round after round over all packages, as a project
        # that is rebuilt now and then has them.
        rows = []
        for round_ in range(builds_per_package):
            state = BuildState.failed if round_ == builds_per_package - 1 else BuildState.succeeded
            for i, package_id in enumerate(package_ids):
                moment = now + dt.timedelta(minutes=round_ * n_packages + i)
                rows.append(
                    {
                        "project_id": project_id,
                        "submitter_id": user_id,
                        "state": state,
                        "source_type": "scm",
                        "source_json": {"clone_url": f"https://git.example.test/{i}.git"},
                        "pkg_name": f"package-{i:05d}",
                        "pkg_version": f"1.{round_}-1",
                        "srpm_name": f"package-{i:05d}-1.{round_}-1.src.rpm",
                        "project_dirname": PROJECT,
                        "is_background": False,
                        "timeout": 18000,
                        "enable_net": False,
                        "package_id": package_id,
                        "submitted_on": moment,
                        "started_on": moment,
                        "ended_on": moment + dt.timedelta(minutes=3),
                    }
                )
        build_ids = session.scalars(
            insert(Build).returning(Build.id, sort_by_parameter_order=True), rows
        ).all()
        tasks = [
            {
                "build_id": build_id,
                "chroot_name": chroot,
                "arch": None if chroot == SOURCE_TASK_CHROOT else chroot.rsplit("-", 1)[1],
                "owner_name": OWNER,
                "state": row["state"],
                "priority": 0,
                "attempts": 1,
                "cancel_requested": False,
                "message": "",
                "built_packages": [],
            }
            for build_id, row in zip(build_ids, rows, strict=True)
            for chroot in (SOURCE_TASK_CHROOT, *CHROOTS)
        ]
        for start in range(0, len(tasks), 20_000):
            session.execute(insert(BuildTask), tasks[start : start + 20_000])
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return len(build_ids)


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
    """``coprd serve`` (no builder agents) on a free loopback port; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPRD_")}
    if database_url:
        env["COPRD_DATABASE_URL"] = database_url
    log_path = data_dir / "server.log"
    base = f"http://{HOST}:{port}"
    argv = [str(COPRD), "serve", "--host", HOST, "--port", str(port), "--builders", "0"]
    argv += ["--data-dir", str(data_dir), "--log-level", "warning"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
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
        if "Traceback" in _tail(log_path, 200):
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
    name: str
    request: str
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    kib: float


Check = Callable[[dict[str, Any]], None]


def latency(base: str, name: str, path: str, count: int, warmup: int, check: Check) -> Result:
    """``count`` sequential requests over one keep-alive connection, after ``warmup``."""
    times = []
    size = 0
    with httpx.Client(base_url=base, timeout=120) as client:
        for i in range(warmup + count):
            start = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
            check(response.json())
            size = len(response.content)
            if i >= warmup:
                times.append(elapsed)
    times.sort()
    return Result(
        name, path, count, percentile(times, 0.5), percentile(times, 0.99), times[-1], size / 1024
    )


def expect(n: int, with_builds: bool) -> Check:
    def check(body: dict[str, Any]) -> None:
        items = body["items"]
        if len(items) != n:
            raise RuntimeError(f"expected {n} packages, got {len(items)}")
        builds = items[0]["builds"]
        if with_builds and not (builds["latest"] and builds["latest_succeeded"]):
            raise RuntimeError(f"the latest builds are missing: {builds}")
        if not with_builds and (builds["latest"] or builds["latest_succeeded"]):
            raise RuntimeError(f"builds that were not asked for: {builds}")

    return check


def run_measurements(base: str, args: argparse.Namespace) -> list[Result]:
    n = args.packages
    query = f"/api_3/package/list?ownername={OWNER}&projectname={PROJECT}"
    both = "&with_latest_build=True&with_latest_succeeded_build=True"
    last = max(0, n - PAGE)
    plans = [
        (f"all {n} in one page, latest builds", f"{query}&limit={n}{both}", n, True, args.big),
        (f"all {n} in one page, no builds", f"{query}&limit={n}", n, False, args.big),
        (
            f"page of {PAGE}, offset 0, latest builds",
            f"{query}&limit={PAGE}{both}",
            PAGE,
            True,
            args.requests,
        ),
        (
            f"page of {PAGE}, offset {last}, latest builds",
            f"{query}&limit={PAGE}&offset={last}{both}",
            min(PAGE, n - last),
            True,
            args.requests,
        ),
    ]
    results = []
    for name, path, count, with_builds, requests in plans:
        print(f"  measuring {name} ...", file=sys.stderr, flush=True)
        warmup = max(1, requests // 10)
        results.append(latency(base, name, path, requests, warmup, expect(count, with_builds)))
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


def markdown(results: Sequence[Result], label: str) -> str:
    lines = [
        f"| {label} | requests | p50 ms | p99 ms | max ms | response KiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.count} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.1f} "
            f"| {r.kib:.0f} |"
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
    p.add_argument("--packages", type=int, default=2000)
    p.add_argument("--builds", type=int, default=5, help="builds per package")
    p.add_argument("--big", type=int, default=30, help="timed requests of the one-page list")
    p.add_argument("--requests", type=int, default=200, help="timed requests of a page of 100")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.packages < PAGE or args.builds < 2 or args.big < 1 or args.requests < 1:
        p.error(f"need at least {PAGE} packages, 2 builds each and one request")
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
                f"filling {args.db} with {args.packages} packages, {args.builds} builds each ...",
                file=sys.stderr,
                flush=True,
            )
            started = time.perf_counter()
            n_builds = fill(settings, args.packages, args.builds)
            fill_s = time.perf_counter() - started
            print(f"  filled in {fill_s:.1f} s", file=sys.stderr, flush=True)
            base = stack.enter_context(server(settings.data_dir, url))
            results = run_measurements(base, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    info = machine()
    print()
    label = f"{args.db}, {args.packages} packages, {n_builds} builds"
    sys.stdout.flush()
    print(markdown(results, label))
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
                    "packages": args.packages,
                    "builds": n_builds,
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
