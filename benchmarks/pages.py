"""Time and weight of the web UI's pages for a project with 10,000 builds (issue 6).

Fills a fresh database with one project of 2,000 packages and 5 builds each (10,000 builds,
30,000 tasks; the setup of ``packages.py``, not measured), starts the real server (``coprd
serve``) against it, and requests each page as a browser would (``Accept: text/html``),
sequentially over one keep-alive connection from this process, after a warm-up. The time
is the client's, on loopback: an upper bound of the server's time. The size is the HTML as
sent (the server does not compress it; the CSS and the live-log script are separate, cached
files, and are listed too). Everything it creates is removed at the end.

    .venv/bin/python benchmarks/pages.py                 # SQLite in a temporary data dir
    .venv/bin/python benchmarks/pages.py --db postgres   # a throw-away coprd_bench_* DB

The issue's target: the project page renders in under 100 ms of server time and under
200 KB transferred. See benchmarks/README.md for the numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _harness
import httpx
from _harness import timings
from packages import OWNER, PROJECT, fill

TARGET_MS = 100.0
TARGET_KB = 200.0


@dataclass(kw_only=True)
class Result(_harness.Result):
    kb: float


def measure(client: httpx.Client, name: str, path: str, count: int, warmup: int) -> Result:
    times = []
    size = 0
    for i in range(warmup + count):
        start = time.perf_counter()
        response = client.get(path, headers={"Accept": "text/html"})
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        size = len(response.content)
        if i >= warmup:
            times.append(elapsed)
    return Result(name=name, request=path, **timings(times), kb=size / 1000)


def run_measurements(base: str, n_builds: int, requests: int) -> list[Result]:
    project = f"/coprs/{OWNER}/{PROJECT}/"
    with httpx.Client(base_url=base, timeout=120) as client:
        newest = n_builds  # ids are 1..n in this fresh database
        pages = n_builds // 50
        plans = [
            ("project page (overview)", project),
            ("builds tab, first page", f"{project}builds/"),
            (f"builds tab, page {pages}", f"{project}builds/?page={pages}"),
            ("builds tab, filtered by state", f"{project}builds/?state=failed"),
            ("builds tab, filtered by package", f"{project}builds/?package=package-01234"),
            ("packages tab (2,000, with latest builds)", f"{project}packages/"),
            ("a build's page", f"{project}build/{newest}/"),
            ("home", "/"),
            ("stylesheet (cached by browsers)", "/static/coprd.css"),
        ]
        results = []
        for name, path in plans:
            print(f"  measuring {name} ...", file=sys.stderr, flush=True)
            results.append(measure(client, name, path, requests, max(2, requests // 10)))
    return results


def markdown(results: Sequence[Result], label: str) -> str:
    lines = [
        f"| {label} | requests | p50 ms | p99 ms | max ms | HTML kB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(r.row(f"{r.kb:.1f}"))
    return "\n".join(lines)


def verdict(results: Sequence[Result]) -> str:
    page = results[0]
    ok = page.p99_ms < TARGET_MS and page.kb < TARGET_KB
    return (
        f"Target (project page < {TARGET_MS:.0f} ms, < {TARGET_KB:.0f} kB): "
        f"{'MET' if ok else 'MISSED'} (p99 {page.p99_ms:.1f} ms, {page.kb:.1f} kB)."
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    _harness.add_database_options(p)
    p.add_argument("--packages", type=int, default=2000)
    p.add_argument("--builds", type=int, default=5, help="builds per package")
    p.add_argument("--requests", type=int, default=100, help="timed requests per page")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.packages < 1235 or args.builds < 2 or args.requests < 1:
        p.error("need at least 1235 packages (package-01234 is asked for), 2 builds each")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with _harness.fresh_settings(args) as settings:
        print(f"filling {args.db} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        n_builds = fill(settings, args.packages, args.builds)
        fill_s = time.perf_counter() - started
        with _harness.serve(
            settings.data_dir, builders=0, database_url=settings.database_url
        ) as server:
            results = run_measurements(server.url, n_builds, args.requests)
    table = markdown(results, f"{args.db}, {n_builds} builds") + "\n\n" + verdict(results)
    about = {"db": args.db, "packages": args.packages, "builds": n_builds}
    _harness.report(table, fill_s, results, args.json, about)
    return 0


if __name__ == "__main__":
    _harness.run(main)
