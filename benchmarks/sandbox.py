"""What the isolation of issue 11 costs per sandboxed command and per build, against before.

Measures, in one process per variant, on a trivial workload so that the sandbox's own cost
is what shows:

1. **start**: ``run_sandboxed(["true"])`` with the network off, ``--runs`` times after 5
   untimed warm-ups: from the call to its return (namespaces, mounts, the filter, the
   cgroup, the limits, and tearing it all down).
2. **start, network on**: the same with slirp4netns (``--net-runs`` times).
3. **build**: the local backend's whole ``build_rpm`` of a trivial noarch SRPM (``rpmbuild
   --rebuild`` in the sandbox, collecting the RPM), ``--builds`` times.

Variants: ``before`` is the tree at ``--before`` (default 86fb507, the commit before issue
11: root without a user namespace, no filter, no cgroup, /tmp a tmpfs), checked out into a
temporary git worktree; ``now`` is this tree with every protection the host offers; the
others are this tree with one protection taken away, to show what each costs:
``no-seccomp`` (no filter), ``no-cgroups`` (rlimits instead of a pids and a memory
group), ``no-userns`` (the build as the agent's uid, ``allow_without_userns``).

    .venv/bin/python benchmarks/sandbox.py             # ~2 minutes
    .venv/bin/python benchmarks/sandbox.py --runs 50 --builds 10

Run as root for the numbers of the README (a root agent: build uids, cgroups). Prints a
Markdown table of medians and 90th percentiles in milliseconds; ``--json FILE`` keeps the
raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("before", "now", "no-seccomp", "no-cgroups", "no-userns")
SPEC = """\
Name: benchpkg
Version: 1
Release: 1
Summary: trivial
License: MIT
BuildArch: noarch
%description
trivial
%install
mkdir -p %{buildroot}/usr/share/benchpkg && echo x > %{buildroot}/usr/share/benchpkg/x
%files
/usr/share/benchpkg/x
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(variant: str, runs: int, net_runs: int, builds: int, srpm: Path, base: Path) -> dict:
    """In the subprocess, with the variant's tree first on sys.path."""
    import threading

    from coprd.builder import sandbox
    from coprd.builder.backends.base import RpmTask

    assert sandbox.__file__.startswith(os.environ["PYTHONPATH"]), sandbox.__file__
    from coprd.builder.backends.local import LocalBackend

    spec_kwargs: dict[str, Any] = {}
    if variant != "before":
        from coprd.builder import protections

        offered = protections.probe(sandbox.SandboxPolicy().user)
        if variant == "no-seccomp":
            offered = protections.Protections(offered.userns_problem, "off", offered.cgroups)
        elif variant == "no-cgroups":
            offered = protections.Protections(
                offered.userns_problem, offered.seccomp_problem, protections.CgroupSupport()
            )
        elif variant == "no-userns":
            offered = protections.Protections("off", offered.seccomp_problem, offered.cgroups)
        protections.probe = lambda user: offered  # type: ignore[assignment]
        spec_kwargs["policy"] = sandbox.SandboxPolicy(
            limits=sandbox.SandboxLimits(memory_bytes=4 * 1024**3),
            allow_without_userns=variant == "no-userns",
        )

    def start(network: bool) -> float:
        work = Path(tempfile.mkdtemp(dir=base))
        work.chmod(0o711)
        spec = sandbox.SandboxSpec(work, network, 60, **spec_kwargs)
        began = time.perf_counter()
        result = sandbox.run_sandboxed(["true"], spec, lambda _chunk: None)
        took = time.perf_counter() - began
        assert result.returncode == 0, result
        shutil.rmtree(work, ignore_errors=True)
        return took * 1000

    def build() -> float:
        work = Path(tempfile.mkdtemp(dir=base))
        work.chmod(0o711)
        (work / "out").mkdir()
        (work / "build").mkdir()
        fields: dict[str, Any] = {
            "srpm": srpm,
            "chroot": "fedora-rawhide-" + os.uname().machine,
            "outdir": work / "out",
            "workdir": work / "build",
            "enable_net": False,
            "timeout_s": 600.0,
            "memory_bytes": None,
            "with_opts": (),
            "without_opts": (),
            "repos": (),
            "buildroot_pkgs": (),
        }
        if "policy" in spec_kwargs:
            fields["sandbox"] = spec_kwargs["policy"]
        task = RpmTask(**fields)
        log = bytearray()
        began = time.perf_counter()
        result = LocalBackend().build_rpm(task, log.extend, threading.Event())
        took = time.perf_counter() - began
        assert result.state == "succeeded", log.decode(errors="replace")
        shutil.rmtree(work, ignore_errors=True)
        return took * 1000

    for _ in range(5):
        start(False)
    numbers = {
        "start": [start(False) for _ in range(runs)],
        "start, network on": [start(True) for _ in range(net_runs)],
    }
    build()
    numbers["build"] = [build() for _ in range(builds)]
    return numbers


def run_variant(variant: str, args: argparse.Namespace, srpm: Path, base: Path) -> dict:
    tree = ROOT
    worktree = None
    if variant == "before":
        worktree = Path(tempfile.mkdtemp(prefix="coprd-before-"))
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.before],
            check=True,
            capture_output=True,
        )
        tree = worktree
    try:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                variant,
                "--srpm",
                str(srpm),
                "--base",
                str(base),
                "--runs",
                str(args.runs),
                "--net-runs",
                str(args.net_runs),
                "--builds",
                str(args.builds),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"{variant} failed:\n{done.stdout}\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if worktree is not None:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                check=False,
                capture_output=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--net-runs", type=int, default=30)
    parser.add_argument("--builds", type=int, default=20)
    parser.add_argument("--before", default="86fb507")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", help="write the raw numbers here")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--srpm", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        # The variant's tree must win over an editable install of this one.
        sys.path.insert(0, os.environ["PYTHONPATH"])
        for name in [m for m in sys.modules if m == "coprd" or m.startswith("coprd.")]:
            del sys.modules[name]
        numbers = measure(
            args.measure, args.runs, args.net_runs, args.builds, Path(args.srpm), Path(args.base)
        )
        print(json.dumps(numbers))
        return

    base = Path(tempfile.mkdtemp(prefix="coprd-bench-sandbox-", dir="/var/tmp"))
    base.chmod(0o711)
    try:
        spec = base / "benchpkg.spec"
        spec.write_text(SPEC)
        subprocess.run(
            [
                "rpmbuild",
                "-bs",
                str(spec),
                "--define",
                f"_topdir {base / 'top'}",
                "--define",
                f"_srcrpmdir {base}",
            ],
            check=True,
            capture_output=True,
        )
        srpm = next(base.glob("*.src.rpm"))
        results = {}
        for variant in args.variants.split(","):
            print(f"measuring {variant} ...", file=sys.stderr, flush=True)
            results[variant] = run_variant(variant, args, srpm, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    kinds = ("start", "start, network on", "build")
    print("| variant | " + " | ".join(f"{k} p50 | p90" for k in kinds) + " |")
    print("|---|" + "---:|---:|" * len(kinds))
    for variant, numbers in results.items():
        cells = []
        for kind in kinds:
            values = numbers[kind]
            cells.append(f"{statistics.median(values):.0f} | {percentile(values, 0.9):.0f}")
        print(f"| {variant} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
