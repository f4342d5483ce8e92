"""What an RPM file says about itself: identity and architecture rules, read from its header.

Packages come from users, so nothing here trusts them: the lead's magic is checked before
rpm sees the file (``rpm -qp`` on anything else reads it as a *manifest*, a list of further
paths to open), the digests are verified with ``rpm -K --nosignature`` (reading the header
alone does not notice a truncated payload), and every field that may become part of a path is
checked against a strict pattern. Signatures are not checked (``--nosignature``): a builder
has no keyring, and a Copr-style service re-signs what it publishes anyway. rpm runs outside
the sandbox: it parses headers and computes digests, it executes nothing from the package.

A source RPM is one without a ``SOURCERPM`` tag, the test rpm itself uses
(``headerIsSource``); every binary RPM names the source RPM it was built from.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

RPM_MAGIC = b"\xed\xab\xee\xdb"
_LEAD_SIZE = 96
_RPM_TIMEOUT_S = 300.0

_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,254}")
_VERSION = re.compile(r"[A-Za-z0-9._+~^]{1,255}")
_ARCH = re.compile(r"[A-Za-z0-9_]{1,64}")
_EPOCH = re.compile(r"[0-9]{1,10}")
_SPEC_FILE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+~-]{0,249}\.spec")

# Fields asked of rpm; "@" is replaced by a random separator per query, so no header value
# (which the package's author chose) can fake a field boundary.
_QUERY = (
    "@NAME@%{NAME}@EPOCH@%|EPOCH?{%{EPOCH}}:{}|@VERSION@%{VERSION}@RELEASE@%{RELEASE}"
    "@ARCH@%{ARCH}@KIND@%|SOURCERPM?{binary}:{source}|"
    "[@EXCLUSIVEARCH@%{EXCLUSIVEARCH}][@EXCLUDEARCH@%{EXCLUDEARCH}]@END@"
)


class InvalidPackage(Exception):
    """The file is not a usable RPM of the expected kind; ``str(err)`` says why.

    The message names the file by its base name only, so it can be shown to the user.
    """


@dataclass(frozen=True)
class Nevra:
    """A binary package's identity: name, epoch (None when unset), version, release, arch."""

    name: str
    epoch: int | None
    version: str
    release: str
    arch: str

    def __str__(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"


@dataclass(frozen=True)
class SrpmInfo:
    """A source package's identity and its ExclusiveArch / ExcludeArch lists, as stored."""

    name: str
    epoch: int | None
    version: str
    release: str
    exclusive_arch: list[str]
    exclude_arch: list[str]


def inspect_srpm(path: Path) -> SrpmInfo:
    """Read a source RPM's header; InvalidPackage if the file is not an intact source RPM.

    A binary RPM, a file that is no RPM at all, and a truncated or corrupted one are all
    refused. The arch lists are the header's, i.e. expanded on the machine that built the
    SRPM (a macro unknown there, such as ``%{java_arches}``, stays literal).
    """
    fields, exclusive, exclude = _query(path)
    if fields["KIND"] != "source":
        raise InvalidPackage(f"{path.name}: a binary RPM, not a source RPM")
    return SrpmInfo(
        name=fields["NAME"],
        epoch=_epoch(fields["EPOCH"]),
        version=fields["VERSION"],
        release=fields["RELEASE"],
        exclusive_arch=exclusive,
        exclude_arch=exclude,
    )


def inspect_rpm(path: Path) -> Nevra:
    """Read a binary RPM's header; InvalidPackage for a source RPM or a damaged file."""
    fields, _exclusive, _exclude = _query(path)
    if fields["KIND"] != "binary":
        raise InvalidPackage(f"{path.name}: a source RPM, not a binary RPM")
    if not _ARCH.fullmatch(fields["ARCH"]):
        raise InvalidPackage(f"{path.name}: the package's architecture is not valid")
    return Nevra(
        name=fields["NAME"],
        epoch=_epoch(fields["EPOCH"]),
        version=fields["VERSION"],
        release=fields["RELEASE"],
        arch=fields["ARCH"],
    )


def arch_allowed(info: SrpmInfo, arch: str) -> bool:
    """Whether ExcludeArch/ExclusiveArch let the package build for a chroot of ``arch``.

    rpmbuild's own rule (``checkForValidArchitectures``): the architecture checked is the
    rpm target of the build (Copr's ``i386`` is rpm's ``i686``, ``armhfp`` is ``armv7hl``),
    compared case-insensitively with each entry; excluded if ExcludeArch lists it; excluded
    if ExclusiveArch is non-empty and does not list it. For a ``BuildArch: noarch`` package
    rpm checks the build machine's cpu, which on a builder is the chroot's architecture, so
    noarch packages follow the same rule; a ``noarch`` entry in ExclusiveArch matches no
    real architecture (rpm 4.18 refuses ``ExclusiveArch: noarch`` on x86_64 with
    "Architecture is not included"). Fedora Copr skips chroots by the same comparison.
    """
    from coprd.core.scheduling import arch_allowed as rule

    return rule(arch, info.exclusive_arch, info.exclude_arch)


def _epoch(value: str) -> int | None:
    return int(value) if value else None


def _rpm(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    return subprocess.run(
        ["rpm", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        timeout=_RPM_TIMEOUT_S,
        check=False,
    )


def _query(path: Path) -> tuple[dict[str, str], list[str], list[str]]:
    name = path.name
    # A missing or unreadable file is the caller's problem, not the package's: OSError.
    if not stat.S_ISREG(path.stat().st_mode):
        raise InvalidPackage(f"{name}: not a regular file")
    with path.open("rb") as file:
        lead = file.read(_LEAD_SIZE)
    if not lead.startswith(RPM_MAGIC):
        raise InvalidPackage(f"{name}: not an RPM package")
    if len(lead) < _LEAD_SIZE:
        raise InvalidPackage(f"{name}: truncated RPM package")

    target = str(path.absolute())
    check = _rpm(["-K", "--nosignature", target])
    if check.returncode != 0:
        raise InvalidPackage(f"{name}: damaged or truncated RPM package (digests do not match)")

    separator = "\x1f" + secrets.token_hex(8)
    query = _rpm(["-qp", "--nosignature", "--qf", _QUERY.replace("@", separator), target])
    if query.returncode != 0:
        raise InvalidPackage(f"{name}: unreadable RPM header")
    tokens = query.stdout.split(separator)
    pairs = tokens[1:-2]
    if tokens[0] != "" or tokens[-2:] != ["END", ""] or len(pairs) % 2:
        raise InvalidPackage(f"{name}: unreadable RPM header")
    fields: dict[str, str] = {}
    exclusive: list[str] = []
    exclude: list[str] = []
    for key, value in zip(pairs[0::2], pairs[1::2], strict=True):
        if key == "EXCLUSIVEARCH":
            exclusive.append(value)
        elif key == "EXCLUDEARCH":
            exclude.append(value)
        else:
            fields[key] = value
    if fields.keys() != {"NAME", "EPOCH", "VERSION", "RELEASE", "ARCH", "KIND"}:
        raise InvalidPackage(f"{name}: unreadable RPM header")

    if not _NAME.fullmatch(fields["NAME"]):
        raise InvalidPackage(f"{name}: the package name is not valid")
    for key in ("VERSION", "RELEASE"):
        if not _VERSION.fullmatch(fields[key]):
            raise InvalidPackage(f"{name}: the package {key.lower()} is not valid")
    if fields["EPOCH"] and not _EPOCH.fullmatch(fields["EPOCH"]):
        raise InvalidPackage(f"{name}: the package epoch is not valid")
    return fields, exclusive, exclude


def spec_file_name(path: Path) -> str | None:
    """The name of the spec file a source RPM carries (the file its header flags as the
    spec), or None if it names none, or none that is a plain ``*.spec`` file name, or the
    file is no RPM at all."""
    with path.open("rb") as file:
        if file.read(len(RPM_MAGIC)) != RPM_MAGIC:  # rpm -qp reads anything else as a list
            return None
    separator = "\x1f" + secrets.token_hex(8)
    query = _rpm(
        [
            "-qp",
            "--nosignature",
            "--qf",
            f"[%{{FILENAMES}}{separator}%{{FILEFLAGS:fflags}}{separator}]",
            str(path.absolute()),
        ]
    )
    if query.returncode != 0:
        return None
    fields = query.stdout.split(separator)[:-1]
    if len(fields) % 2:
        return None
    names = [
        name
        for name, flags in zip(fields[0::2], fields[1::2], strict=True)
        if "s" in flags and _SPEC_FILE.fullmatch(name)
    ]
    return names[0] if len(names) == 1 else None


@dataclass(frozen=True)
class Requirement:
    """One requirement of a package header: ``name`` (a rich dependency in parentheses),
    rpm's sense ``flags`` (LESS 2, GREATER 4, EQUAL 8, …) and ``version`` (may be empty)."""

    name: str
    flags: int
    version: str

    def __str__(self) -> str:
        relation = "".join(sign for bit, sign in ((2, "<"), (4, ">"), (8, "=")) if self.flags & bit)
        if relation and self.version:
            return f"{self.name} {relation} {self.version}"
        return self.name


MAX_REQUIREMENTS = 10_000
"""More BuildRequires than this in one SRPM are refused (Fedora's largest have ~300)."""


def build_requires(path: Path) -> list[Requirement]:
    """The BuildRequires of a source RPM (an intact one, already checked): its header's
    requirements, less rpm's own ``rpmlib(…)`` features. InvalidPackage if the header
    cannot be read or holds more than :data:`MAX_REQUIREMENTS`."""
    separator = "\x1f" + secrets.token_hex(8)
    query = _rpm(
        [
            "-qp",
            "--nosignature",
            "--qf",
            f"[%{{REQUIRENAME}}{separator}%{{REQUIREFLAGS}}{separator}"
            f"%{{REQUIREVERSION}}{separator}]",
            str(path.absolute()),
        ]
    )
    if query.returncode != 0:
        raise InvalidPackage(f"{path.name}: unreadable RPM header")
    fields = query.stdout.split(separator)[:-1]
    if len(fields) % 3 or len(fields) > 3 * MAX_REQUIREMENTS:
        raise InvalidPackage(f"{path.name}: unreadable requirements in the RPM header")
    found: list[Requirement] = []
    for name, flags, version in zip(fields[0::3], fields[1::3], fields[2::3], strict=True):
        if not name.isprintable() or not version.isprintable() or not flags.isdigit():
            raise InvalidPackage(f"{path.name}: unreadable requirements in the RPM header")
        if name.startswith("rpmlib("):
            continue
        requirement = Requirement(name, int(flags), version)
        if requirement not in found:
            found.append(requirement)
    return found
