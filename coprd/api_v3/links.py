"""What APIv3's OpenAPI document says beyond its routes' signatures: the links between
operations (what a client, or a stateful fuzzer, can do next with what an answer names —
the project it created, the package it added, the build it submitted), and what each
list can be ordered by."""

from __future__ import annotations

from typing import Any

from coprd.core.builds import BUILD_ORDERS, TASK_ORDERS
from coprd.core.packages import PACKAGE_ORDERS
from coprd.core.projects import PROJECT_ORDERS
from coprd.core.sources import SOURCE_TYPES

__all__ = ["LINKS", "ORDERS"]


def _op(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


_PROJECT = {
    "ownername": "$response.body#/ownername",
    "projectname": "$response.body#/name",
}
_BUILD = {"build_id": "$response.body#/id"}
# One operation a source type (api_v3/packages.py).
_ADD_PACKAGE = "/api_3/package/add/{{ownername}}/{{projectname}}/{{package_name}}/{type}"

# (path, method) of an operation -> the links of its 200 answer.
LINKS: dict[tuple[str, str], dict[str, Any]] = {
    ("/api_3/project/add/{ownername}", "post"): {
        "GetProject": {"operationRef": _op("/api_3/project", "get"), "parameters": _PROJECT},
        "EditProject": {
            "operationRef": _op("/api_3/project/edit/{ownername}/{projectname}", "put"),
            "parameters": _PROJECT,
        },
        "AddPackage": {
            "operationRef": _op(_ADD_PACKAGE.format(type="pypi"), "post"),
            "parameters": {**_PROJECT, "package_name": "hello"},
            "requestBody": {"pypi_package_name": "hello"},
        },
        "BuildFromUrl": {
            "operationRef": _op("/api_3/build/create/url", "post"),
            "requestBody": {
                "ownername": "$response.body#/ownername",
                "projectname": "$response.body#/name",
                "pkgs": ["https://example.com/hello-1.0-1.src.rpm"],
            },
        },
        "ListBuilds": {"operationRef": _op("/api_3/build/list", "get"), "parameters": _PROJECT},
    },
    **{
        (_ADD_PACKAGE.format(type=source_type), "post"): {
            "GetPackage": {
                "operationRef": _op("/api_3/package", "get"),
                "parameters": {
                    "ownername": "$response.body#/ownername",
                    "projectname": "$response.body#/projectname",
                    "packagename": "$response.body#/name",
                },
            },
        }
        for source_type in SOURCE_TYPES
    },
    ("/api_3/build/create/url", "post"): {
        "GetBuild": {
            "operationRef": _op("/api_3/build/{build_id}", "get"),
            "parameters": {"build_id": "$response.body#/items/0/id"},
        },
        "CancelBuild": {
            "operationRef": _op("/api_3/build/cancel/{build_id}", "put"),
            "parameters": {"build_id": "$response.body#/items/0/id"},
        },
    },
}


# Each list's ``order``: the attributes its core query orders by.
ORDERS = {
    "/api_3/project/list": list(PROJECT_ORDERS),
    "/api_3/project/search": list(PROJECT_ORDERS),
    "/api_3/build/list": list(BUILD_ORDERS),
    "/api_3/build-chroot/list": list(TASK_ORDERS),
    "/api_3/package/list": list(PACKAGE_ORDERS),
}
