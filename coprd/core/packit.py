"""Which forge projects may build in a project through Packit, as Copr decides it.

Packit says on whose behalf it builds with the build option ``packit_forge_project``
(``github.com/packit/ogr``). A build that carries one is accepted only if a pattern of the
project's ``packit_forge_projects_allowed`` matches it (shell wildcards:
``github.com/packit/*``); as on Copr, an empty list lets no forge project build so. A build
without the option is not asked about at all.

The patterns are stored without a URL scheme (``https://github.com/a/b`` is kept as
``github.com/a/b``), as Copr's forms store them; the forge project a build names is taken
as sent.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from coprd.core.errors import Forbidden
from coprd.db.models import Project


def strip_scheme(pattern: str) -> str:
    """``https://github.com/a/b`` → ``github.com/a/b``; a name without a scheme, or one
    that is no URL at all (``http://[x``), is kept as it is."""
    try:
        parts = urlsplit(pattern)
    except ValueError:
        return pattern
    return parts.netloc + parts.path


def strip_schemes(patterns: list[str] | None) -> list[str] | None:
    return None if patterns is None else [strip_scheme(pattern) for pattern in patterns]


def require_forge_project(project: Project, forge_project: str | None) -> None:
    """Refuse (403, Copr's message) a build that ``forge_project`` may not make here."""
    if not forge_project:
        return
    for pattern in project.packit_forge_projects_allowed:
        if fnmatchcase(forge_project, strip_scheme(pattern)):
            return
    raise Forbidden(f"Forge project {forge_project} can't build in this Copr via Packit.")
