"""The APIv2 route table, pinned: a route that appears or vanishes must be a decision."""

from __future__ import annotations

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from coprd import api_v2

EXPECTED = {
    ("GET", "/api_2"),
    ("GET", "/api_2/projects"),
    ("POST", "/api_2/projects"),
    ("GET", "/api_2/projects/{project_id}"),
    ("PUT", "/api_2/projects/{project_id}"),
    ("DELETE", "/api_2/projects/{project_id}"),
    ("GET", "/api_2/projects/{project_id}/chroots"),
    ("POST", "/api_2/projects/{project_id}/chroots"),
    ("GET", "/api_2/projects/{project_id}/chroots/{name}"),
    ("PUT", "/api_2/projects/{project_id}/chroots/{name}"),
    ("DELETE", "/api_2/projects/{project_id}/chroots/{name}"),
    ("GET", "/api_2/builds"),
    ("POST", "/api_2/builds"),
    ("GET", "/api_2/builds/{build_id}"),
    ("PUT", "/api_2/builds/{build_id}"),
    ("DELETE", "/api_2/builds/{build_id}"),
    ("GET", "/api_2/build_tasks"),
    ("GET", "/api_2/build_tasks/{build_id}/{chroot_name}"),
    ("GET", "/api_2/mock_chroots"),
    ("GET", "/api_2/mock_chroots/{name}"),
}


def test_route_table() -> None:
    served = set()
    for included in api_v2.router.routes:
        # Included routers are kept whole; the prefix is added when requests are routed.
        for route in getattr(included, "original_router", included).routes:
            assert isinstance(route, APIRoute)
            served |= {(method, api_v2.PREFIX + route.path) for method in route.methods}
    assert served == EXPECTED


def test_public_names() -> None:
    assert sorted(api_v2.__all__) == ["PREFIX", "render_error", "router"]


def test_documented_under_names_of_their_own(client: TestClient) -> None:
    # Names shared with another dialect would be replaced by module paths in the docs.
    spec = client.get("/api_3/openapi.json").json()
    assert "/api_2/projects/{project_id}/chroots/{name}" in spec["paths"]
    shapes = set(spec["components"]["schemas"])
    assert {"V2ProjectOut", "V2ProjectChrootOut", "V2BuildOut", "V2BuildTaskOut"} <= shapes
    assert {"V2MockChrootOut", "V2ProjectCreateIn", "V2ProjectUpdateIn"} <= shapes
