"""Forges' webhooks over HTTP: each forge's push builds exactly the package it touched, once;
an unsigned or wrongly signed one, or one with the wrong secret, builds nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from coprd.db.models import Build
from coprd.web.webhooks import MAX_HOOK_BODY, router
from tests.conftest import Account, snapshot

X86 = "fedora-rawhide-x86_64"
SHA = "5f1d0f7f4b2d0e7c6a3b1c9d8e7f6a5b4c3d2e1f"

Headers = dict[str, str]


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_payload(repo: str, ref: str, files: list[str]) -> dict[str, Any]:
    return {
        "ref": ref,
        "before": "0" * 40,
        "after": SHA,
        "deleted": False,
        "repository": {
            "clone_url": f"{repo}.git",
            "html_url": repo,
            "ssh_url": "git@" + repo.removeprefix("https://").replace("/", ":", 1) + ".git",
        },
        "commits": [{"id": SHA, "added": [], "removed": [], "modified": files}],
    }


def gitlab_payload(repo: str, ref: str, files: list[str]) -> dict[str, Any]:
    return {
        "object_kind": "tag_push" if ref.startswith("refs/tags/") else "push",
        "ref": ref,
        "after": SHA,
        "checkout_sha": SHA,
        "project": {"git_http_url": f"{repo}.git", "web_url": repo},
        "commits": [{"id": SHA, "added": files, "removed": [], "modified": []}],
    }


def bitbucket_payload(repo: str, ref: str, _files: list[str]) -> dict[str, Any]:
    kind, name = ("tag", ref[10:]) if ref.startswith("refs/tags/") else ("branch", ref[11:])
    return {
        "repository": {"links": {"html": {"href": repo}}},
        "push": {"changes": [{"new": {"type": kind, "name": name, "target": {"hash": SHA}}}]},
    }


def pagure_payload(repo: str, ref: str, _files: list[str]) -> dict[str, Any]:
    return {
        "topic": "git.receive",
        "msg": {"repo": {"full_url": repo}, "branch": ref[11:], "end_commit": SHA},
    }


@dataclass(frozen=True)
class Forge:
    name: str
    host: str
    payload: Callable[[str, str, list[str]], dict[str, Any]]
    sign: Callable[[str, bytes], Headers] | None  # None: the forge does not sign
    push_event: Headers
    other_event: Headers  # a non-push event, answered 200 without building

    def headers(self, secret: str, body: bytes, event: Headers | None = None) -> Headers:
        signed = self.sign(secret, body) if self.sign else {}
        return {**signed, **(self.push_event if event is None else event)}


FORGES = [
    Forge(
        "github",
        "github.com",
        github_payload,
        lambda s, b: {"X-Hub-Signature-256": "sha256=" + hex_hmac(s, b)},
        {"X-GitHub-Event": "push"},
        {"X-GitHub-Event": "ping"},
    ),
    Forge(
        "forgejo",
        "codeberg.org",
        github_payload,
        lambda s, b: {"X-Forgejo-Signature": hex_hmac(s, b), "X-Gitea-Signature": hex_hmac(s, b)},
        {"X-Forgejo-Event": "push", "X-Gitea-Event": "push"},
        {"X-Forgejo-Event": "issues", "X-Gitea-Event": "issues"},
    ),
    Forge(
        "gitea",
        "gitea.example.org",
        github_payload,
        lambda s, b: {"X-Gitea-Signature": hex_hmac(s, b)},
        {"X-Gitea-Event": "push"},
        {"X-Gitea-Event": "create"},
    ),
    Forge(
        "codeberg",
        "codeberg.org",
        github_payload,
        lambda s, b: {"X-Forgejo-Signature": hex_hmac(s, b)},
        {"X-Forgejo-Event": "push"},
        {"X-Forgejo-Event": "release"},
    ),
    Forge(
        "gitlab",
        "gitlab.com",
        gitlab_payload,
        lambda s, _b: {"X-Gitlab-Token": s},
        {"X-Gitlab-Event": "Push Hook"},
        {"X-Gitlab-Event": "Issue Hook"},
    ),
    Forge(
        "bitbucket",
        "bitbucket.org",
        bitbucket_payload,
        lambda s, b: {"X-Hub-Signature": "sha256=" + hex_hmac(s, b)},
        {"X-Event-Key": "repo:push"},
        {"X-Event-Key": "repo:fork"},
    ),
    Forge(
        "pagure",
        "pagure.io",
        pagure_payload,
        None,
        {"X-Pagure-Topic": "git.receive"},
        {"X-Pagure-Topic": "issue.new"},
    ),
]
SIGNING = [f for f in FORGES if f.sign is not None]


@dataclass
class Stage:
    client: TestClient
    alice: Account
    project_id: int
    secret: str

    def url(self, forge: str, secret: str | None = None, package: str | None = None) -> str:
        tail = f"{package}/" if package else ""
        return f"/webhooks/{forge}/{self.project_id}/{secret or self.secret}/{tail}"


def add_package(
    stage: Stage, name: str, clone_url: str, *, committish: str = "", rebuild: bool = True
) -> None:
    body = {
        "package_name": name,
        "clone_url": clone_url,
        "committish": committish,
        "subdirectory": "",
        "spec": "",
        "scm_type": "git",
        "source_build_method": "rpkg",
        "webhook_rebuild": rebuild,
    }
    r = stage.client.post(
        f"/api_3/package/add/alice/demo/{name}/scm", json=body, headers=stage.alice.headers
    )
    assert r.status_code == 200, r.text


@pytest.fixture
def stage(client: TestClient, alice: Account) -> Stage:
    r = client.post(
        "/api_3/project/add/alice", json={"name": "demo", "chroots": [X86]}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    secret = client.post("/api_3/webhook/generate/alice/demo", headers=alice.headers).json()
    return Stage(client, alice, r.json()["id"], secret["webhook_secret"])


def builds_of(db: Session) -> list[tuple[str | None, str, bool]]:
    db.expire_all()
    return [
        (b.pkg_name, b.source_json["committish"], b.is_background)
        for b in db.scalars(select(Build).order_by(Build.id))
    ]


def send(
    stage: Stage, forge: Forge, payload: dict[str, Any], *, url: str | None = None, **kw: Any
) -> Any:
    body = json.dumps(payload).encode()
    headers = forge.headers(stage.secret, body, kw.pop("event", None))
    headers.update(kw.pop("headers", {}))
    return stage.client.post(
        url or stage.url(forge.name),
        content=kw.pop("content", body),
        headers={"Content-Type": "application/json", **headers},
    )


@pytest.mark.parametrize("forge", FORGES, ids=[f.name for f in FORGES])
def test_a_push_builds_the_package_it_touched_once(stage: Stage, forge: Forge, db: Session) -> None:
    repo = f"https://{forge.host}/alice/hello"
    add_package(stage, "hello", f"{repo}.git", committish="main")
    add_package(stage, "other", f"https://{forge.host}/alice/other")
    add_package(stage, "quiet", repo, rebuild=False)
    r = send(stage, forge, forge.payload(repo, "refs/heads/main", ["hello.spec"]))
    assert r.status_code == 200, r.text
    assert len(r.json()["builds"]) == 1
    assert builds_of(db) == [("hello", SHA, True)]
    # Another branch than the package's builds nothing.
    r = send(stage, forge, forge.payload(repo, "refs/heads/devel", ["hello.spec"]))
    assert r.json()["builds"] == []
    assert len(builds_of(db)) == 1


@pytest.mark.parametrize("forge", FORGES, ids=[f.name for f in FORGES])
def test_other_events_build_nothing(
    stage: Stage, forge: Forge, db: Session, engine: Engine
) -> None:
    repo = f"https://{forge.host}/alice/hello"
    add_package(stage, "hello", repo)
    before = snapshot(engine)
    payload = {"zen": "Keep it logically awesome.", "hook_id": 1}
    if forge.name == "gitlab":
        payload["object_kind"] = "issue"
    r = send(stage, forge, payload, event=forge.other_event)
    assert r.status_code == 200, r.text
    assert r.json()["builds"] == [] and "ignored" in r.json()["message"]
    assert snapshot(engine) == before


# GitLab sends the secret as a token; it does not sign the body, so it cannot be tampered.
REFUSALS = [
    (forge, how)
    for forge in SIGNING
    for how in ("unsigned", "other-secret", "tampered", "ping-unsigned")
    if not (forge.name == "gitlab" and how == "tampered")
]


@pytest.mark.parametrize(
    ("forge", "how"), REFUSALS, ids=[f"{forge.name}-{how}" for forge, how in REFUSALS]
)
def test_unsigned_or_wrongly_signed_requests_are_refused(
    stage: Stage, forge: Forge, how: str, engine: Engine
) -> None:
    repo = f"https://{forge.host}/alice/hello"
    add_package(stage, "hello", repo)
    before = snapshot(engine)
    payload = forge.payload(repo, "refs/heads/main", ["hello.spec"])
    body = json.dumps(payload).encode()
    assert forge.sign is not None
    headers = dict(forge.push_event)
    if how == "other-secret":
        headers.update(forge.sign("not-the-secret", body))
    elif how == "tampered":
        headers.update(forge.sign(stage.secret, body))
        body = body.replace(b"main", b"mainx")
    elif how == "ping-unsigned":
        headers = dict(forge.other_event)
    r = stage.client.post(stage.url(forge.name), content=body, headers=headers)
    assert r.status_code == 403, r.text
    assert list(r.json()) == ["error"]
    assert snapshot(engine) == before


@pytest.mark.parametrize("forge", FORGES, ids=[f.name for f in FORGES])
def test_the_urls_secret_and_project(stage: Stage, forge: Forge, engine: Engine) -> None:
    repo = f"https://{forge.host}/alice/hello"
    add_package(stage, "hello", repo)
    before = snapshot(engine)
    payload = forge.payload(repo, "refs/heads/main", ["hello.spec"])
    wrong = send(stage, forge, payload, url=stage.url(forge.name, secret="0" * 36))
    assert wrong.status_code == 403
    gone = send(stage, forge, payload, url=f"/webhooks/{forge.name}/999999/{stage.secret}/")
    assert gone.status_code == 404
    # An id is ASCII digits: a superscript one (which isdigit() takes and int() refuses)
    # is no id, nor are the project's own id in Arabic-Indic or fullwidth digits.
    other_scripts = [
        "".join(chr(zero + int(d)) for d in str(stage.project_id)) for zero in (0x660, 0xFF10)
    ]
    for bad_id in ("abc", "-1", "+1", "99999999999999999999", "\u00b9", *other_scripts):
        r = send(stage, forge, payload, url=f"/webhooks/{forge.name}/{bad_id}/{stage.secret}/")
        assert r.status_code == 404, bad_id
        assert list(r.json()) == ["error"], r.text
    for bad_id in ("\u00b9", *other_scripts):
        r = stage.client.post(f"/webhooks/custom/{bad_id}/{stage.secret}/hello/")
        assert r.status_code == 404, bad_id
    assert snapshot(engine) == before


def test_paths_with_and_without_the_slash_and_a_package(
    stage: Stage, db: Session, engine: Engine
) -> None:
    github = FORGES[0]
    repo = "https://github.com/alice/hello"
    add_package(stage, "hello", repo)
    add_package(stage, "hello-docs", repo)
    payload = github.payload(repo, "refs/heads/main", ["README"])
    r = send(stage, github, payload, url=stage.url("github").rstrip("/"))
    assert len(r.json()["builds"]) == 2
    r = send(stage, github, payload, url=stage.url("github", package="hello-docs"))
    assert len(r.json()["builds"]) == 1
    r = send(stage, github, payload, url=stage.url("github", package="hello-docs").rstrip("/"))
    assert len(r.json()["builds"]) == 1
    # A tag builds the package it names, at the tag.
    r = send(stage, github, github.payload(repo, "refs/tags/hello-docs-1.0-1", []))
    assert len(r.json()["builds"]) == 1
    assert builds_of(db)[-1] == ("hello-docs", "hello-docs-1.0-1", True)


def test_bad_payloads(stage: Stage, engine: Engine) -> None:
    github = FORGES[0]
    add_package(stage, "hello", "https://github.com/alice/hello")
    before = snapshot(engine)
    for body in (b"not json", b"[1, 2]", b"[" * 100_000 + b"]" * 100_000, b'{"ref": 5}'):
        headers = github.headers(stage.secret, body)
        r = stage.client.post(stage.url("github"), content=body, headers=headers)
        assert r.status_code == 400, (body[:20], r.text)
        assert list(r.json()) == ["error"]
    evil = github.payload("https://github.com/alice/hello", "refs/heads/main", ["x"])
    evil["after"] = "--upload-pack=touch /tmp/x"
    assert send(stage, github, evil).status_code == 400
    huge = b'{"ref": "' + b"x" * MAX_HOOK_BODY + b'"}'
    r = stage.client.post(stage.url("github"), content=huge, headers=github.headers("", huge))
    assert r.status_code == 413
    assert snapshot(engine) == before


def test_form_encoded_payloads_as_github_can_send_them(stage: Stage, db: Session) -> None:
    github = FORGES[0]
    repo = "https://github.com/alice/hello"
    add_package(stage, "hello", repo)
    body = urlencode({"payload": json.dumps(github.payload(repo, "refs/heads/main", ["a"]))})
    data = body.encode()
    headers = {
        **github.headers(stage.secret, data),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    r = stage.client.post(stage.url("github"), content=data, headers=headers)
    assert r.status_code == 200, r.text
    assert len(r.json()["builds"]) == 1


def test_the_custom_hook_answers_the_build_id(stage: Stage, db: Session, engine: Engine) -> None:
    add_package(stage, "hello", "https://example.org/hello", rebuild=False)
    r = stage.client.post(stage.url("custom", package="hello"), content=b"anything")
    assert r.status_code == 200, r.text
    build_id = int(r.text)
    assert r.text == f"{build_id}\n"
    assert db.get(Build, build_id) is not None
    before = snapshot(engine)
    assert stage.client.post(stage.url("custom", package="nope")).status_code == 404
    assert stage.client.post(stage.url("custom", "wrong", package="hello")).status_code == 403
    assert stage.client.post(stage.url("custom")).status_code == 404  # the package is required
    assert snapshot(engine) == before
    assert db.scalar(select(func.count()).select_from(Build)) == 1


def test_route_table() -> None:
    """Copr's webhook paths, with and without the trailing slash, all POST only."""
    expected = set()
    for forge in ("github", "gitlab", "bitbucket", "pagure", "forgejo", "gitea", "codeberg"):
        for tail in ("", "/{package}"):
            path = f"/webhooks/{forge}/{{project_id}}/{{secret}}{tail}"
            expected |= {("POST", path), ("POST", path + "/")}
    custom = "/webhooks/custom/{project_id}/{secret}/{package}"
    expected |= {("POST", custom), ("POST", custom + "/")}
    served = set()
    for route in router.routes:
        assert isinstance(route, APIRoute)
        served |= {(method, route.path) for method in route.methods}
    assert served == expected
