"""Latency of the APIv3 monitor of a large project, next to the package list of the same
project.

Fills a fresh database with one project of many packages in several chroots, each with
several builds (the fill of ``packages.py``; setup, not measured), starts the real
server (``coprd serve``) on a free loopback port against it, and times sequential
requests over HTTP from this process: ``GET /api_3/monitor`` (as ``copr-cli monitor``
asks, and with every additional field), ``GET /api_3/package/list`` of the same project
(without and with the latest builds), and the first page of the web UI's Monitor tab.
Everything it creates (server process, data directory, PostgreSQL database) is removed
at the end, also after an error or Ctrl-C.

    .venv/bin/python benchmarks/monitor.py                 # SQLite in a temporary data dir
    .venv/bin/python benchmarks/monitor.py --db postgres   # a throw-away coprd_bench_* DB

See benchmarks/README.md for the numbers and how to read them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import _harness
import httpx
from _harness import timings
from packages import OWNER, PROJECT, Result, fill, markdown

from coprd.db.models import BuildState

CHROOTS = (
    "fedora-rawhide-x86_64",
    "fedora-rawhide-aarch64",
    "fedora-45-x86_64",
    "epel-10-x86_64",
)
# The newest round's chroot tasks, in turn: a monitor shows every colour.
LAST_ROUND = (BuildState.failed, BuildState.succeeded, BuildState.running, BuildState.pending)


# --- measuring -------------------------------------------------------------------------


Check = Callable[[httpx.Response], None]


def interleaved(
    base: str, plans: Sequence[tuple[str, str, Check]], count: int, warmup: int
) -> list[Result]:
    """``warmup`` then ``count`` rounds of one request of each plan, in turn, over one
    keep-alive connection: a machine whose load drifts during the run slows every kind
    of request alike, so they stay comparable with each other."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in plans}
    sizes: dict[str, int] = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for i in range(warmup + count):
            for name, path, check in plans:
                start = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - start) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
                check(response)
                sizes[name] = len(response.content)
                if i >= warmup:
                    times[name].append(elapsed)
    return [
        Result(name=name, request=path, **timings(times[name]), kib=sizes[name] / 1024)
        for name, path, _ in plans
    ]


def expect_monitor(n: int, n_chroots: int, fields: Sequence[str]) -> Check:
    def check(response: httpx.Response) -> None:
        packages = response.json()["packages"]
        if len(packages) != n:
            raise RuntimeError(f"expected {n} packages, got {len(packages)}")
        for package in (packages[0], packages[-1]):
            chroots = package["chroots"]
            if len(chroots) != n_chroots:
                raise RuntimeError(f"expected {n_chroots} chroots: {package}")
            cell = next(iter(chroots.values()))
            if any(field not in cell for field in ("state", "status", "build_id", *fields)):
                raise RuntimeError(f"fields missing: {cell}")

    return check


def expect_list(n: int, with_builds: bool) -> Check:
    def check(response: httpx.Response) -> None:
        items = response.json()["items"]
        if len(items) != n:
            raise RuntimeError(f"expected {n} packages, got {len(items)}")
        if with_builds and not items[0]["builds"]["latest"]:
            raise RuntimeError(f"the latest build is missing: {items[0]}")

    return check


def expect_page(rows: int) -> Check:
    def check(response: httpx.Response) -> None:
        found = response.text.count('<th scope="row">')
        if found != rows:
            raise RuntimeError(f"expected {rows} rows on the Monitor tab, got {found}")

    return check


def run_measurements(base: str, args: argparse.Namespace) -> list[Result]:
    n, chroots = args.packages, args.chroots
    project = f"ownername={OWNER}&projectname={PROJECT}"
    extra = ("url_build_log", "url_backend_log", "url_build")
    asked = "".join(f"&additional_fields[]={f}" for f in extra)
    both = "&with_latest_build=True&with_latest_succeeded_build=True"
    plans: list[tuple[str, str, Check]] = [
        ("monitor", f"/api_3/monitor?{project}", expect_monitor(n, chroots, ())),
        (
            "monitor, all 3 additional fields",
            f"/api_3/monitor?{project}{asked}",
            expect_monitor(n, chroots, extra),
        ),
        ("package/list", f"/api_3/package/list?{project}", expect_list(n, False)),
        (
            "package/list, latest builds",
            f"/api_3/package/list?{project}{both}",
            expect_list(n, True),
        ),
        (
            "web Monitor tab, first page",
            f"/coprs/{OWNER}/{PROJECT}/monitor/",
            expect_page(min(n, 100)),
        ),
    ]
    print(f"  measuring {len(plans)} requests, interleaved ...", file=sys.stderr, flush=True)
    return interleaved(base, plans, args.requests, max(1, args.requests // 10))


# --- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    _harness.add_database_options(p)
    p.add_argument("--packages", type=int, default=2000)
    p.add_argument("--chroots", type=int, default=4, choices=range(1, len(CHROOTS) + 1))
    p.add_argument("--builds", type=int, default=3, help="builds per package")
    p.add_argument("--requests", type=int, default=50, help="timed requests of each kind")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.packages < 1 or args.builds < 1 or args.requests < 1:
        p.error("need at least one package, one build of each and one request")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with _harness.fresh_settings(args) as settings:
        print(
            f"filling {args.db} with {args.packages} packages x {args.chroots} chroots, "
            f"{args.builds} builds each ...",
            file=sys.stderr,
            flush=True,
        )
        started = time.perf_counter()
        n_builds = fill(
            settings,
            args.packages,
            args.builds,
            CHROOTS[: args.chroots],
            lambda i: LAST_ROUND[i % len(LAST_ROUND)],
        )
        fill_s = time.perf_counter() - started
        print(f"  filled in {fill_s:.1f} s", file=sys.stderr, flush=True)
        # No builder agents: nothing polls the server while it is timed.
        with _harness.serve(
            settings.data_dir, builders=0, database_url=settings.database_url
        ) as server:
            load_before = os.getloadavg()[0]
            results = run_measurements(server.url, args)
            load_after = os.getloadavg()[0]

    label = f"{args.db}, {args.packages} packages x {args.chroots} chroots, {n_builds} builds"
    table = markdown(results, label)
    about: dict[str, Any] = {
        "db": args.db,
        "packages": args.packages,
        "chroots": args.chroots,
        "builds": n_builds,
        "load_average_1min": [load_before, load_after],
    }
    _harness.report(table, fill_s, results, args.json, about)
    # The machine's other work shows in every row; the rows' ratios are what compare.
    print(f"Load average (1 min) before / after the timed requests: {load_before:.2f}", end="")
    print(f" / {load_after:.2f}")
    return 0


if __name__ == "__main__":
    _harness.run(main)
