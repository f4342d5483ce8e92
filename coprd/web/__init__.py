"""What the frontend serves to browsers and download tools: the web UI's pages
(``web.pages``), the results tree, ``.repo`` files and forge webhooks."""

from coprd.web.results import results_router

__all__ = ["results_router"]
