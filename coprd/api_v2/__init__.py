"""APIv2 (``/api_2``), as python-copr 1.63's ``copr.client_v2`` speaks it.

A thin dialect: HAL-style entities with ``_links`` (root-relative hrefs), JSON and multipart
bodies in, 201 + absolute ``Location`` on create, every decision taken by ``coprd.core``.
The wire facts it follows are in ``../shared/reference/legacy-and-apiv2-client-surface.md``
section 2. Where it answers differently from upstream's APIv2, it is for 1.63's sake:

- a project PUT and a build PUT (cancel) answer 200 with the entity, where upstream sent
  204 and 201: 1.63's ``OperationResult.is_successful()`` expects 200;
- a project chroot POST answers 201 + Location and its DELETE 204, as upstream did;
- ``Location`` is built from the configured public URL (``Settings.public_url``);
- task states 1.63 does not know are shown as the nearest it does (``schemas.STATES``).
"""

from __future__ import annotations

from fastapi import APIRouter

from coprd.api_v2 import build_tasks, builds, general, mock_chroots, project_chroots, projects
from coprd.api_v2.errors import ERROR_SCHEMA, render_error
from coprd.api_v2.links import PREFIX
from coprd.auth import document_throttling

router = APIRouter()
_MODULES = (general, projects, project_chroots, builds, build_tasks, mock_chroots)
for _module in _MODULES:
    router.include_router(_module.router, prefix=PREFIX)
document_throttling(router, ERROR_SCHEMA)

__all__ = ["PREFIX", "render_error", "router"]
