"""The legacy API (``/api/coprs/…``), as python-copr 1.63's ``copr.client.CoprClient`` speaks it.

A thin dialect: form-encoded, multipart and JSON bodies in, ``output: ok|notok`` envelopes
out, every decision taken by ``coprd.core``. The wire facts it follows are in
``../shared/reference/legacy-and-apiv2-client-surface.md`` section 1. ``GET /api``, where
clients send users for an API token, is the web UI's token page; it answers clients that
do not ask for HTML with ``general.api_info``.
"""

from __future__ import annotations

from fastapi import APIRouter

from coprd.api_legacy import builds, project_chroots, projects
from coprd.api_legacy.errors import ERROR_SCHEMA, render_error
from coprd.auth import document_throttling

PREFIX = "/api/coprs"

router = APIRouter()
# Fixed first segments (build/, search/, cancel_build/ …) before /{username}/…
for _module in (builds, projects, project_chroots):
    router.include_router(_module.router, prefix=PREFIX)
document_throttling(router, ERROR_SCHEMA)

__all__ = ["PREFIX", "render_error", "router"]
