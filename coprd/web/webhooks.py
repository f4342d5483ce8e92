"""Forges' webhooks, at Copr's paths: ``/webhooks/<forge>/<project_id>/<secret>/[<package>/]``.

Each route checks what its forge sends to prove the request comes from it (besides the
secret in the URL), reads the push payload into a :class:`coprd.core.webhooks.Push`, and
leaves every decision to the core:

- ``github/``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``; pushes are
  ``X-GitHub-Event: push``.
- ``gitlab/``: ``X-Gitlab-Token: <secret>``; pushes are ``object_kind`` ``push`` and
  ``tag_push``.
- ``forgejo/``, ``gitea/``, ``codeberg/``: ``X-Forgejo-Signature`` or ``X-Gitea-Signature``,
  the hex HMAC; pushes are ``X-Forgejo-Event`` (``X-Gitea-Event``) ``push``.
- ``bitbucket/``: ``X-Hub-Signature: sha256=<hex HMAC>``; pushes are
  ``X-Event-Key: repo:push``.
- ``pagure/``: only the URL's secret (Pagure signs with a key of its own); pushes are
  ``X-Pagure-Topic: git.receive``.
- ``custom/<project_id>/<secret>/<package>/``: only the URL's secret; any request rebuilds
  the package.

Signing forges must sign: an unsigned or wrongly signed request is refused (403) and
builds nothing. Other events (GitHub's ping, …) are answered 200 and build nothing.
Paths work with and without their trailing slash; bodies above 5 MiB are refused (413).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from coprd.core import webhooks
from coprd.core.errors import InvalidInput, NotFound
from coprd.core.names import parse_digits
from coprd.core.sources import SourceSettings
from coprd.core.webhooks import Push
from coprd.db.models import Project
from coprd.http import DB, AppSettings

__all__ = ["MAX_HOOK_BODY", "router"]

MAX_HOOK_BODY = 5 * 1024 * 1024

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class HookOut(BaseModel):
    builds: list[int]
    message: str


async def _read_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_read_body)]


# --- reading payloads ------------------------------------------------------------------


def _payload(body: bytes, request: Request) -> dict[str, Any]:
    """The JSON object a forge sent, also as GitHub's and Gitea's form encoding sends it."""
    text: str | bytes = body
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"))
        text = (form.get("payload") or [""])[0]
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body is not a JSON object")
    return data


def _at(data: Any, *keys: str | int) -> Any:
    """``data[k1][k2]…``, or None where a level is missing or of another kind."""
    for key in keys:
        if isinstance(key, int):
            data = data[key] if isinstance(data, list) and len(data) > key else None
        else:
            data = data.get(key) if isinstance(data, dict) else None
    return data


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _changed_files(commits: Any) -> frozenset[str] | None:
    """The files a push's commits added, removed or modified; None if the forge did not
    say (no list, or commits without file lists)."""
    if not isinstance(commits, list):
        return None
    files: set[str] = set()
    listed = not commits
    for commit in commits:
        for key in ("added", "removed", "modified"):
            paths = _at(commit, key)
            if isinstance(paths, list):
                listed = True
                files.update(p for p in paths if isinstance(p, str))
    return frozenset(files) if listed else None


def _github_like(data: dict[str, Any]) -> Push:
    """GitHub's push payload, which Forgejo, Gitea and Gogs send too."""
    repo = _at(data, "repository")
    urls = [_at(repo, key) for key in ("clone_url", "html_url", "ssh_url", "git_url")]
    after = None if _at(data, "deleted") is True else _text(_at(data, "after"))
    return Push.of_ref(urls, _at(data, "ref"), after, _changed_files(_at(data, "commits")))


def _gitlab(data: dict[str, Any]) -> Push:
    urls = [
        _at(data, "project", "git_http_url"),
        _at(data, "project", "git_ssh_url"),
        _at(data, "project", "web_url"),
        _at(data, "repository", "git_http_url"),
        _at(data, "repository", "homepage"),
    ]
    commit = _text(_at(data, "checkout_sha")) or _text(_at(data, "after"))
    return Push.of_ref(urls, _at(data, "ref"), commit, _changed_files(_at(data, "commits")))


def _bitbucket(data: dict[str, Any]) -> list[Push]:
    urls = [_at(data, "repository", "links", "html", "href")]
    pushes = []
    changes = _at(data, "push", "changes")
    for change in changes if isinstance(changes, list) else []:
        new = _at(change, "new")
        if new is None:
            continue  # a deleted branch or tag
        name = _text(_at(new, "name"))
        if name is None:
            raise InvalidInput("a change names no branch or tag", "push.changes")
        ref = f"refs/tags/{name}" if _at(new, "type") == "tag" else f"refs/heads/{name}"
        pushes.append(Push.of_ref(urls, ref, _text(_at(new, "target", "hash"))))
    return pushes


def _pagure(data: dict[str, Any]) -> Push:
    msg = _at(data, "msg")
    urls = [_at(msg, "repo", "full_url"), _at(msg, "repo", "url")]
    return Push.of_ref(urls, _at(msg, "branch"), _text(_at(msg, "end_commit")))


# --- routes ----------------------------------------------------------------------------


def _project(db: DB, project_id: str, secret: str) -> Project:
    """The project the URL names by id, if the URL's secret is its webhook secret."""
    number = parse_digits(project_id, max_digits=9)
    if number is None:
        raise NotFound(f"Project {project_id[:20]!r} does not exist.")
    return webhooks.hooked_project(db, number, secret)


def _rebuild(
    db: DB, settings: AppSettings, project: Project, pushes: Sequence[Push], request: Request
) -> HookOut:
    source_settings = SourceSettings.of(settings)
    package = request.path_params.get("package")
    built = [
        build.id
        for push in pushes
        for build in webhooks.rebuild_on_push(
            db,
            project,
            push,
            source_settings,
            results_url=settings.results_url,
            package_name=package,
        )
    ]
    return HookOut(builds=built, message=f"{len(built)} build(s) submitted")


def _ignored(event: str | None) -> HookOut:
    return HookOut(builds=[], message=f"ignored: {event or 'this event'} is not a push")


def github(
    request: Request, db: DB, settings: AppSettings, body: RawBody, project_id: str, secret: str
) -> HookOut:
    project = _project(db, project_id, secret)
    signature = request.headers.get("x-hub-signature-256", "")
    webhooks.check_signature(project, body, signature.removeprefix("sha256=") or None)
    event = request.headers.get("x-github-event")
    if event != "push":
        return _ignored(event)
    return _rebuild(db, settings, project, [_github_like(_payload(body, request))], request)


def forgejo(
    request: Request, db: DB, settings: AppSettings, body: RawBody, project_id: str, secret: str
) -> HookOut:
    project = _project(db, project_id, secret)
    headers = request.headers
    signature = headers.get("x-forgejo-signature") or headers.get("x-gitea-signature")
    webhooks.check_signature(project, body, signature)
    event = (
        headers.get("x-forgejo-event")
        or headers.get("x-gitea-event")
        or headers.get("x-gogs-event")
    )
    if event != "push":
        return _ignored(event)
    return _rebuild(db, settings, project, [_github_like(_payload(body, request))], request)


def gitlab(
    request: Request, db: DB, settings: AppSettings, body: RawBody, project_id: str, secret: str
) -> HookOut:
    project = _project(db, project_id, secret)
    webhooks.check_token(project, request.headers.get("x-gitlab-token"))
    data = _payload(body, request)
    if data.get("object_kind") not in ("push", "tag_push"):
        return _ignored(request.headers.get("x-gitlab-event"))
    return _rebuild(db, settings, project, [_gitlab(data)], request)


def bitbucket(
    request: Request, db: DB, settings: AppSettings, body: RawBody, project_id: str, secret: str
) -> HookOut:
    project = _project(db, project_id, secret)
    signature = request.headers.get("x-hub-signature", "")
    webhooks.check_signature(project, body, signature.removeprefix("sha256=") or None)
    event = request.headers.get("x-event-key")
    if event != "repo:push":
        return _ignored(event)
    return _rebuild(db, settings, project, _bitbucket(_payload(body, request)), request)


def pagure(
    request: Request, db: DB, settings: AppSettings, body: RawBody, project_id: str, secret: str
) -> HookOut:
    project = _project(db, project_id, secret)
    topic = request.headers.get("x-pagure-topic")
    if topic not in ("git.receive", "pagure.git.receive"):
        return _ignored(topic)
    return _rebuild(db, settings, project, [_pagure(_payload(body, request))], request)


def custom(
    db: DB, settings: AppSettings, body: RawBody, project_id: str, secret: str, package: str
) -> PlainTextResponse:
    """Rebuild the package; answers its build id, as Copr does, for CI jobs to wait on."""
    project = _project(db, project_id, secret)
    build = webhooks.rebuild_package(db, project, package, results_url=settings.results_url)
    return PlainTextResponse(f"{build.id}\n")


Handler = Callable[..., Any]


# Handlers that read the optional package from the path, not from an argument.
_PACKAGE_DOC = {
    "parameters": [
        {
            "name": "package",
            "in": "path",
            "required": True,
            "description": "rebuild only this package of the project",
            "schema": {"type": "string"},
        }
    ]
}


def _register(forges: Sequence[str], handler: Handler, *, package: bool | None) -> None:
    """POST routes for ``handler`` at each forge's paths, with and without the trailing
    slash; ``package``: None optional, True required in the path."""
    tails = [""] if package is False else ["/{package}"] if package else ["", "/{package}"]
    for forge in forges:
        for tail in tails:
            path = f"/{forge}/{{project_id}}/{{secret}}{tail}"
            for variant in (path + "/", path):
                router.add_api_route(
                    variant,
                    handler,
                    methods=["POST"],
                    response_model=None,
                    include_in_schema=variant.endswith("/") and forge == forges[0],
                    max_body_size=MAX_HOOK_BODY,
                    openapi_extra=_PACKAGE_DOC if tail and package is None else None,
                )


_register(["github"], github, package=None)
_register(["gitlab"], gitlab, package=None)
_register(["bitbucket"], bitbucket, package=None)
_register(["pagure"], pagure, package=None)
_register(["forgejo", "gitea", "codeberg"], forgejo, package=None)
_register(["custom"], custom, package=True)
