"""The macros a chroot name implies."""

from __future__ import annotations

import pytest

from coprd.builder.macros import RAWHIDE_VERSION, chroot_macros, chroot_target, split_chroot


@pytest.mark.parametrize(
    ("chroot", "expected"),
    [
        (
            "fedora-45-x86_64",
            {
                "dist": ".fc45",
                "fedora": "45",
                "fc45": "1",
                "_target_cpu": "x86_64",
                "_arch": "x86_64",
            },
        ),
        (
            "fedora-rawhide-aarch64",
            {
                "dist": f".fc{RAWHIDE_VERSION}",
                "fedora": str(RAWHIDE_VERSION),
                f"fc{RAWHIDE_VERSION}": "1",
                "_target_cpu": "aarch64",
                "_arch": "aarch64",
            },
        ),
        (
            "epel-9-x86_64",
            {
                "dist": ".el9",
                "rhel": "9",
                "epel": "9",
                "el9": "1",
                "_target_cpu": "x86_64",
                "_arch": "x86_64",
            },
        ),
        (
            "centos-stream-10-ppc64le",
            {
                "dist": ".el10",
                "rhel": "10",
                "centos": "10",
                "el10": "1",
                "_target_cpu": "ppc64le",
                "_arch": "ppc64le",
            },
        ),
        (
            "rhel-8-s390x",
            {"dist": ".el8", "rhel": "8", "el8": "1", "_target_cpu": "s390x", "_arch": "s390x"},
        ),
        (
            "fedora-44-i386",
            {"dist": ".fc44", "fedora": "44", "fc44": "1", "_target_cpu": "i686", "_arch": "i386"},
        ),
        ("opensuse-tumbleweed-x86_64", {"_target_cpu": "x86_64", "_arch": "x86_64"}),
        ("mageia-9-armhfp", {"_target_cpu": "armv7hl", "_arch": "arm"}),
        ("fedora-eln-x86_64", {"_target_cpu": "x86_64", "_arch": "x86_64"}),
    ],
)
def test_chroot_macros(chroot: str, expected: dict[str, str]) -> None:
    assert chroot_macros(chroot) == expected


def test_rawhide_is_the_next_fedora() -> None:
    assert chroot_macros("fedora-rawhide-x86_64")["dist"] == ".fc46"


def test_target_is_what_rpmbuild_takes() -> None:
    assert chroot_target("fedora-45-x86_64") == "x86_64"
    assert chroot_target("fedora-44-i386") == "i686"
    assert chroot_target("centos-stream-9-aarch64") == "aarch64"


def test_split_keeps_dashes_in_the_release() -> None:
    assert split_chroot("centos-stream-10-x86_64") == ("centos-stream", "10", "x86_64")


@pytest.mark.parametrize(
    "bad", ["", "fedora", "fedora-45", "Fedora-45-x86_64", "fedora-45-x86_64\n"]
)
def test_malformed_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a chroot name"):
        chroot_macros(bad)
