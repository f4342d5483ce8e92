"""A package's page (``/coprs/<owner>/<project>/package/<name>/``, and for groups'
projects ``/coprs/g/<group>/…``): its settings, its default source, its builds newest
first, the status badge to paste into a README, and a Rebuild button.

Rebuild builds the package from its default source, as ``copr-cli build-package`` and
APIv3's ``package/build`` do: the same core call, which decides who may. A refusal is
shown on the page, above the button; an anonymous visitor is asked to log in.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from coprd.core import packages
from coprd.core.builds import BuildOptions, chroot_tasks, effective_state
from coprd.core.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from coprd.core.pagination import make_page
from coprd.core.sources import SourceSettings
from coprd.db.models import Build, Package, Project, User
from coprd.http import DB, AppSettings
from coprd.web.pages import urls
from coprd.web.pages.forms import CheckedForm, field, refusal
from coprd.web.pages.projects import OwnerName, add_project_route, find_project, project_rights
from coprd.web.pages.render import PageNumber, Pager, render
from coprd.web.pages.sessions import Viewer, flash

__all__ = ["find_package", "router", "source_facts"]

router = APIRouter(include_in_schema=False)

BUILDS_PAGE = 50

SOURCE_KINDS = {
    packages.UNSET: "No default source",
    "link": "A URL of an SRPM or a .spec file",
    "upload": "An uploaded SRPM or .spec file",
    "scm": "A Git or Subversion repository",
    "pypi": "A project on PyPI",
    "rubygems": "A gem on RubyGems",
    "custom": "A custom script",
    "distgit": "A package in DistGit",
}

# Per source type: (field, label, how it is shown: text, url or code), in the page's order.
_SOURCE_FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "link": (("url", "URL", "url"),),
    "upload": (("pkg", "File", "text"), ("url", "URL", "url")),
    "scm": (
        ("type", "SCM type", "text"),
        ("clone_url", "Clone URL", "url"),
        ("committish", "Committish", "text"),
        ("subdirectory", "Subdirectory", "text"),
        ("spec", "Spec file", "text"),
        ("source_build_method", "SRPM built with", "text"),
    ),
    "pypi": (
        ("pypi_package_name", "PyPI project", "text"),
        ("pypi_package_version", "Version", "text"),
        ("spec_generator", "Spec generator", "text"),
        ("spec_template", "Spec template", "text"),
        ("python_versions", "Python versions", "text"),
    ),
    "rubygems": (("gem_name", "Gem", "text"),),
    "custom": (
        ("chroot", "Script runs in", "text"),
        ("builddeps", "Build dependencies", "text"),
        ("resultdir", "Result directory", "text"),
        ("repos", "Repositories", "text"),
        ("script", "Script", "code"),
    ),
    "distgit": (
        ("distgit", "DistGit instance", "text"),
        ("namespace", "Namespace", "text"),
        ("package_name", "Package name", "text"),
        ("committish", "Committish", "text"),
        ("clone_url", "Clone URL", "url"),
    ),
}


def source_facts(source_type: str, data: dict[str, Any]) -> list[dict[str, str]]:
    """The fields of a stored source as the page lists them (those that are set): each a
    ``label``, its ``value`` as text and how to show it (``kind``: text, url or code)."""
    facts = []
    for key, label, kind in _SOURCE_FIELDS.get(source_type, ()):
        value = data.get(key)
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        if value is None or value == "":
            continue
        facts.append({"label": label, "value": str(value), "kind": kind})
    return facts


def find_package(db: DB, project: Project, name: str) -> Package:
    """The project's package, with a 404 also for names that cannot be a package's."""
    try:
        return packages.get_package(db, project, name)
    except InvalidInput:
        raise NotFound(f"Package {name} does not exist in project {project.full_name}.") from None


def _build_row(build: Build, project: Project) -> dict[str, Any]:
    return {
        "build": build,
        "chroots": [
            {"name": task.chroot_name, "state": effective_state(task).value}
            for task in sorted(chroot_tasks(build), key=lambda t: t.chroot_name)
        ],
        "dirname": build.project_dirname if build.project_dirname != project.name else "",
    }


def _timeout(seconds: int | None) -> str:
    if not seconds:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{seconds} s" if seconds else "")
    return " ".join(part for part in parts if part)


def _page(
    request: Request,
    db: DB,
    public_url: str,
    viewer: User | None,
    project: Project,
    package: Package,
    page: int = 1,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    found = packages.list_package_builds(
        db,
        package,
        make_page(
            limit=BUILDS_PAGE + 1, offset=(page - 1) * BUILDS_PAGE, order="id", order_type="DESC"
        ),
    )
    rows = [_build_row(build, project) for build in found[:BUILDS_PAGE]]
    page_url = public_url.rstrip("/") + urls.package_url(project, package.name)
    badge_url = public_url.rstrip("/") + urls.package_badge_url(project, package.name)
    context = {
        "project": project,
        "package": package,
        "tab": "packages",
        "rights": project_rights(db, viewer, project),
        "source_kind": SOURCE_KINDS.get(package.source_type, package.source_type),
        "source_facts": source_facts(package.source_type, package.source_json),
        "has_source": packages.has_default_source(package),
        "timeout": _timeout(package.timeout),
        "rows": rows,
        "with_dirs": any(row["dirname"] for row in rows),
        "pager": Pager.of(request, page, len(found) > BUILDS_PAGE),
        "badge": urls.package_badge_url(project, package.name),
        "badge_markdown": f"[![Copr build status]({badge_url})]({page_url})",
        "badge_html": f'<a href="{page_url}"><img src="{badge_url}" alt="Copr build status"></a>',
        "error": error,
    }
    return render(request, "package.html", context, status=status)


def package_page(
    request: Request,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    packagename: str,
    page: PageNumber = 1,
) -> Response:
    project = find_project(db, owner, projectname)
    package = find_package(db, project, packagename)
    return _page(request, db, settings.public_url, viewer, project, package, page)


def rebuild(
    request: Request,
    form: CheckedForm,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    packagename: str,
) -> Response:
    """Build the package from its default source, for every chroot its settings allow."""
    project = find_project(db, owner, projectname)
    package = find_package(db, project, packagename)
    try:
        build = packages.build_package(
            db, viewer, package, BuildOptions(), results_url=settings.results_url
        )
    except (InvalidInput, Forbidden) as exc:
        message, status = refusal(db, exc)
        project = find_project(db, owner, projectname)
        package = find_package(db, project, packagename)
        return _page(
            request, db, settings.public_url, viewer, project, package, error=message, status=status
        )
    flash(request, f"Build {build.id} of {package.name} is submitted.")
    return RedirectResponse(urls.build_url(build), status_code=303)


def rebuild_all(
    request: Request,
    form: CheckedForm,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    """Rebuild every package (or those the ``packages`` field names, globs separated by
    spaces or commas), together and in the background: ``packages.rebuild_all``."""
    project = find_project(db, owner, projectname)
    patterns = [p for p in re.split(r"[\s,]+", field(form, "packages")) if p]
    try:
        done = packages.rebuild_all(
            db, viewer, project, patterns or None, results_url=settings.results_url
        )
    except (InvalidInput, Conflict, Forbidden, NotAuthenticated) as exc:
        message, _status = refusal(db, exc)
        flash(request, f"Nothing was rebuilt: {message}")
        return RedirectResponse(urls.project_url(project, "packages/"), status_code=303)
    said = f"{len(done.builds)} package build(s) submitted, in dependency order."
    if done.skipped:
        said += " Skipped: " + "; ".join(f"{name} ({why})" for name, why in done.skipped)
    flash(request, said)
    return RedirectResponse(urls.project_url(project, "builds/"), status_code=303)


def rebuild_dependents(
    request: Request,
    form: CheckedForm,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    packagename: str,
) -> Response:
    """Turn the package's ``rebuild_dependents`` on (``enabled=on``) or off."""
    project = find_project(db, owner, projectname)
    package = find_package(db, project, packagename)
    enabled = field(form, "enabled") == "on"
    try:
        packages.edit_package(
            db,
            viewer,
            package,
            None,
            {},
            packages.PackageFields(rebuild_dependents=enabled),
            SourceSettings.of(settings),
        )
    except (InvalidInput, Forbidden, NotAuthenticated) as exc:
        message, status = refusal(db, exc)
        project = find_project(db, owner, projectname)
        package = find_package(db, project, packagename)
        return _page(
            request, db, settings.public_url, viewer, project, package, error=message, status=status
        )
    flash(request, f"{package.name}'s dependents are {'' if enabled else 'not '}rebuilt after it.")
    return RedirectResponse(urls.package_url(project, package.name), status_code=303)


add_project_route(router, "/packages/rebuild-all", rebuild_all, methods=["POST"])
add_project_route(
    router, "/package/{packagename}/rebuild-dependents", rebuild_dependents, methods=["POST"]
)
add_project_route(router, "/package/{packagename}/", package_page)
add_project_route(router, "/package/{packagename}/rebuild", rebuild, methods=["POST"])
