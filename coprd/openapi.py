"""The OpenAPI document (``/api_3/openapi.json``, rendered at ``/api_3/docs``) as the server
answers, not as FastAPI guesses.

FastAPI documents a 422 with its own body on every operation that takes input; coprd never
sends it (a refused request gets 400 in the dialect's envelope). What the server does send
is declared here, once for every route, from what the route depends on:

- 400 and 404 for an operation that takes any input (what it names may not exist);
- 401 (with ``WWW-Authenticate``) where credentials are looked at, 403 where they are
  required; 409 for changes (a name taken, a state that forbids it, a concurrent change);
  413 for a body larger than the route takes;
- each in the envelope of the dialect the path belongs to (``envelopes``).

Parameters that name things get the patterns ``core/names.py`` checks them with, and the
pagination bounds are ``core/pagination.py``'s.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from coprd.api_legacy import forms
from coprd.auth import _calls, get_optional_user, get_user, require_credentials
from coprd.core import names, pagination, projects, sources
from coprd.db.models import BuildState
from coprd.http import BOOL_SCHEMA, TRUE_SCHEMA, words_schema

__all__ = ["Envelope", "describe"]

Envelope = tuple[str, dict[str, Any], str]
"""A dialect's path prefix, its error envelope's schema and its 401 challenge."""

# Parameter name -> the kind of name (core/names.json_schema) it holds.
_NAMED = {
    "ownername": "owner",
    "owner": "owner",
    "username": "owner",
    "group": "user",
    "who": "user",
    "projectname": "project",
    "project": "project",
    "dirname": "project",
    "packagename": "package",
    "package": "package",
    "package_name": "package",
    "chrootname": "chroot",
    "chroot": "chroot",
}
# Parameters every route reads the same way, by name.
_SHARED: dict[str, dict[str, Any]] = {
    "query": projects.SEARCH_SCHEMA,
    # In any case; empty: the default, as make_page reads it.
    "order_type": words_schema([*pagination.ORDER_TYPES, ""]),
    "status": {"type": "string", "enum": [state.value for state in BuildState]},
}
_SHARED["search_query"] = _SHARED["query"]
# The pagination that core/pagination.make_page checks, where a route passes it unchanged
# (``paged``): APIv2 clamps its limit instead.
_BOUNDS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 0, "maximum": pagination.MAX_LIMIT},
    "offset": {"type": "integer", "minimum": 0, "maximum": pagination.MAX_OFFSET},
}
# Body shapes' fields that hold names -> the kind of name (core/names.json_schema).
_TARGET = {"ownername": "owner", "projectname": "project"}
_BODY_NAMES: dict[str, dict[str, str]] = {
    "BuildTarget": _TARGET,
    "BuildUrlIn": _TARGET,
    **{f"Build{kind.capitalize()}In": _TARGET for kind in sources.SOURCE_TYPES},
    "PackageBuildIn": {**_TARGET, "package_name": "package"},
    "PackageTargetIn": {**_TARGET, "package_name": "package"},
    "RebuildAllIn": _TARGET,
    "ProjectAddIn": {"name": "project"},
    "ProjectEditIn": {},
    "ProjectForkIn": {"name": "project", "ownername": "owner"},
    "V2ProjectCreateIn": {"name": "project", "owner": "owner"},
    "V2ProjectChrootIn": {"name": "chroot"},
}
_WRITES = {"post", "put", "delete", "patch"}
# The bodies that hold a distgit source's fields (api_v3/builds.py, api_v3/packages.py).
_DISTGIT_BODIES = ("BuildDistgitIn", "PackageAddDistgitIn", "PackageEditDistgitIn")


def describe(
    app: FastAPI,
    envelopes: Sequence[Envelope],
    fallback: Envelope,
    *,
    models: Iterable[type[BaseModel]] = (),
    builder_auth: tuple[Callable[..., Any], ...] = (),
    paged: dict[Callable[..., Any], tuple[str, ...]] | None = None,
    flags: tuple[str, ...] = (),
    links: dict[tuple[str, str], dict[str, Any]] | None = None,
    orders: dict[str, list[str]] | None = None,
    chroots: Callable[[], list[str]] | None = None,
    distgits: Sequence[str] = (),
) -> Callable[[], dict[str, Any]]:
    """The function to set as ``app.openapi``: builds the document once, then serves it.
    ``models``: shapes that operations refer to by hand (``openapi_extra``), added to the
    components; ``builder_auth``: the agent API's dependencies that check a builder token;
    ``paged``: dependencies that pass ``limit``/``offset`` to ``make_page`` as sent, with
    which of the two;
    ``flags``: query parameters read with ``parse_bool``; ``links``: the OpenAPI links of
    operations' 200 answers, by ``(path, method)``; ``orders``: what each list path's
    ``order`` may name; ``chroots``: the names of the chroots projects may enable now (the
    document is made again when they change); ``distgits``: the dist-git instances sources
    may name."""
    document: dict[str, Any] = {}
    made_for: list[list[str]] = []

    def build() -> dict[str, Any]:
        active = chroots() if chroots is not None else []
        if document and made_for == [active]:
            return document
        made_for[:] = [active]
        document.clear()
        # A copy: operations' bodies are the routes' own openapi_extra, changed below.
        spec = copy.deepcopy(
            get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
        )
        # Each documented operation's route, with its full path (as get_openapi walks them).
        by_operation: dict[tuple[str, str], Any] = {}
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if isinstance(route, APIRoute) and route.include_in_schema and context.path_format:
                for method in context.methods or ():
                    by_operation[(context.path_format, method.lower())] = route
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            shape = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(shape.pop("$defs", {}))
            schemas.setdefault(model.__name__, shape)
        for path, operations in spec["paths"].items():
            _, envelope, challenge = next((e for e in envelopes if path.startswith(e[0])), fallback)
            for method, operation in operations.items():
                route = by_operation[(path, method)]
                checks = dict(_SHARED)
                checks.update(dict.fromkeys(flags, BOOL_SCHEMA))
                if path in (orders or {}):
                    checks["order"] = {"type": "string", "enum": [*(orders or {})[path], ""]}
                calls = set(_calls(route.dependant))
                for dependency, fields in (paged or {}).items():
                    if dependency in calls:
                        checks.update({field: _BOUNDS[field] for field in fields})
                _constrain(operation, checks)
                _refusals(operation, route, method, envelope, challenge, builder_auth)
        for name, named in _BODY_NAMES.items():
            properties = schemas.get(name, {}).get("properties", {})
            for field, kind in named.items():
                if field in properties:
                    _constrain_schema(properties[field], names.json_schema(kind))
        if active:
            _enumerate_chroots(spec, active)
        if distgits:
            _enumerate_distgits(schemas, list(distgits))
        for (path, method), declared in (links or {}).items():
            spec["paths"][path][method]["responses"]["200"]["links"] = declared
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        document.update(spec)
        return document

    return build


def _constrain(operation: dict[str, Any], checks: dict[str, dict[str, Any]]) -> None:
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        schema = parameter.get("schema", {})
        # "project" is a search text in the legacy API's query, a name in paths.
        named = name in _NAMED and (name != "project" or parameter["in"] == "path")
        if named and _is_string(schema):
            rule = names.json_schema(_NAMED[name])
        elif name in checks:
            rule = checks[name]
        else:
            continue
        _constrain_schema(schema, rule)


def _enumerate_chroots(spec: dict[str, Any], active: list[str]) -> None:
    """Chroot names in bodies and parameters name one of the ``active`` chroots."""
    one = {"type": "string", "enum": active}
    for name, named in _BODY_NAMES.items():
        properties = spec["components"]["schemas"].get(name, {}).get("properties", {})
        for field in ("chroots", "exclude_chroots"):
            prop = properties.get(field)
            for schema in prop.get("anyOf", [prop]) if prop else []:
                if schema.get("type") == "array":
                    schema["items"] = one
        for field, kind in named.items():
            if kind == "chroot" and field in properties:
                _constrain_schema(properties[field], one)
    for operations in spec["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if _NAMED.get(parameter["name"]) == "chroot":
                    _constrain_schema(parameter["schema"], one)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _enumerate_form_chroots(content.get("schema", {}), active)


def _enumerate_form_chroots(schema: dict[str, Any], active: list[str]) -> None:
    """A legacy form's chroot fields (``<chroot>=y``, ``forms.body_doc``) are the active
    chroots' (one or more of them checked, where the form must select one), and its lists
    of chroot names (``forms.CHROOT_WORDS``) name active ones."""
    selection = schema.pop(forms.CHROOT_FIELDS_MARK, None)
    if selection is not None:
        pattern = names.json_schema("chroot")["pattern"]
        checkbox = schema["patternProperties"].pop(pattern)
        if not schema["patternProperties"]:
            del schema["patternProperties"]
        schema["properties"].update(dict.fromkeys(active, checkbox))
        if selection == "one or more":
            schema["anyOf"] = [
                {"properties": {name: TRUE_SCHEMA}, "required": [name]} for name in active
            ]
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict) and prop.get(forms.CHROOT_WORDS_MARK):
            prop.clear()
            prop.update(forms.chroot_words(active))


def _enumerate_distgits(schemas: dict[str, Any], names: list[str]) -> None:
    """A distgit source's ``distgit`` names one of the server's dist-git instances."""
    for body in _DISTGIT_BODIES:
        prop = schemas.get(body, {}).get("properties", {}).get("distgit")
        if prop is not None:
            _constrain_schema(prop, {"type": "string", "enum": names})


def _constrain_schema(schema: dict[str, Any], rule: dict[str, Any]) -> None:
    if "anyOf" in schema:  # optional: the value, or absent
        schema["anyOf"] = [_pick(s, rule["type"], rule) for s in schema["anyOf"]]
    else:
        schema.update(rule)


def _pick(schema: dict[str, Any], kind: str, replacement: dict[str, Any]) -> dict[str, Any]:
    return replacement if schema.get("type") == kind else schema


def _is_string(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" or any(
        s.get("type") == "string" for s in schema.get("anyOf", [])
    )


def _refusals(
    operation: dict[str, Any],
    route: APIRoute,
    method: str,
    envelope: dict[str, Any],
    challenge: str,
    builder_auth: tuple[Callable[..., Any], ...],
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    calls = set(_calls(route.dependant))
    # A route that may answer 429 (coprd/auth.py) checks the credentials it is sent.
    looks = bool(calls & {get_optional_user, require_credentials, *builder_auth}) or (
        "429" in responses
    )
    requires = bool(calls & {get_user, require_credentials, *builder_auth})
    takes_input = bool(operation.get("parameters") or operation.get("requestBody"))

    def refuse(status: int, description: str, **extra: Any) -> None:
        responses.setdefault(
            str(status),
            {
                "description": description,
                "content": {"application/json": {"schema": envelope}},
                **extra,
            },
        )

    if takes_input:
        refuse(400, "The request is not valid (the message says which part); nothing changed.")
    if looks:
        refuse(
            401,
            "The credentials are missing, wrong or expired; nothing changed.",
            headers={
                "WWW-Authenticate": {
                    "description": f"How to authenticate: `{challenge}`",
                    "schema": {"type": "string"},
                }
            },
        )
    if requires:
        refuse(403, "The authenticated user may not do this; nothing changed.")
    if route.path_format.startswith("/webhooks/"):
        refuse(403, "The URL's secret (or the forge's signature) is not the project's.")
    if route.path_format.startswith("/coprs/") and "/repo/" in route.path_format:
        # A chroot the project does not enable is dnf's 404: a sentence for people and
        # Copr's Copr-Error-Data header (web/repofiles.py), as text.
        responses.setdefault(
            "404",
            {
                "description": "No such project, or no such chroot enabled in it.",
                "content": {
                    "application/json": {"schema": envelope},
                    "text/plain": {"schema": {"type": "string"}},
                },
            },
        )
    if takes_input:  # a path, a query or a body names what may not exist
        refuse(404, "What the request names does not exist.")
    if method in _WRITES:
        refuse(409, "The change conflicts with the current state (or a concurrent change).")
    if operation.get("requestBody"):
        refuse(413, "The request body is larger than this operation accepts.")
