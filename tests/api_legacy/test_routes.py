"""The legacy route table, pinned: a route that appears or vanishes must be a decision.

``GET /api`` moved to the web UI (``coprd.web.pages.accounts``), which answers it with the
token page for browsers and the legacy JSON for other clients (tests/web_ui)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from coprd import api_legacy

EXPECTED = {
    ("GET", "/api/coprs"),
    ("GET", "/api/coprs/search"),
    ("GET", "/api/coprs/search/{query:path}"),
    ("GET", "/api/coprs/{username}"),
    ("POST", "/api/coprs/{username}/new"),
    ("GET", "/api/coprs/{username}/{projectname}/detail"),
    ("POST", "/api/coprs/{username}/{projectname}/modify"),
    ("POST", "/api/coprs/{username}/{projectname}/delete"),
    ("GET", "/api/coprs/{username}/{projectname}/detail/{chrootname}"),
    ("POST", "/api/coprs/{username}/{projectname}/modify/{chrootname}"),
    ("POST", "/api/coprs/{username}/{projectname}/new_build"),
    ("POST", "/api/coprs/{username}/{projectname}/new_build_upload"),
    ("GET", "/api/coprs/build/{build_id}"),
    ("GET", "/api/coprs/build_detail/{build_id}"),
    ("GET", "/api/coprs/build_status/{build_id}"),
    ("POST", "/api/coprs/cancel_build/{build_id}"),
}


def test_route_table() -> None:
    served = set()
    for included in api_legacy.router.routes:
        # Included routers are kept whole; the prefix is added when requests are routed.
        prefix = included.include_context.prefix  # type: ignore[attr-defined]
        for route in included.original_router.routes:  # type: ignore[attr-defined]
            assert isinstance(route, APIRoute)
            served |= {(method, prefix + route.path) for method in route.methods}
    assert served == EXPECTED


def test_public_names() -> None:
    assert sorted(api_legacy.__all__) == ["PREFIX", "render_error", "router"]
    assert api_legacy.PREFIX == "/api/coprs"
