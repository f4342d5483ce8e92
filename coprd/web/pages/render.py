"""Drawing pages: the Jinja2 environment (autoescape on, undefined names an error), the
values every page has, and the headers every page is sent with."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from coprd.config import Settings
from coprd.core.unsupported import UNSUPPORTED
from coprd.db.models import BuildState, utcnow
from coprd.web.pages import urls
from coprd.web.pages.forms import csrf_field
from coprd.web.pages.markdown import is_safe_url, render_markdown
from coprd.web.pages.paths import NEGOTIATED, wants_html
from coprd.web.pages.sessions import pop_flashes, session_of

__all__ = [
    "STATIC_DIR",
    "PackageFilter",
    "PageNumber",
    "Pager",
    "StateFilter",
    "render",
    "render_error",
]

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"


def _static_version() -> str:
    """Changes with the static files, so browsers fetch them anew after an upgrade."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# Scripts and styles only from this site's files (no inline script can run, whatever a
# page shows); images also from https (Markdown descriptions may show them).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' https:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _when(moment: dt.datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _took(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """How long from ``start`` to ``end`` (to now while it runs), as people say it."""
    if start is None:
        return "—"
    seconds = max(0, int(((end or utcnow()) - start).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _first_line(text: str | None, limit: int = 160) -> str:
    """A Markdown text's first non-empty line, shortened, for lists (escaped as text)."""
    for line in (text or "").splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


MAX_PAGE = 100_000
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 is the first page")]
# The filters of the lists of builds (the Builds and Monitor tabs; ``_macros.filters``).
StateFilter = Annotated[str, Query(max_length=20)]
PackageFilter = Annotated[str, Query(max_length=100)]


@dataclass(frozen=True)
class Pager:
    """Links to the pages before and after page ``page`` of a list (None at either end),
    keeping the list's other query parameters (its filters)."""

    page: int
    prev: str | None
    next: str | None

    @classmethod
    def of(cls, request: Request, page: int, more: bool) -> Pager:
        def link(number: int) -> str:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
            if number > 1:
                params.append(("page", str(number)))
            return request.url.path + (f"?{urlencode(params)}" if params else "")

        return cls(page, link(page - 1) if page > 1 else None, link(page + 1) if more else None)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(when=_when, markdown=render_markdown, first_line=_first_line)
_env.globals.update(
    took=_took,
    is_safe_url=is_safe_url,
    owner_url=urls.owner_url,
    project_url=urls.project_url,
    build_url=urls.build_url,
    package_url=urls.package_url,
    static_version=_static_version(),
    unsupported_options=UNSUPPORTED,
    build_states=[state.value for state in BuildState],
)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template`` drawn with ``context``, and what every page has: who is
    logged in, the CSRF field for its forms, pending messages, the site's URL."""
    settings: Settings = request.app.state.settings
    session = session_of(request)
    viewer = session.get("name") if session.get("uid") is not None else None
    values = {
        "request": request,
        "viewer": viewer if isinstance(viewer, str) else None,
        "csrf_field": lambda: csrf_field(request),
        "flashes": pop_flashes(request),
        "site_url": settings.public_url,
        "path": request.url.path,
        **(context or {}),
    }
    body = _env.get_template(template).render(values)
    all_headers = dict(SECURITY_HEADERS)
    if values["viewer"]:
        all_headers["Cache-Control"] = "private, no-cache"
    all_headers.update(headers or {})
    return HTMLResponse(body, status_code=status, headers=all_headers)


_TITLES = {
    400: "Bad request",
    401: "Log in first",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    503: "Busy",
}


def render_error(request: Request, status: int, message: str) -> Response:
    """An error on a web path: a page for browsers; ``{"error": …}`` as before to other
    clients of the paths that answered JSON before the web UI."""
    if request.url.path in NEGOTIATED and not wants_html(request):
        return JSONResponse({"error": message}, status_code=status)
    if status == 401:
        message = "You need to log in to do this."
    context = {"status": status, "title": _TITLES.get(status, "Error"), "message": message}
    try:
        return render(request, "error.html", context, status=status)
    except Exception:  # an error page must not fail; the cause is logged where it arose
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status, headers=SECURITY_HEADERS)
