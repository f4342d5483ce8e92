"""Which paths are the web UI's, and what a client at one of them wants.

Every path that is not an API, the agent protocol, the results tree, a ``.repo`` file or a
webhook belongs to the web UI: it answers errors with HTML pages and has a session. Two of
its paths answered JSON before the web UI existed, ``/`` and ``/api``; they still do to a
client that does not ask for HTML.

Build-status badges are web paths without a session: README proxies and caches fetch
them, and a response they may keep must never carry a visitor's cookie.
"""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection

__all__ = ["NEGOTIATED", "has_session", "is_web_path", "wants_html"]

_NOT_WEB = ("/api_3", "/api_2", "/api/", "/backend", "/results", "/webhooks")
_REPO_FILES = re.compile(r"/coprs/(?:g/)?[^/]+/[^/]+/repo(?:/|$)")
_BADGES = re.compile(
    r"/coprs/(?:(?:g/)?[^/]+/[^/]+/package/[^/]+/status_image/[^/]+|build/[^/]+/status_image\.png)$"
)
NEGOTIATED = frozenset({"/", "/api"})


def is_web_path(path: str) -> bool:
    if path.startswith(_NOT_WEB):
        return False
    return _REPO_FILES.match(path) is None


def has_session(path: str) -> bool:
    """Whether requests to ``path`` carry the web UI's session (cookie)."""
    return is_web_path(path) and _BADGES.match(path) is None


def wants_html(connection: HTTPConnection) -> bool:
    """Whether the client asks for HTML (browsers do; API clients, curl and ``*/*`` not)."""
    return "text/html" in connection.headers.get("accept", "")
