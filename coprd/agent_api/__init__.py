"""The builder agents' HTTP protocol, mounted at ``/backend``."""

from __future__ import annotations

from coprd.agent_api.tasks import router

PREFIX = "/backend"

__all__ = ["PREFIX", "router"]
