"""Errors: pages on the web UI's paths, the APIs' own envelopes everywhere else."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.web_ui.conftest import BROWSER_ACCEPT, make_project


def test_web_paths_answer_errors_with_pages(web: TestClient, alice: Account) -> None:
    make_project(web, alice)
    for path in (
        "/nowhere",
        "/coprs/nobody/",
        "/coprs/alice/nope/",
        "/coprs/alice/nope/builds/",
        "/coprs/g/nobody/x/",
        "/coprs/alice/demo/build/12345/",
        "/coprs/build/12345/",
        "/static/nope.css",
    ):
        r = web.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert "<h1>Not found</h1>" in r.text
        assert 'href="/"' in r.text  # a way back
    # Names that cannot be names are simply not found.
    assert web.get("/coprs/alice/.hidden/").status_code == 404
    refused = web.post("/coprs/alice/demo/")
    assert refused.status_code == 405
    assert refused.headers["content-type"].startswith("text/html")


def test_api_paths_keep_their_envelopes(web: TestClient, alice: Account) -> None:
    """Even when a browser asks."""
    make_project(web, alice)
    v3 = web.get("/api_3/project", params={"ownername": "alice", "projectname": "nope"})
    assert v3.status_code == 404
    assert v3.json() == {"error": "Project alice/nope does not exist."}
    v2 = web.get("/api_2/projects/99999")
    assert v2.status_code == 404 and "message" in v2.json()
    legacy = web.get("/api/coprs/alice/nope/detail/")
    assert legacy.status_code == 404 and legacy.json()["output"] == "notok"
    legacy_unknown = web.get("/api/nowhere")
    assert legacy_unknown.status_code == 404 and "error" in legacy_unknown.json()
    agent = web.post("/backend/claim", json={})
    assert agent.status_code in (400, 401) and "error" in agent.json()
    assert "error" in web.get("/backend/nowhere").json()
    results = web.get("/results/alice/nope/")
    assert results.status_code == 404 and results.text == "Not found\n"
    repo = web.get("/coprs/alice/nope/repo/fedora-rawhide/dnf.repo")
    assert repo.status_code == 404
    assert repo.json() == {"error": "Project alice/nope does not exist."}
    group_repo = web.get("/coprs/g/nobody/nope/repo/fedora-rawhide/")
    assert group_repo.status_code == 404 and "error" in group_repo.json()
    hook = web.post("/webhooks/github/99999/secret/")
    assert hook.status_code >= 400 and "error" in hook.json()


def test_api_and_home_answer_json_errors_to_json_clients(client: TestClient) -> None:
    r = client.post("/api")
    assert r.status_code == 405 and "error" in r.json()
    r = client.post("/")
    assert r.status_code == 405 and "error" in r.json()
    page = client.post("/api", headers={"accept": BROWSER_ACCEPT})
    assert page.status_code == 405 and page.headers["content-type"].startswith("text/html")


def test_forbidden_is_a_page(web: TestClient) -> None:
    r = web.post("/logout", data={})
    assert r.status_code == 403
    assert "<h1>Not allowed</h1>" in r.text
