"""The rpm macros a chroot name implies: the distribution's ``%dist`` family and the target.

A chroot is ``<release>-<version>-<arch>`` (``fedora-45-x86_64``, ``centos-stream-10-aarch64``).
The distribution macros are the ones the distribution's own macro packages define, so that
``%{?dist}``, ``%if 0%{?fedora}``, ``%if 0%{?rhel} >= 9`` and ``%if 0%{?el9}`` take the
branch they take on the real distribution:

=====================  ==========  =====================================================
release                ``%dist``   other macros
=====================  ==========  =====================================================
``fedora-N``           ``.fcN``    ``%fedora N``, ``%fcN 1``
``fedora-rawhide``     ``.fcR``    as ``fedora-R``, R = :data:`RAWHIDE_VERSION`
``epel-N``             ``.elN``    ``%rhel N``, ``%epel N``, ``%elN 1`` (EPEL is RHEL+EPEL)
``centos-stream-N``    ``.elN``    ``%rhel N``, ``%centos N``, ``%elN 1``
``rhel-N``             ``.elN``    ``%rhel N``, ``%elN 1``
anything else          —           none: an unknown release gets no distribution macros
=====================  ==========  =====================================================

The target is always given: ``_target_cpu`` is the architecture rpm builds for (what a
binary package's arch tag says) and ``_arch`` its canonical family (``%{_arch}`` in specs).
Copr's chroot architectures are rpm's except ``i386`` (rpm target ``i686``) and ``armhfp``
(rpm target ``armv7hl``).

Not modelled: EPEL 10's minor-version dist tags (``.el10_1``), ELN, and the macros of other
distributions (openSUSE, Mageia, openEuler …), which get only the target.
"""

from __future__ import annotations

import re

# Fedora's development branch; bump when Fedora branches the next release from rawhide.
RAWHIDE_VERSION = 46

_CHROOT = re.compile(
    r"(?P<release>[a-z0-9][a-z0-9_.+-]*)-(?P<version>[A-Za-z0-9_.+]+)-(?P<arch>[a-z0-9_]+)"
)

# Copr chroot arch → (rpm target cpu, rpm canonical arch). Identity for everything else.
_TARGETS: dict[str, tuple[str, str]] = {
    "i386": ("i686", "i386"),
    "i686": ("i686", "i386"),
    "armhfp": ("armv7hl", "arm"),
    "armv7hl": ("armv7hl", "arm"),
}


def split_chroot(chroot: str) -> tuple[str, str, str]:
    """``centos-stream-10-x86_64`` → ``("centos-stream", "10", "x86_64")``.

    Raises ValueError for a string that is not ``<release>-<version>-<arch>``.
    """
    match = _CHROOT.fullmatch(chroot)
    if match is None:
        raise ValueError(f"not a chroot name: {chroot!r} (expected <release>-<version>-<arch>)")
    return match["release"], match["version"], match["arch"]


def target_cpu(arch: str) -> str:
    """The rpm target cpu for a Copr chroot architecture (``i386`` → ``i686``)."""
    return _TARGETS.get(arch, (arch, arch))[0]


def chroot_target(chroot: str) -> str:
    """The rpm target cpu for the chroot: what ``rpmbuild --target`` takes."""
    return target_cpu(split_chroot(chroot)[2])


def chroot_macros(chroot: str) -> dict[str, str]:
    """The rpm macros (names without ``%``) that building for ``chroot`` defines.

    ``fedora-45-x86_64`` → ``{"dist": ".fc45", "fedora": "45", "fc45": "1",
    "_target_cpu": "x86_64", "_arch": "x86_64"}``. Unknown releases get only the two target
    macros. Raises ValueError for a string that is not a chroot name.
    """
    release, version, arch = split_chroot(chroot)
    target_cpu, canonical = _TARGETS.get(arch, (arch, arch))
    macros = _distribution_macros(release, version)
    macros["_target_cpu"] = target_cpu
    macros["_arch"] = canonical
    return macros


def _distribution_macros(release: str, version: str) -> dict[str, str]:
    if release == "fedora" and version == "rawhide":
        version = str(RAWHIDE_VERSION)
    if not version.isdigit():
        return {}
    if release == "fedora":
        return {"dist": f".fc{version}", "fedora": version, f"fc{version}": "1"}
    if release == "epel":
        return {"dist": f".el{version}", "rhel": version, "epel": version, f"el{version}": "1"}
    if release == "centos-stream":
        return {"dist": f".el{version}", "rhel": version, "centos": version, f"el{version}": "1"}
    if release == "rhel":
        return {"dist": f".el{version}", "rhel": version, f"el{version}": "1"}
    return {}
