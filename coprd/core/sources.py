"""What a build's source may say, type by type, and how it is stored.

A source is a type (``scm``, ``pypi``, …) and its parameters, checked here once whether
they come with a build (``build/create/scm``) or are kept with a package (``package/add``)
and rebuilt later. The stored form (``Source.data``) is what Copr's clients show as a
package's or a build's ``source_dict``. Turning a source into an SRPM happens on the
builder agent, in the sandbox (``coprd/sources/``).

Everything a user gives here ends up on a command line or in a path on the builder, so
each value is held to a strict pattern: no option-like values (``-…``), no ``..``, no
control characters, no local URLs (``file://``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coprd.config import Settings
from coprd.core.errors import InvalidInput

__all__ = [
    "SOURCE_TYPES",
    "DistGit",
    "SourceSettings",
    "check_source",
    "clone_url_of",
]

MAX_SCRIPT = 256 * 1024
_REMOTE_SCHEMES = ("https://", "http://", "git://")
_URL = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
_COMMITTISH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./@{}^~+-]{0,254}")
_PATH_PART = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,254}")
_PYPI_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,200}[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]{0,99}")
_GEM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")
_PACKAGE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,199}")
_CHROOT = re.compile(r"[a-z0-9][a-z0-9._+-]{0,99}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")

SCM_TYPES = ("git", "svn")
SCM_METHODS = ("rpkg", "tito", "tito_test", "make_srpm")
SPEC_GENERATORS = ("pyp2spec", "pyp2rpm")
SPEC_TEMPLATES = ("", "fedora", "epel7", "mageia", "pld")


@dataclass(frozen=True)
class DistGit:
    """One dist-git instance: where its packages are cloned from and their sources kept."""

    name: str
    clone_url: str
    """``{namespace}`` and ``{name}`` are filled in."""
    lookaside_url: str
    """``{namespace}``, ``{name}``, ``{filename}``, ``{hashtype}``, ``{hash}``."""
    default_namespace: str = "rpms"


@dataclass(frozen=True)
class SourceSettings:
    """What the server's configuration adds to sources (see ``coprd.config``)."""

    distgits: tuple[DistGit, ...]

    @classmethod
    def of(cls, settings: Settings) -> SourceSettings:
        """What the server's configuration says about sources."""
        return cls.with_distgit(settings.distgit_url)

    @classmethod
    def with_distgit(cls, base_url: str) -> SourceSettings:
        """One dist-git laid out as Fedora's (``https://src.fedoraproject.org``)."""
        base = base_url.rstrip("/")
        return cls(
            distgits=(
                DistGit(
                    name="fedora",
                    clone_url=base + "/{namespace}/{name}.git",
                    lookaside_url=base
                    + "/repo/pkgs/{namespace}/{name}/{filename}/{hashtype}/{hash}/{filename}",
                ),
            )
        )

    def distgit(self, name: str | None) -> DistGit:
        name = name or self.distgits[0].name
        for instance in self.distgits:
            if instance.name == name:
                return instance
        known = ", ".join(d.name for d in self.distgits)
        raise InvalidInput(f"unknown dist-git instance {name!r} (this server knows: {known})")


def _text(data: dict[str, Any], key: str, *, default: str = "") -> str:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput("must be a string", key)
    text = str(value).strip()
    if "\x00" in text:
        raise InvalidInput("must not contain NUL", key)
    return text


def _shown(value: str) -> str:
    return repr(value[:100].encode("unicode_escape").decode("ascii"))


def _matching(data: dict[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    value = _text(data, key)
    if value and not pattern.fullmatch(value):
        raise InvalidInput(f"{_shown(value)} is not {what}", key)
    return value


def _required(value: str, key: str) -> str:
    if not value:
        raise InvalidInput("is required", key)
    return value


def _choice(data: dict[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = _text(data, key, default=default) or default
    if value not in choices:
        raise InvalidInput(f"{_shown(value)} is not one of {', '.join(choices)}", key)
    return value


def _relative_path(data: dict[str, Any], key: str) -> str:
    """A path inside a checkout: relative, every component a plain name."""
    value = _text(data, key).strip("/")
    if value and not all(_PATH_PART.fullmatch(part) for part in value.split("/")):
        raise InvalidInput(f"{_shown(value)} is not a relative path of plain names", key)
    return value


def remote_url(value: str, key: str) -> str:
    """A URL the builder may fetch from: http, https or git, nothing local."""
    if not value.startswith(_REMOTE_SCHEMES) or not _URL.fullmatch(value) or len(value) > 2048:
        raise InvalidInput(
            f"{_shown(value)} is not an https, http or git:// URL (local paths and "
            "file:// URLs are not accepted)",
            key,
        )
    return value


def _words(data: dict[str, Any], key: str, pattern: re.Pattern[str], what: str) -> list[str]:
    value = data.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [word for v in value for word in v.split()]
    else:
        raise InvalidInput("must be a list of strings or a space-separated string", key)
    for item in items:
        if not pattern.fullmatch(item):
            raise InvalidInput(f"{_shown(item)} is not {what}", key)
    if len(items) > 200:
        raise InvalidInput("at most 200 items", key)
    return items


def _scm(data: dict[str, Any], _settings: SourceSettings) -> dict[str, Any]:
    clone_url = remote_url(_required(_text(data, "clone_url"), "clone_url"), "clone_url")
    spec = _relative_path(data, "spec")
    if spec and not spec.endswith(".spec"):
        raise InvalidInput(f"{_shown(spec)} does not end in .spec", "spec")
    return {
        "clone_url": clone_url,
        "committish": _matching(data, "committish", _COMMITTISH, "a branch, tag or commit"),
        "subdirectory": _relative_path(data, "subdirectory"),
        "spec": spec,
        # Clients send scm_type; Copr shows it back as type.
        "type": _choice(data, "scm_type", SCM_TYPES, _text(data, "type") or "git"),
        "source_build_method": _choice(data, "source_build_method", SCM_METHODS, "rpkg"),
    }


def _pypi(data: dict[str, Any], _settings: SourceSettings) -> dict[str, Any]:
    name = _matching(data, "pypi_package_name", _PYPI_NAME, "a PyPI project name")
    versions = data.get("python_versions")
    if versions is None or versions == []:
        versions = ["3"]
    if not isinstance(versions, list) or not all(
        isinstance(v, int | str) and not isinstance(v, bool) and str(v) in ("2", "3")
        for v in versions
    ):
        raise InvalidInput("must be a list of Python major versions, 3 or 2", "python_versions")
    return {
        "pypi_package_name": _required(name, "pypi_package_name"),
        "pypi_package_version": _matching(data, "pypi_package_version", _VERSION, "a version")
        or None,
        "spec_generator": _choice(data, "spec_generator", SPEC_GENERATORS, "pyp2spec"),
        "spec_template": _choice(data, "spec_template", SPEC_TEMPLATES, ""),
        "python_versions": sorted({str(v) for v in versions}, reverse=True),
    }


def _rubygems(data: dict[str, Any], _settings: SourceSettings) -> dict[str, Any]:
    name = _matching(data, "gem_name", _GEM_NAME, "a gem name")
    return {"gem_name": _required(name, "gem_name")}


def _custom(data: dict[str, Any], _settings: SourceSettings) -> dict[str, Any]:
    script = data.get("script")
    if not isinstance(script, str) or not script.strip():
        raise InvalidInput("is required: the script that makes the spec and sources", "script")
    if len(script) > MAX_SCRIPT or "\x00" in script:
        raise InvalidInput(f"must be at most {MAX_SCRIPT} characters, without NUL", "script")
    # build/create/custom sends chroot, builddeps, …; package add/edit sends script_chroot, ….
    merged = dict(data)
    for key in ("chroot", "builddeps", "resultdir", "repos"):
        if merged.get(key) is None and f"script_{key}" in merged:
            merged[key] = merged[f"script_{key}"]
    chroot = _matching(merged, "chroot", _CHROOT, "a chroot name")
    repos = _words(merged, "repos", _URL, "a repository URL")
    for repo in repos:
        if not repo.startswith(("https://", "http://", "copr://")):
            raise InvalidInput(f"{_shown(repo)} is not an http(s) or copr:// URL", "repos")
    return {
        "script": script,
        "chroot": chroot or "fedora-latest-x86_64",
        "builddeps": " ".join(_words(merged, "builddeps", _PACKAGE, "a package name")),
        "resultdir": _relative_path(merged, "resultdir"),
        "repos": " ".join(repos),
    }


def _distgit(data: dict[str, Any], settings: SourceSettings) -> dict[str, Any]:
    instance = settings.distgit(_text(data, "distgit") or None)
    name = _matching(data, "package_name", _PACKAGE, "a package name")
    namespace = _relative_path(data, "namespace") or instance.default_namespace
    if not all(_NAMESPACE.fullmatch(part) for part in namespace.split("/")):
        raise InvalidInput(f"{_shown(namespace)} is not a dist-git namespace", "namespace")
    _required(name, "package_name")
    return {
        "clone_url": instance.clone_url.format(namespace=namespace, name=name),
        "distgit": instance.name,
        "namespace": namespace,
        "package_name": name,
        "committish": _matching(data, "committish", _COMMITTISH, "a branch, tag or commit"),
    }


_CHECKS: dict[str, Callable[[dict[str, Any], SourceSettings], dict[str, Any]]] = {
    "scm": _scm,
    "pypi": _pypi,
    "rubygems": _rubygems,
    "custom": _custom,
    "distgit": _distgit,
}
SOURCE_TYPES = tuple(_CHECKS)


def check_source(
    source_type: str, data: dict[str, Any], settings: SourceSettings
) -> dict[str, Any]:
    """The stored form of a source of ``source_type`` given as ``data`` (a client's JSON);
    raises ``InvalidInput`` naming the field that is wrong."""
    check = _CHECKS.get(source_type)
    if check is None:
        known = ", ".join(SOURCE_TYPES)
        raise InvalidInput(f"unknown source type {_shown(source_type)} (known: {known})")
    if not isinstance(data, dict):
        raise InvalidInput("the source must be a JSON object")
    return check(data, settings)


def clone_url_of(source_type: str, data: dict[str, Any]) -> str | None:
    """The repository a stored source builds from, for matching webhook pushes."""
    if source_type in ("scm", "distgit"):
        url = data.get("clone_url")
        return str(url) if url else None
    return None
