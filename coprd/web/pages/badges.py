"""Build-status badges for READMEs, at the URLs Copr serves them:

- ``/coprs/<owner>/<project>/package/<name>/status_image/last_build.png`` (and
  ``/coprs/g/<group>/…``): the package's latest build in the project's main directory;
- ``/coprs/build/<id>/status_image.png``: one build.

Copr sends fixed PNG pictures; coprd draws an SVG (``image/svg+xml``, whatever the URL's
ending: browsers and README renderers go by the type) reading "build" and the build's
state: green when it succeeded (or was skipped), red when it failed, yellow while it is
on its way, grey otherwise. As Copr does, a package that does not exist gets a badge
saying so (the project must exist: else the web UI's 404), a package without builds an
"unknown" one, and the caches are told to ask again for anything that may change soon:
the latest build of a package (``no-cache``), a build that has not ended (``no-cache``),
a package without builds (a minute). An ended build's badge may be kept a while.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter
from fastapi.responses import Response

from coprd.core import builds, packages
from coprd.core.builds import TERMINAL
from coprd.core.errors import InvalidInput, NotFound
from coprd.db.models import BuildState
from coprd.http import DB
from coprd.web.pages.projects import OwnerName, add_project_route, find_project

__all__ = ["Badge", "badge_of", "draw", "router"]

router = APIRouter(include_in_schema=False)

MEDIA_TYPE = "image/svg+xml"
LABEL = "build"
GREEN = "#4c1"
RED = "#e05d44"
YELLOW = "#dfb317"
GREY = "#9f9f9f"
LABEL_GREY = "#555"
NO_CACHE = "no-cache"
NO_BUILDS_CACHE = "public, max-age=60"
ENDED_CACHE = "public, max-age=600"
# The picture is ours and has nothing to load or run; opened as a page it may do neither.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class Badge:
    """What a badge says (after "build") and in which colour."""

    text: str
    colour: str


NO_PACKAGE = Badge("no such package", GREY)
NO_BUILD = Badge("unknown", GREY)
_COLOURS = {
    BuildState.succeeded: GREEN,
    BuildState.skipped: GREEN,
    BuildState.failed: RED,
    BuildState.canceled: GREY,
    BuildState.forked: GREY,
}


def badge_of(state: BuildState | None) -> Badge:
    """The badge of a build in ``state`` (None: there is no build)."""
    if state is None:
        return NO_BUILD
    return Badge(state.value, _COLOURS.get(state, YELLOW))


# Widths in pixels of characters in 11px Verdana (the badge's first font), by groups; the
# text is then stretched to exactly this width (textLength), so other fonts fit as well.
_NARROW = frozenset("fijlrtI.,:;!|'() ")
_WIDE = frozenset("mwMW@%")


def _text_width(text: str) -> int:
    width = 0.0
    for char in text:
        if char in _NARROW:
            width += 3.9
        elif char in _WIDE:
            width += 10.7
        elif char.isupper() or char.isdigit():
            width += 7.6
        else:
            width += 6.9
    return round(width)


def _xml_chars(text: str) -> str:
    """``text`` without the characters XML 1.0 has no place for."""
    return "".join(
        c
        for c in text
        if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"
    )


def _xml_text(text: str) -> str:
    return escape(_xml_chars(text))


def draw(badge: Badge, title: str) -> str:
    """The SVG of ``badge``; ``title`` is what screen readers and tooltips say."""
    pad = 6
    left_text, right_text = _text_width(LABEL), _text_width(badge.text)
    left = left_text + 2 * pad
    right = right_text + 2 * pad
    width = left + right
    label = _xml_text(LABEL)
    text = _xml_text(badge.text)
    said = quoteattr(_xml_chars(f"{LABEL}: {badge.text}"))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" '
        f'viewBox="0 0 {width} 20" role="img" aria-label={said}>'
        f"<title>{_xml_text(title)}</title>"
        '<linearGradient id="shine" x2="0" y2="100%">'
        '<stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="round"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        '<g clip-path="url(#round)">'
        f'<rect width="{left}" height="20" fill="{LABEL_GREY}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{badge.colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#shine)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="15" fill="#010101" fill-opacity=".3" '
        f'textLength="{left_text}">{label}</text>'
        f'<text x="{left / 2}" y="14" textLength="{left_text}">{label}</text>'
        f'<text x="{left + right / 2}" y="15" fill="#010101" fill-opacity=".3" '
        f'textLength="{right_text}">{text}</text>'
        f'<text x="{left + right / 2}" y="14" textLength="{right_text}">{text}</text>'
        "</g></svg>"
    )


def _send(badge: Badge, title: str, cache: str) -> Response:
    headers = {**HEADERS, "Cache-Control": cache}
    if cache == NO_CACHE:
        headers["Pragma"] = "no-cache"  # for HTTP/1.0 caches, as Copr sends it
    return Response(draw(badge, title), media_type=MEDIA_TYPE, headers=headers)


def package_badge(db: DB, owner: OwnerName, projectname: str, packagename: str) -> Response:
    project = find_project(db, owner, projectname)
    try:
        package = packages.get_package(db, project, packagename)
    except (InvalidInput, NotFound):
        return _send(NO_PACKAGE, f"{project.full_name}: no such package", NO_CACHE)
    latest = packages.latest_build(db, package)
    if latest is None:
        return _send(NO_BUILD, f"{package.name}: no builds yet", NO_BUILDS_CACHE)
    badge = badge_of(latest.state)
    return _send(badge, f"{package.name}: build {latest.id} {badge.text}", NO_CACHE)


# HEAD too: link checkers and some README proxies ask it before they fetch an image.
BADGE_METHODS = ("GET", "HEAD")


@router.api_route("/coprs/build/{build_id:int}/status_image.png", methods=list(BADGE_METHODS))
def build_badge(db: DB, build_id: int) -> Response:
    try:
        build = builds.get_build(db, build_id)
    except NotFound:
        return _send(NO_BUILD, f"no build {build_id}", NO_BUILDS_CACHE)
    badge = badge_of(build.state)
    cache = ENDED_CACHE if build.state in TERMINAL else NO_CACHE
    title = f"{build.pkg_name or build.project.full_name}: build {build.id} {badge.text}"
    return _send(badge, title, cache)


add_project_route(
    router,
    "/package/{packagename}/status_image/last_build.png",
    package_badge,
    methods=BADGE_METHODS,
)
