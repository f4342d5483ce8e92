"""What the local backend's buildroot costs per build: BuildRequires resolved from the
project's repository, fetched, unpacked and laid over /usr (issue 13).

Setup (not measured): 20 trivial noarch packages ``dep01`` … ``dep20`` (each with a header
under /usr/include and a script under /usr/bin) built with rpmbuild into a repository made
by createrepo_c, standing for the project's own repository (``served``: the agent fetches
it, here from files, as the real agent does over HTTP from its server); and three SRPMs of
one trivial noarch package with 0, 1 and 20 of them as BuildRequires.

Measured, ``--builds`` times each after one untimed warm-up, in this process:

- **prepare**: ``buildroot.prepare`` alone (read the BuildRequires, fetch the metadata,
  resolve in the sandbox, fetch and check the packages, unpack them in a second sandbox);
- **build**: the local backend's whole ``build_rpm`` (prepare, then rpmbuild in the sandbox
  with the overlay, collecting the RPM).

The difference of ``build`` against the 0-BuildRequires case is what the buildroot adds to
a build. Run as root for the README's numbers (a root agent: build uids, cgroups).

    .venv/bin/python benchmarks/buildroot.py             # ~1 minute
    .venv/bin/python benchmarks/buildroot.py --builds 20 --json out.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coprd.builder import buildroot  # noqa: E402
from coprd.builder.backends.base import BuildRepo, RpmTask  # noqa: E402
from coprd.builder.backends.local import LocalBackend, host_target_cpu  # noqa: E402
from coprd.builder.confined import ConfinedDir  # noqa: E402

SERVER = "http://coprd.invalid/results/bench/project/fedora-45-x86_64/"
DEP_SPEC = """\
Name: dep{n:02d}
Version: 1
Release: 1
Summary: dependency {n}
License: MIT
BuildArch: noarch
AutoReqProv: no
%description
dependency {n}
%install
mkdir -p %{{buildroot}}/usr/include %{{buildroot}}/usr/bin
echo '#define DEP{n:02d} 1' > %{{buildroot}}/usr/include/dep{n:02d}.h
printf '#!/bin/sh\\necho dep{n:02d}\\n' > %{{buildroot}}/usr/bin/dep{n:02d}
chmod 755 %{{buildroot}}/usr/bin/dep{n:02d}
%files
/usr/include/dep{n:02d}.h
/usr/bin/dep{n:02d}
"""
USER_SPEC = """\
Name: user{count}
Version: 1
Release: 1
Summary: needs {count} packages
License: MIT
BuildArch: noarch
{requires}
%description
needs {count} packages
%build
{checks}
%install
mkdir -p %{{buildroot}}/usr/share/user
echo x > %{{buildroot}}/usr/share/user/x
%files
/usr/share/user/x
"""


def rpmbuild(spec_text: str, name: str, topdir: Path, mode: str) -> list[Path]:
    topdir.mkdir(parents=True, exist_ok=True)
    spec = topdir / f"{name}.spec"
    spec.write_text(spec_text)
    subprocess.run(
        ["rpmbuild", "--define", f"_topdir {topdir}", mode, str(spec)],
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(topdir), "LC_ALL": "C"},
    )
    return sorted((topdir / ("SRPMS" if mode == "-bs" else "RPMS")).rglob("*.rpm"))


def fetch_from(directory: Path) -> Any:
    def fetch(url: str, dest: Path) -> None:
        source = directory / url[len(SERVER) :]
        if not url.startswith(SERVER) or not source.is_file():
            raise RuntimeError(f"404 {url}")
        shutil.copy(source, dest)

    return fetch


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    problem = buildroot.solver_problem()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 1
    base = Path(tempfile.mkdtemp(prefix="coprd-bench-buildroot-"))
    base.chmod(0o755)  # the build uids must reach their work directories
    try:
        repo = base / "repo"
        repo.mkdir()
        for n in range(1, 21):
            for rpm in rpmbuild(DEP_SPEC.format(n=n), f"dep{n:02d}", base / f"d{n}", "-bb"):
                shutil.copy(rpm, repo)
        subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
        arch = host_target_cpu()
        backend = LocalBackend()
        numbers: dict[str, dict[str, list[float]]] = {}
        for count in (0, 1, 20):
            requires = "\n".join(f"BuildRequires: dep{n:02d}" for n in range(1, count + 1))
            checks = "\n".join(f"dep{n:02d} >/dev/null" for n in range(1, count + 1)) or "true"
            (srpm,) = rpmbuild(
                USER_SPEC.format(count=count, requires=requires, checks=checks),
                f"user{count}",
                base / f"u{count}",
                "-bs",
            )
            runs: dict[str, list[float]] = {"prepare": [], "build": []}
            for run in range(args.builds + 1):
                work = base / f"w{count}-{run}"
                task = RpmTask(
                    srpm=srpm,
                    chroot=f"fedora-45-{arch}",
                    outdir=work / "out",
                    workdir=work / "work",
                    enable_net=False,
                    timeout_s=600,
                    memory_bytes=None,
                    with_opts=(),
                    without_opts=(),
                    repos=(BuildRepo(SERVER, id="copr_base", served=True),),
                    buildroot_pkgs=(),
                    fetch=fetch_from(repo),
                )
                task.workdir.mkdir(parents=True)
                started = time.perf_counter()
                with ConfinedDir(task.workdir) as files:
                    buildroot.prepare(task, files, lambda _chunk: None)
                prepared = time.perf_counter() - started
                shutil.rmtree(task.workdir, ignore_errors=True)
                started = time.perf_counter()
                result = backend.build_rpm(task, lambda _chunk: None)
                built = time.perf_counter() - started
                assert result.state == "succeeded", result.message
                if run:  # the first is the warm-up
                    runs["prepare"].append(prepared * 1000)
                    runs["build"].append(built * 1000)
                shutil.rmtree(work, ignore_errors=True)
            numbers[str(count)] = runs
        print("| BuildRequires | prepare p50 ms | prepare p90 ms | build p50 ms | build p90 ms |")
        print("|---:|---:|---:|---:|---:|")
        for count, runs in numbers.items():
            print(
                f"| {count} | {statistics.median(runs['prepare']):.0f} "
                f"| {percentile(runs['prepare'], 0.9):.0f} "
                f"| {statistics.median(runs['build']):.0f} "
                f"| {percentile(runs['build'], 0.9):.0f} |"
            )
        if args.json:
            args.json.write_text(json.dumps(numbers, indent=2))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
