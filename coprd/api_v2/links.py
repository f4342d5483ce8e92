"""Where APIv2 resources live: root-relative hrefs, as python-copr 1.63 joins them.

The client builds every URL as ``root_url + href``, so an href is always a path from the
server's root (``/api_2/...``), never a full URL and never relative to the current one.
Names in these paths were checked against ``core/names.py`` before they were stored.
"""

from __future__ import annotations

from fastapi import Request

PREFIX = "/api_2"


def root() -> str:
    return PREFIX


def projects() -> str:
    return f"{PREFIX}/projects"


def project(project_id: int) -> str:
    return f"{PREFIX}/projects/{project_id}"


def project_chroots(project_id: int) -> str:
    return f"{project(project_id)}/chroots"


def project_chroot(project_id: int, name: str) -> str:
    return f"{project_chroots(project_id)}/{name}"


def builds() -> str:
    return f"{PREFIX}/builds"


def build(build_id: int) -> str:
    return f"{PREFIX}/builds/{build_id}"


def build_tasks() -> str:
    return f"{PREFIX}/build_tasks"


def build_task(build_id: int, chroot_name: str) -> str:
    return f"{PREFIX}/build_tasks/{build_id}/{chroot_name}"


def mock_chroots() -> str:
    return f"{PREFIX}/mock_chroots"


def mock_chroot(name: str) -> str:
    return f"{PREFIX}/mock_chroots/{name}"


def requested(request: Request) -> str:
    """The path and query string of this request: a collection's own ``self``."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def absolute(public_url: str, href: str) -> str:
    """A ``Location``: the client GETs it as it is, so it must be a full URL."""
    return f"{public_url}{href}"
