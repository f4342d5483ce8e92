"""The builder agents' HTTP protocol, mounted at ``/backend``."""

from __future__ import annotations

from coprd.agent_api.deps import ERROR_SCHEMA, get_builder, get_reading_builder
from coprd.agent_api.tasks import router
from coprd.auth import document_throttling

document_throttling(router, ERROR_SCHEMA, by=(get_builder, get_reading_builder))

PREFIX = "/backend"

__all__ = ["PREFIX", "router"]
