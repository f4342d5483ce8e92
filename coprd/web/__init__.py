"""What the frontend serves to browsers and download tools: the results tree (for now)."""

from coprd.web.results import results_router

__all__ = ["results_router"]
