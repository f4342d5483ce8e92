"""Spec files for source tests: small noarch packages that install data files only, so
dnf can install them into an empty root."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path


def data_spec(
    name: str,
    version: str = "1.0",
    *,
    sources: tuple[str, ...] = ("hello.txt",),
    build: str = "",
    header: str = "",
) -> str:
    """A noarch package installing each source as /usr/share/<name>/<file>."""
    lines = [
        header,
        f"Name:           {name}",
        f"Version:        {version}",
        "Release:        1%{?dist}",
        "Summary:        A package made by the source tests",
        "License:        MIT",
        "BuildArch:      noarch",
    ]
    lines += [f"Source{i}:        {source}" for i, source in enumerate(sources)]
    lines += ["", "%description", "Installs data files.", "", "%prep", "", "%build", build]
    lines += ["", "%install"]
    for i, source in enumerate(sources):
        filename = source.rsplit("/", 1)[-1]
        lines.append(
            f"install -D -m 0644 %{{SOURCE{i}}} %{{buildroot}}%{{_datadir}}/{name}/{filename}"
        )
    lines += ["", "%files", f"%{{_datadir}}/{name}/", ""]
    return "\n".join(lines)


def srpm_files(srpm: Path) -> list[str]:
    """The files inside a source RPM."""
    done = subprocess.run(
        ["rpm", "-qpl", "--nosignature", str(srpm)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return sorted(done.stdout.split())


def srpm_query(srpm: Path, fmt: str) -> str:
    done = subprocess.run(
        ["rpm", "-qp", "--nosignature", "--qf", fmt, str(srpm)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def spec_of(srpm: Path, name: str) -> str:
    """The text of the file ``name`` (a spec) inside ``srpm``."""
    archive = subprocess.run(
        ["rpm2archive", "-"], input=srpm.read_bytes(), capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile(f"./{name}")
        assert member is not None, tar.getnames()
        return member.read().decode()


def parsed(spec: str, tmp: Path, defines: dict[str, str] | None = None) -> str:
    """``rpmspec -P`` of ``spec`` with the macros ``defines`` (standing in for a
    distribution's macro packages)."""
    path = tmp / "parsed.spec"
    path.write_text(spec)
    args = []
    for name, value in (defines or {}).items():
        args += ["--define", f"{name} {value}"]
    done = subprocess.run(
        ["rpmspec", "-P", *args, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    return done.stdout
