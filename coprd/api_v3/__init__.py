"""APIv3, as python-copr 2.x and copr-cli 2.x speak it, mounted at ``/api_3``."""

from __future__ import annotations

from fastapi import APIRouter

from coprd.api_v3 import (
    build_chroots,
    builds,
    general,
    mock_chroots,
    monitor,
    packages,
    project_chroots,
    projects,
    rpmrepo,
    webhooks,
)
from coprd.api_v3.errors import ERROR_SCHEMA, render_error, status_of, validation_message
from coprd.auth import document_throttling

PREFIX = "/api_3"

router = APIRouter()
_MODULES = (
    general,
    projects,
    project_chroots,
    mock_chroots,
    builds,
    build_chroots,
    packages,
    monitor,
    webhooks,
    rpmrepo,
)
for _module in _MODULES:
    router.include_router(_module.router, prefix=PREFIX)
document_throttling(router, ERROR_SCHEMA)

__all__ = ["PREFIX", "render_error", "router", "status_of", "validation_message"]
