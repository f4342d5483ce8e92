"""Reading RPM headers: identity, arch rules, and refusing what is not the expected RPM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from coprd.builder.srpm import (
    InvalidPackage,
    Nevra,
    SrpmInfo,
    arch_allowed,
    inspect_rpm,
    inspect_srpm,
)
from tests.builder.conftest import BuildSrpm, requires_tools

pytestmark = requires_tools


def test_source_rpm_identity_and_arch_lists(build_srpm: BuildSrpm) -> None:
    info = inspect_srpm(build_srpm("exclusive"))
    assert info == SrpmInfo(
        name="exclusive",
        epoch=2,
        version="0.5",
        release="1",
        exclusive_arch=["s390x"],
        exclude_arch=["ppc64le", "armv7hl"],
    )


def test_source_rpm_without_epoch_or_arch_rules(build_srpm: BuildSrpm) -> None:
    info = inspect_srpm(build_srpm("hello"))
    assert (info.name, info.epoch, info.version, info.release) == ("hello", None, "1.0", "1")
    assert info.exclusive_arch == info.exclude_arch == []


def test_binary_rpm_identity(build_binary_rpm: Callable[[str], Path]) -> None:
    assert inspect_rpm(build_binary_rpm("hello")) == Nevra("hello", None, "1.0", "1", "noarch")
    assert str(Nevra("exclusive", 2, "0.5", "1", "s390x")) == "exclusive-2:0.5-1.s390x"


def test_binary_rpm_is_not_a_source_rpm(build_binary_rpm: Callable[[str], Path]) -> None:
    with pytest.raises(InvalidPackage, match=r"hello-1.0-1.noarch.rpm: a binary RPM, not a source"):
        inspect_srpm(build_binary_rpm("hello"))


def test_source_rpm_is_not_a_binary_rpm(build_srpm: BuildSrpm) -> None:
    with pytest.raises(InvalidPackage, match="a source RPM, not a binary RPM"):
        inspect_rpm(build_srpm("hello"))


@pytest.mark.parametrize("keep", [0, 50, 200, 3000, -100, -1])
def test_truncated_files_are_refused(build_srpm: BuildSrpm, tmp_path: Path, keep: int) -> None:
    data = build_srpm("hello").read_bytes()
    cut = tmp_path / "cut.src.rpm"
    cut.write_bytes(data[:keep])
    with pytest.raises(InvalidPackage, match=r"^cut\.src\.rpm: "):
        inspect_srpm(cut)


def test_corrupted_payload_is_refused(build_srpm: BuildSrpm, tmp_path: Path) -> None:
    data = bytearray(build_srpm("hello").read_bytes())
    data[-10] ^= 0xFF
    bad = tmp_path / "bad.src.rpm"
    bad.write_bytes(bytes(data))
    with pytest.raises(InvalidPackage, match="damaged or truncated"):
        inspect_srpm(bad)


def test_a_text_file_is_not_read_as_an_rpm_manifest(
    build_binary_rpm: Callable[[str], Path], tmp_path: Path
) -> None:
    # rpm -qp reads a non-RPM file as a list of further paths to query; never let it.
    manifest = tmp_path / "upload.src.rpm"
    manifest.write_text(f"{build_binary_rpm('hello')}\n")
    with pytest.raises(InvalidPackage, match=r"upload\.src\.rpm: not an RPM package"):
        inspect_srpm(manifest)
    with pytest.raises(InvalidPackage, match="not an RPM package"):
        inspect_rpm(manifest)


def test_empty_file_directory_and_missing_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.rpm"
    empty.write_bytes(b"")
    with pytest.raises(InvalidPackage, match="not an RPM package"):
        inspect_srpm(empty)
    with pytest.raises(InvalidPackage, match="not a regular file"):
        inspect_srpm(tmp_path)
    with pytest.raises(FileNotFoundError):
        inspect_srpm(tmp_path / "missing.src.rpm")


def _info(exclusive: list[str], exclude: list[str]) -> SrpmInfo:
    return SrpmInfo("p", None, "1", "1", exclusive_arch=exclusive, exclude_arch=exclude)


@pytest.mark.parametrize(
    ("exclusive", "exclude", "arch", "allowed"),
    [
        ([], [], "x86_64", True),
        (["s390x"], [], "s390x", True),
        (["s390x"], [], "x86_64", False),
        ([], ["s390x"], "s390x", False),
        ([], ["s390x"], "x86_64", True),
        (["x86_64", "aarch64"], ["aarch64"], "aarch64", False),
        (["X86_64"], [], "x86_64", True),  # rpm compares case-insensitively
        # Copr's i386 chroots build for rpm's i686; %{ix86} lists both.
        (["i686"], [], "i386", True),
        ([], ["i686"], "i386", False),
        (["armv7hl"], [], "armhfp", True),
        # noarch in ExclusiveArch matches no builder, as in rpmbuild.
        (["noarch"], [], "x86_64", False),
        (["noarch", "x86_64"], [], "x86_64", True),
    ],
)
def test_arch_allowed(exclusive: list[str], exclude: list[str], arch: str, allowed: bool) -> None:
    assert arch_allowed(_info(exclusive, exclude), arch) is allowed


def test_arch_rules_from_a_real_header(build_srpm: BuildSrpm) -> None:
    info = inspect_srpm(build_srpm("exclusive"))
    assert arch_allowed(info, "s390x")
    assert not arch_allowed(info, "x86_64")
    assert not arch_allowed(info, "ppc64le")
