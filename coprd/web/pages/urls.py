"""The web UI's URLs, Copr's scheme: ``/coprs/<user>/…`` and ``/coprs/g/<group>/…``."""

from __future__ import annotations

from urllib.parse import quote

from coprd.db.models import Build, Project

__all__ = [
    "build_url",
    "owner_url",
    "package_badge_url",
    "package_url",
    "project_url",
    "repo_file_url",
    "results_url",
]


def _owner_path(owner_name: str) -> str:
    if owner_name.startswith("@"):
        return f"/coprs/g/{quote(owner_name[1:], safe='')}"
    return f"/coprs/{quote(owner_name, safe='')}"


def owner_url(owner_name: str) -> str:
    """The page of a user (``alice``) or a group (``@devs``)."""
    return _owner_path(owner_name) + "/"


def project_url(project: Project, tab: str = "") -> str:
    """The project's page, or one of its tabs (``builds/``, ``packages/``)."""
    return f"{_owner_path(project.owner_name)}/{quote(project.name, safe='')}/{tab}"


def build_url(build: Build) -> str:
    return project_url(build.project, f"build/{build.id}/")


def package_url(project: Project, name: str) -> str:
    """The page of the project's package ``name``."""
    return project_url(project, f"package/{quote(name, safe='')}/")


def package_badge_url(project: Project, name: str) -> str:
    """The status badge of the package's latest build, at Copr's URL (an SVG, whatever
    the name says)."""
    return package_url(project, name) + "status_image/last_build.png"


def repo_file_url(project: Project, name_release: str) -> str:
    """The ``.repo`` file of ``name_release``, as ``dnf copr enable`` fetches it."""
    owner = project.owner_name
    slug = f"group_{owner[1:]}" if owner.startswith("@") else owner
    file = quote(f"{slug}-{project.name}-{name_release}.repo", safe="")
    return project_url(project, f"repo/{quote(name_release, safe='')}/{file}")


def results_url(base: str, rel: str, *, directory: bool = False) -> str:
    """A file (or directory) of the results tree, ``rel`` relative to its root."""
    path = "/".join(quote(part, safe="") for part in rel.split("/"))
    return f"{base}/{path}{'/' if directory else ''}"
