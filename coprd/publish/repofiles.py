"""What dnf needs to enable a project: the ``.repo`` file (DNF4's copr plugin, the web's
repo links) and the ``rpmrepo`` document (DNF5's copr plugin builds the file itself).

Both start from a *name-release*, a chroot name without its architecture
(``fedora-rawhide``, ``epel-9``), which is what ``dnf copr enable`` knows about the machine
it runs on. The repository's ``baseurl`` lets dnf fill in the version and architecture
(``fedora-$releasever-$basearch``), as Copr's files do, so one file serves every
architecture the project builds for.

Packages are signed with their project's key (``publish/signing.py``), so a project's
sections say ``gpgcheck=1`` and ``gpgkey=<results>/<owner>/<project>/pubkey.gpg``, as
Copr's do (metadata is not signed: ``repo_gpgcheck=0``); a runtime dependency on another
project of this service names that project's key, an external one is not checked. With
signing off every section says ``gpgcheck=0``. DNF5's copr plugin makes the file itself
from ``rpmrepo`` and always writes ``gpgcheck=1`` and the ``pubkey.gpg`` of the project:
the document has no field for either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from coprd.db.models import Project
from coprd.publish.signing import PUBKEY

__all__ = [
    "NAME_RELEASE",
    "ChrootNotFound",
    "name_release",
    "repo_file",
    "repo_id",
    "resolve_chroot",
    "rpmrepo",
]

# Distributions whose version dnf knows as $releasever; for the others (epel-9) the
# version is written out, as on Copr.
_RELEASEVER_OS = ("fedora", "centos-stream", "opensuse-leap", "mageia")
MULTILIB = {"x86_64": "i386"}
MULTILIB_COST = 1100
# A name-release as a URL gives it; anything else is not a repository.
NAME_RELEASE = re.compile(r"[a-z0-9][a-z0-9._+]*(-[a-z0-9._+]+)*")
_NOT_ID = re.compile(r"[^A-Za-z0-9_.:-]+")


class ChrootNotFound(LookupError):
    """The project has no enabled chroot for the asked name-release (and architecture)."""

    def __init__(self, wanted: str, available: list[str]) -> None:
        super().__init__(f"no enabled chroot matches {wanted!r}")
        self.wanted = wanted
        self.available = available


def name_release(chroot: str) -> str:
    """``fedora-rawhide-x86_64`` → ``fedora-rawhide``."""
    return chroot.rsplit("-", 1)[0]


def _enabled_chroots(project: Project) -> list[str]:
    return sorted(pc.mock_chroot.name for pc in project.chroots if pc.mock_chroot.is_active)


def resolve_chroot(project: Project, release: str, arch: str | None = None) -> str:
    """The first enabled chroot of ``release`` (with ``arch`` if given); raises
    ``ChrootNotFound`` listing the project's enabled chroots."""
    enabled = _enabled_chroots(project)
    wanted = f"{release}-{arch}" if arch else release
    for chroot in enabled:
        if chroot == wanted or (not arch and name_release(chroot) == release):
            return chroot
    raise ChrootNotFound(wanted, enabled)


def repo_id(hostname: str, owner: str, project: str, prefix: str = "copr") -> str:
    """``copr:<host>:<owner>:<project>``, a group written ``group_<name>`` as on Copr; dnf's
    copr plugin names the saved file after it."""
    owner = f"group_{owner[1:]}" if owner.startswith("@") else owner
    return f"{prefix}:{hostname}:{owner}:{project}"


def _baseurl(results_url: str, owner: str, project: str, chroot: str, arch: str) -> str:
    release = name_release(chroot)
    distro = release.rpartition("-")[0]
    if distro in _RELEASEVER_OS:
        release = f"{distro}-$releasever"
    return f"{results_url}/{owner}/{project}/{release}-{arch}/"


@dataclass(frozen=True)
class _Section:
    id: str
    name: str
    baseurl: str
    gpgkey: str | None = None
    """The key packages must be signed with; None: ``gpgcheck=0``."""
    cost: int | None = None
    priority: int | None = None
    module_hotfixes: bool = False

    def render(self) -> str:
        lines = [
            f"[{self.id}]",
            f"name={self.name}",
            f"baseurl={self.baseurl}",
            "type=rpm-md",
            "skip_if_unavailable=True",
            f"gpgcheck={int(self.gpgkey is not None)}",
        ]
        if self.gpgkey is not None:
            lines.append(f"gpgkey={self.gpgkey}")
        lines.append("repo_gpgcheck=0")
        if self.cost is not None:
            lines.append(f"cost={self.cost}")
        lines += ["enabled=1", "enabled_metadata=1"]
        if self.module_hotfixes:
            lines.append("module_hotfixes=1")
        if self.priority is not None:
            lines.append(f"priority={self.priority}")
        return "\n".join(lines) + "\n"


def _gpgkey(results_url: str, owner: str, project: str, signed: bool) -> str | None:
    return f"{results_url}/{owner}/{project}/{PUBKEY}" if signed else None


def _dependency(dep: str, hostname: str, results_url: str, chroot: str, signed: bool) -> _Section:
    if dep.startswith("copr://"):
        owner, _, name = dep.removeprefix("copr://").partition("/")
        return _Section(
            id=repo_id(hostname, owner, name, prefix="coprdep"),
            name=f"Copr {hostname}/{owner}/{name} runtime dependency #1",
            baseurl=_baseurl(results_url, owner, name, chroot, "$basearch"),
            gpgkey=_gpgkey(results_url, owner, name.partition(":")[0], signed),
        )
    return _Section(
        id="coprdep:" + _NOT_ID.sub("_", dep.split("://", 1)[-1]).strip("_"),
        name=f"Copr runtime dependency: {dep}",
        baseurl=dep,
    )


def repo_file(
    project: Project,
    chroot: str,
    public_url: str,
    arch: str | None = None,
    *,
    signed: bool = True,
) -> str:
    """The INI text of ``project``'s repository for the name-release of ``chroot``;
    ``signed`` says whether this service signs packages (the ``signing`` setting)."""
    hostname = urlsplit(public_url).hostname or "localhost"
    results_url = f"{public_url}/results"
    owner = project.owner_name
    main = _Section(
        id=repo_id(hostname, owner, project.name),
        name=f"Copr repo for {project.name} owned by {owner}",
        baseurl=_baseurl(results_url, owner, project.name, chroot, "$basearch"),
        gpgkey=_gpgkey(results_url, owner, project.name, signed),
        priority=project.repo_priority,
        module_hotfixes=project.module_hotfixes,
    )
    sections = [main]
    pair = MULTILIB.get(arch or "")
    if project.multilib and pair and f"{name_release(chroot)}-{pair}" in _enabled_chroots(project):
        sections.append(
            _Section(
                id=f"{main.id}:ml",
                name=f"{main.name} ({pair})",
                baseurl=_baseurl(results_url, owner, project.name, chroot, pair),
                gpgkey=main.gpgkey,
                cost=MULTILIB_COST,
                priority=project.repo_priority,
                module_hotfixes=project.module_hotfixes,
            )
        )
    sections += [
        _dependency(dep, hostname, results_url, chroot, signed)
        for dep in project.runtime_dependencies
    ]
    return "\n".join(section.render() for section in sections)


def rpmrepo(project: Project, release: str, public_url: str) -> dict[str, Any]:
    """DNF5's view of the project (``/api_3/rpmrepo/…``): the architectures built for
    ``release``, their options, and the runtime dependencies."""
    opts: dict[str, Any] = {}
    if project.module_hotfixes:
        opts["module_hotfixes"] = True
    if project.repo_priority is not None:
        opts["priority"] = project.repo_priority
    enabled = _enabled_chroots(project)
    arches: dict[str, Any] = {}
    for chroot in enabled:
        if name_release(chroot) != release:
            continue
        arch = chroot.rsplit("-", 1)[1]
        entry: dict[str, Any] = {"opts": dict(opts)}
        pair = MULTILIB.get(arch)
        if project.multilib and pair and f"{release}-{pair}" in enabled:
            entry["multilib"] = {pair: {"opts": {"cost": MULTILIB_COST}}}
        arches[arch] = entry
    dependencies: list[dict[str, Any]] = []
    for dep in project.runtime_dependencies:
        if dep.startswith("copr://"):
            owner, _, name = dep.removeprefix("copr://").partition("/")
            dependencies.append(
                {
                    "type": "copr",
                    "opts": {"id": f"coprdep:{owner}:{name}", "name": f"{owner}/{name}"},
                    "data": {"owner": owner, "projectname": name},
                }
            )
        else:
            dependencies.append(
                {
                    "type": "external_baseurl",
                    "opts": {"id": "coprdep:" + _NOT_ID.sub("_", dep), "name": dep},
                    "data": {"pattern": dep},
                }
            )
    return {
        "results_url": f"{public_url}/results",
        "repos": {release: {"arch": arches}} if arches else {},
        "directories": {project.name: {}},
        "dependencies": dependencies,
    }
