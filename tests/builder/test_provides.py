"""What a spec's packages provide, asked of rpmspec in the sandbox, and what an SRPM
BuildRequires, read from its header: the facts ``core/ordering.py`` orders builds by."""

from __future__ import annotations

import subprocess
from pathlib import Path

from coprd.builder.provides import parse_provides, requirement_names, spec_provides
from tests.builder.conftest import requires_tools

pytestmark = requires_tools

LIBFOO = """Name: libfoo
Version: 1.0
Release: 1
Summary: s
License: MIT
BuildRequires: gcc, make >= 4
BuildRequires: pkgconfig(zlib)
Provides: foo-compat = 1.0
%description
d
%package devel
Summary: headers
Provides: %(echo from-a-macro)
%description devel
d
%files
%files devel
"""


def test_subpackages_and_explicit_provides_by_name(tmp_path: Path) -> None:
    spec = tmp_path / "libfoo.spec"
    spec.write_text(LIBFOO)
    log: list[bytes] = []
    names = spec_provides(spec, tmp_path / "work", log.append)
    assert {"libfoo", "libfoo-devel", "foo-compat", "from-a-macro"} <= set(names), log
    assert not log


def test_a_spec_rpmspec_cannot_parse_provides_nothing_and_says_so(tmp_path: Path) -> None:
    spec = tmp_path / "broken.spec"
    spec.write_text("Name: broken\n%description\n")
    log: list[bytes] = []
    assert spec_provides(spec, tmp_path / "work", log.append) == []
    assert b"what the packages provide is not known" in b"".join(log)


def test_parse_provides_keeps_names_once() -> None:
    text = "libfoo = 1.0-1\nlibfoo(x86-64) = 1.0-1\nlibfoo = 1.0-1\n\n" + "x" * 300 + "\n"
    assert parse_provides(text) == ["libfoo", "libfoo(x86-64)"]


def test_build_requires_are_the_srpm_headers_requires(tmp_path: Path) -> None:
    spec = tmp_path / "libfoo.spec"
    spec.write_text(LIBFOO)
    subprocess.run(
        ["rpmbuild", "-bs", str(spec), "--define", f"_topdir {tmp_path / 'top'}"],
        check=True,
        capture_output=True,
    )
    (srpm,) = (tmp_path / "top" / "SRPMS").glob("*.src.rpm")
    assert requirement_names(srpm) == ["gcc", "make", "pkgconfig(zlib)"]
