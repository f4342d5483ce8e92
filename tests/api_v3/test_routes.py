"""The APIv3 route table, pinned: a route that appears or vanishes must be a decision."""

from __future__ import annotations

from fastapi.routing import APIRoute

from coprd import api_v3

EXPECTED = {
    ("GET", "/api_3"),
    ("GET", "/api_3/auth-check"),
    ("POST", "/api_3/api-token"),
    ("GET", "/api_3/project"),
    ("GET", "/api_3/project/list"),
    ("GET", "/api_3/project/search"),
    ("POST", "/api_3/project/add/{ownername}"),
    ("PUT", "/api_3/project/edit/{ownername}/{projectname}"),
    ("POST", "/api_3/project/edit/{ownername}/{projectname}"),
    ("POST", "/api_3/project/fork/{ownername}/{projectname}"),
    ("PUT", "/api_3/project/fork/{ownername}/{projectname}"),
    ("DELETE", "/api_3/project/delete/{ownername}/{projectname}"),
    ("POST", "/api_3/project/delete/{ownername}/{projectname}"),
    ("GET", "/api_3/project/permissions/get/{ownername}/{projectname}"),
    ("PUT", "/api_3/project/permissions/set/{ownername}/{projectname}"),
    ("PUT", "/api_3/project/permissions/request/{ownername}/{projectname}"),
    ("GET", "/api_3/project/permissions/can_build_in/{who}/{ownername}/{projectname}"),
    ("PUT", "/api_3/project/regenerate-repos/{ownername}/{projectname}"),
    ("POST", "/api_3/project/regenerate-repos/{ownername}/{projectname}"),
    ("GET", "/api_3/project-chroot"),
    ("GET", "/api_3/project-chroot/build-config"),
    ("PUT", "/api_3/project-chroot/edit/{ownername}/{projectname}/{chrootname}"),
    ("POST", "/api_3/project-chroot/edit/{ownername}/{projectname}/{chrootname}"),
    ("GET", "/api_3/mock-chroots/list"),
    ("GET", "/api_3/build/list"),
    ("GET", "/api_3/build/{build_id:int}"),
    ("GET", "/api_3/build/source-chroot/{build_id}"),
    ("GET", "/api_3/build/source-build-config/{build_id}"),
    ("GET", "/api_3/build/built-packages/{build_id}"),
    ("POST", "/api_3/build/check-before-build"),
    ("POST", "/api_3/build/create/url"),
    ("POST", "/api_3/build/create/scm"),
    ("POST", "/api_3/build/create/pypi"),
    ("POST", "/api_3/build/create/rubygems"),
    ("POST", "/api_3/build/create/custom"),
    ("POST", "/api_3/build/create/distgit"),
    ("POST", "/api_3/build/create/upload"),
    ("POST", "/api_3/build/create/rpm-upload"),
    ("PUT", "/api_3/build/cancel/{build_id}"),
    ("DELETE", "/api_3/build/delete/list"),
    ("POST", "/api_3/build/delete/list"),
    ("DELETE", "/api_3/build/delete/{build_id}"),
    ("POST", "/api_3/build/delete/{build_id}"),
    ("GET", "/api_3/build-chroot"),
    ("GET", "/api_3/build-chroot/list"),
    ("GET", "/api_3/rpmrepo/{ownername}/{dirname}/{name_release}"),
    ("GET", "/api_3/build-chroot/build-config"),
    ("GET", "/api_3/build-chroot/build-config/{build_id}/{chrootname}"),
    ("GET", "/api_3/build-chroot/built-packages"),
    ("POST", "/api_3/build/resubmit/{build_id}"),
    ("GET", "/api_3/package"),
    ("GET", "/api_3/package/list"),
    # One a source type, documented each with its body; any other type is refused.
    *(
        ("POST", f"/api_3/package/{verb}/{{ownername}}/{{projectname}}/{{package_name}}/{kind}")
        for verb in ("add", "edit")
        for kind in ("scm", "pypi", "rubygems", "custom", "distgit", "{source_type_text}")
    ),
    ("POST", "/api_3/package/edit/{ownername}/{projectname}/{package_name}"),
    ("PUT", "/api_3/package/reset"),
    ("POST", "/api_3/package/reset"),
    ("POST", "/api_3/package/build"),
    ("POST", "/api_3/package/rebuild-all"),
    ("DELETE", "/api_3/package/delete"),
    ("POST", "/api_3/package/delete"),
    ("POST", "/api_3/webhook/generate/{ownername}/{projectname}"),
    ("GET", "/api_3/monitor"),
}


def test_route_table() -> None:
    served = set()
    for included in api_v3.router.routes:
        # Included routers are kept whole; the prefix is added when requests are routed.
        for route in getattr(included, "original_router", included).routes:
            assert isinstance(route, APIRoute)
            served |= {(method, api_v3.PREFIX + route.path) for method in route.methods}
    assert served == EXPECTED


def test_public_names() -> None:
    assert sorted(api_v3.__all__) == [
        "PREFIX",
        "render_error",
        "router",
        "status_of",
        "validation_message",
    ]
