"""Real RPMs from a spec built with rpmbuild, and dnf pointed at a scratch install root."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

# Twenty packages that differ only by name, for the concurrency tests; and one whose name
# needs quoting in a URL.
SUBPACKAGES = [f"pkg{i:02d}" for i in range(1, 21)] + ["hello-c++"]
_COMMON = "http://linux.duke.edu/metadata/common"


@dataclass(frozen=True)
class Rpms:
    """What one rpmbuild -ba of the test spec produced."""

    srpm: Path
    hello: Path
    sub: dict[str, Path]


def _spec() -> str:
    lines = [
        "Name: hello",
        "Version: 1.0",
        "Release: 1",
        "Summary: A tiny test package",
        "License: MIT",
        "BuildArch: noarch",
        "%description",
        "A tiny test package.",
    ]
    for name in SUBPACKAGES:
        lines += [f"%package -n {name}", f"Summary: {name}", f"%description -n {name}", name]
    lines += ["%install", "mkdir -p %{buildroot}/usr/share/hello"]
    lines += ["echo hello > %{buildroot}/usr/share/hello/hello"]
    lines += [f"echo {n} > %{{buildroot}}/usr/share/hello/{n}" for n in SUBPACKAGES]
    lines += ["%files", "/usr/share/hello/hello"]
    for name in SUBPACKAGES:
        lines += [f"%files -n {name}", f"/usr/share/hello/{name}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> Rpms:
    top = tmp_path_factory.mktemp("rpmbuild")
    spec = top / "hello.spec"
    spec.write_text(_spec())
    subprocess.run(
        ["rpmbuild", "-ba", "--define", f"_topdir {top}", str(spec)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    noarch = top / "RPMS" / "noarch"
    return Rpms(
        srpm=top / "SRPMS" / "hello-1.0-1.src.rpm",
        hello=noarch / "hello-1.0-1.noarch.rpm",
        sub={name: noarch / f"{name}-1.0-1.noarch.rpm" for name in SUBPACKAGES},
    )


def place_build(repo: Path, build_id: int, package: str, *files: Path) -> Path:
    """Put a build directory in place the way the publisher does: filled under a hidden
    name, then renamed."""
    final = repo / f"{build_id:08d}-{package}"
    staging = repo / f".incoming-{build_id}"
    staging.mkdir(parents=True)
    for path in files:
        shutil.copy(path, staging / path.name)
    (staging / "builder-live.log").write_text(f"build {build_id}\n")
    staging.rename(final)
    return final


def primary(repo: Path) -> list[tuple[str, str, str]]:
    """(name, arch, location) of every package in the live primary.xml.gz."""
    repomd = ET.parse(repo / "repodata" / "repomd.xml").getroot()
    ns = {"r": "http://linux.duke.edu/metadata/repo"}
    href = next(
        d.find("r:location", ns).get("href", "")  # type: ignore[union-attr]
        for d in repomd.findall("r:data", ns)
        if d.get("type") == "primary"
    )
    with gzip.open(repo / href) as stream:
        root = ET.parse(stream).getroot()
    return [
        (
            p.findtext(f"{{{_COMMON}}}name", ""),
            p.findtext(f"{{{_COMMON}}}arch", ""),
            p.find(f"{{{_COMMON}}}location").get("href", ""),  # type: ignore[union-attr]
        )
        for p in root.iter(f"{{{_COMMON}}}package")
    ]


def dnf(root: Path, repo: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    """dnf with only ``repo`` (a directory, or a URL) enabled, installing into ``root``;
    never the host's repos."""
    cmd = [
        "dnf",
        "-y",
        "-q",
        "--disableplugin=local",
        f"--installroot={root}",
        "--releasever=rawhide",
        "--setopt=reposdir=/dev/null",
        "--setopt=skip_if_unavailable=False",
        f"--repofrompath=r,{repo if isinstance(repo, str) else f'file://{repo}'}",
        "--repo=r",
        "--nogpgcheck",
        "--refresh",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
