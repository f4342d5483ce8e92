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
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _harness
import httpx
from _harness import timings
from sqlalchemy import func, insert, select

from coprd.config import Settings
from coprd.core.projects import search_text
from coprd.db.engine import make_session_factory, write_session
from coprd.db.models import MockChroot, Project, ProjectChroot, User
from coprd.instance import prepare

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
    _harness.settle(engine)
    return Dataset(owners, [(r["owner_name"], r["name"]) for r in rows], int(matches or 0))


# --- measuring -------------------------------------------------------------------------


@dataclass(kw_only=True)
class Result(_harness.Result):
    kind: str  # "list", "search" or "detail"
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
        times = [_get(client, paths(i), check) for i in range(count)]
    return Result(kind=kind, name=name, request=paths(0), **timings(times))


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
    return Result(
        kind="detail",
        name=name,
        request=paths(0),
        **timings(times),
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


def markdown(results: Sequence[Result], backend: str, target_ms: float) -> str:
    lines = [
        f"| {backend} | requests | p50 ms | p99 ms | max ms | req/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rps = f"{r.rps:.0f} ({r.concurrency} clients)" if r.rps is not None else ""
        lines.append(r.row(rps))
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
    _harness.add_database_options(p)
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
    with _harness.fresh_settings(args) as settings:
        print(f"filling {args.db} with {args.projects} projects ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        data = fill(settings, args.projects, args.owners, args.seed)
        fill_s = time.perf_counter() - started
        print(
            f"  filled in {fill_s:.1f} s; {data.search_matches} match {SEARCH_WORD!r}",
            file=sys.stderr,
            flush=True,
        )
        with _harness.serve(settings.data_dir, database_url=settings.database_url) as server:
            results = run_measurements(server.url, data, args)

    label = f"{args.db}, {args.projects} projects"
    table = markdown(results, label, args.target_ms)
    about = {"db": args.db, "projects": args.projects}
    _harness.report(table, fill_s, results, args.json, about)
    return 0


if __name__ == "__main__":
    _harness.run(main)
