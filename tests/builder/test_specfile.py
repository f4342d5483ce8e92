"""The spec file of an SRPM, unpacked in the sandbox and read back confined."""

from __future__ import annotations

import subprocess
from pathlib import Path

from coprd.builder.specfile import extract_spec
from tests.builder.conftest import DATA, BuildSrpm, requires_tools

pytestmark = requires_tools


def test_the_spec_of_an_srpm_is_copied_out(build_srpm: BuildSrpm, tmp_path: Path) -> None:
    srpm = build_srpm("hello")
    out = tmp_path / "out"
    out.mkdir()
    log: list[bytes] = []
    spec = extract_spec(srpm, tmp_path / "work", out, log.append)
    assert spec == out / "hello.spec", b"".join(log)
    assert spec.read_text() == (DATA / "hello.spec").read_text()
    assert not log


def test_only_the_file_the_header_flags_as_the_spec_is_kept(tmp_path: Path) -> None:
    # An SRPM's sources may be named like a spec (here: the host's /etc/passwd, packed by
    # rpmbuild through a symlink); only the one its header flags as the spec is kept.
    top = tmp_path / "top"
    (top / "SOURCES").mkdir(parents=True)
    spec = tmp_path / "linked.spec"
    spec.write_text(
        "Name: linked\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\n"
        "Source0: evil.spec\n%description\nd\n%files\n"
    )
    (top / "SOURCES" / "evil.spec").symlink_to("/etc/passwd")
    subprocess.run(
        ["rpmbuild", "-bs", str(spec), "--define", f"_topdir {top}"],
        check=True,
        capture_output=True,
    )
    (srpm,) = (top / "SRPMS").glob("*.src.rpm")
    out = tmp_path / "out"
    out.mkdir()
    log: list[bytes] = []
    got = extract_spec(srpm, tmp_path / "work", out, log.append)
    assert got == out / "linked.spec", b"".join(log)
    assert "root:" not in got.read_text()
    assert sorted(p.name for p in out.iterdir()) == ["linked.spec"]


def test_a_file_that_is_no_rpm_keeps_no_spec(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.src.rpm"
    bogus.write_bytes(b"not an rpm at all")
    out = tmp_path / "out"
    out.mkdir()
    log: list[bytes] = []
    assert extract_spec(bogus, tmp_path / "work", out, log.append) is None
    assert b"the spec file is not kept" in b"".join(log)
    assert list(out.iterdir()) == []
