"""The web UI: server-rendered pages for browsers (Jinja2 templates in ``web/templates``,
a stylesheet and the live log's script in ``web/static``).

Pages call the same core services as the APIs, with the logged-in user as the actor; they
decide nothing themselves. :func:`install` adds the pages, the static files and the
session middleware to the app; :func:`render_error` draws the error pages of web paths
(:func:`is_web_path`), while the APIs keep their own envelopes.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from coprd.config import Settings
from coprd.web.pages import (
    accounts,
    badges,
    builds,
    home,
    monitor,
    new_build,
    new_project,
    owners,
    packages,
    project_fork,
    project_permissions,
    project_settings,
    projects,
)
from coprd.web.pages.paths import is_web_path
from coprd.web.pages.render import STATIC_DIR, render_error
from coprd.web.pages.sessions import WebSessionMiddleware

__all__ = ["install", "is_web_path", "render_error", "router"]

# Every page (badges aside) depends on sessions.Viewer, which ends a session whose user was
# disabled or changed password, so that its navigation shows who is logged in truthfully.
router = APIRouter(include_in_schema=False)
# /coprs/build/<id>/ and /coprs/g/… before /coprs/<user>/add/, and these before
# /coprs/<user>/<project>/.
_PAGES = (
    home,
    accounts,
    builds,
    badges,
    packages,
    owners,
    new_project,
    projects,
    monitor,
    new_build,
    project_settings,
    project_permissions,
    project_fork,
)
for _module in _PAGES:
    router.include_router(_module.router)


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the web UI from ``app``: pages, ``/static/``, and sessions for web paths.

    Call it before adding middleware that must see requests first (path normalisation).
    """
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(WebSessionMiddleware, settings=settings)
