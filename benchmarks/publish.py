"""Benchmark: the time ``update_repo`` takes to publish one new build into a chroot repo
that already holds 0 or N packages (not collected by pytest; run it by hand).

    .venv/bin/python benchmarks/publish.py --packages 10000 --work /tmp/bench

It builds N+6 distinct tiny noarch RPMs once (one spec, N subpackages; about 10 s per
1,000 here) into ``--work``, lays them out as one build directory per package, indexes
them once from scratch, then times ``update_repo`` for single new builds. The variants
show what the chosen createrepo_c options cost or save.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coprd.publish import createrepo
from coprd.publish.createrepo import ensure_repo, update_repo

NEW = 6  # single-build publishes timed per repo; the first is a warm-up


def spec(count: int) -> str:
    lines = ["Name: bench", "Version: 1.0", "Release: 1", "Summary: bench", "License: MIT"]
    lines += ["BuildArch: noarch", "%description", "bench"]
    for i in range(count):
        lines += [f"%package -n bench{i:05d}", f"Summary: benchmark package {i}"]
        lines += [f"%description -n bench{i:05d}", f"Benchmark package number {i}."]
    lines += ["%install", "mkdir -p %{buildroot}/usr/share/bench"]
    lines += [
        f"for i in $(seq -f %05g 0 {count - 1}); do",
        "  echo $i > %{buildroot}/usr/share/bench/$i",
        "done",
    ]
    for i in range(count):
        lines += [f"%files -n bench{i:05d}", f"/usr/share/bench/{i:05d}"]
    return "\n".join(lines) + "\n"


def build_rpms(work: Path, count: int) -> list[Path]:
    out = work / f"top{count}" / "RPMS" / "noarch"
    if not out.is_dir() or len(list(out.glob("*.rpm"))) < count:
        spec_file = work / f"bench{count}.spec"
        spec_file.write_text(spec(count))
        t0 = time.monotonic()
        subprocess.run(
            ["rpmbuild", "-bb", "--define", f"_topdir {work / f'top{count}'}", str(spec_file)],
            check=True,
            capture_output=True,
        )
        print(f"rpmbuild of {count} packages: {time.monotonic() - t0:.1f} s")
    return sorted(out.glob("*.rpm"))


def place(repo: Path, build_id: int, rpm: Path) -> None:
    staging = repo / f".incoming-{build_id}"
    staging.mkdir()
    os.link(rpm, staging / rpm.name)
    name = rpm.name.split("-1.0-1")[0]
    staging.rename(repo / f"{build_id:08d}-{name}")


@contextmanager
def variant(options: tuple[str, ...]) -> Iterator[None]:
    saved = createrepo._OPTIONS
    createrepo._OPTIONS = options
    try:
        yield
    finally:
        createrepo._OPTIONS = saved


def measure(work: Path, existing: list[Path], new: list[Path], label: str) -> None:
    repo = work / f"repo-{len(existing)}"
    shutil.rmtree(repo, ignore_errors=True)
    ensure_repo(repo)
    for i, rpm in enumerate(existing, start=1):
        place(repo, i, rpm)
    t0 = time.monotonic()
    full = update_repo(repo)
    full_s = time.monotonic() - t0
    times = []
    for j, rpm in enumerate(new, start=len(existing) + 1):
        place(repo, j, rpm)
        result = update_repo(repo)
        times.append((result.total_s, result.createrepo_s))
    warm = times[1:]
    total = statistics.median(t for t, _ in warm)
    run = statistics.median(c for _, c in warm)
    print(
        f"{label:<34} existing={len(existing):>6}  index-from-scratch={full_s:7.2f} s  "
        f"publish-one: median total={total:6.3f} s (createrepo_c {run:6.3f} s), "
        f"min={min(t for t, _ in warm):6.3f}, max={max(t for t, _ in warm):6.3f}  "
        f"[{full.packages} -> {full.packages + len(new)} packages]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/coprd-bench-publish"))
    parser.add_argument("--variants", action="store_true", help="also time other options")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rpms = build_rpms(args.work, args.packages + NEW)
    existing, new = rpms[: args.packages], rpms[args.packages : args.packages + NEW]
    print(f"createrepo_c options: {' '.join(createrepo._OPTIONS)} --workers={createrepo._WORKERS}")
    measure(args.work, [], new, "chosen options")
    measure(args.work, existing, new, "chosen options")
    if args.variants:
        base = createrepo._OPTIONS
        with variant((*(o for o in base if o != "--no-database"), "--database")):
            measure(args.work, existing, new, "with sqlite databases")
        with variant((*base, "--skip-stat")):
            measure(args.work, existing, new, "with --skip-stat")
        with variant(tuple(o for o in base if o != "--general-compress-type=gz")):
            measure(args.work, existing, new, "createrepo_c default compression")


if __name__ == "__main__":
    main()
