"""The APIv2 root, mock chroots, and what every answer looks like to python-copr 1.63."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from coprd.api_v2.schemas import STATES, V2_STATES, client_url
from coprd.core.chroots import set_mock_chroot_active
from coprd.db.engine import write_session
from coprd.db.models import BuildState
from tests.api_v2.conftest import RAWHIDE


@pytest.mark.parametrize(
    "url", ["/api_2", "/api_2/", "http://testserver//api_2", "http://testserver//api_2/"]
)
def test_root_links_every_collection_without_a_redirect(client: TestClient, url: str) -> None:
    r = client.get(url, follow_redirects=False)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "_links": {
            "self": {"href": "/api_2"},
            "projects": {"href": "/api_2/projects"},
            "builds": {"href": "/api_2/builds"},
            "build_tasks": {"href": "/api_2/build_tasks"},
            "mock_chroots": {"href": "/api_2/mock_chroots"},
        }
    }


def test_mock_chroots_all_or_active_only(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    every = client.get("/api_2/mock_chroots", params={"active_only": "False"}).json()
    names = [c["chroot"]["name"] for c in every["chroots"]]
    assert RAWHIDE in names and names == sorted(names)
    assert every["_links"]["self"]["href"] == "/api_2/mock_chroots?active_only=False"
    for item in every["chroots"]:
        assert item["_links"]["self"]["href"] == f"/api_2/mock_chroots/{item['chroot']['name']}"

    with write_session(session_factory) as session:
        set_mock_chroot_active(session, "epel-9-aarch64", False)
    active = client.get("/api_2/mock_chroots", params={"active_only": "True"}).json()
    assert "epel-9-aarch64" not in [c["chroot"]["name"] for c in active["chroots"]]
    assert len(active["chroots"]) == len(every["chroots"]) - 1
    absent = client.get("/api_2/mock_chroots").json()
    assert len(absent["chroots"]) == len(every["chroots"])


def test_one_mock_chroot(client: TestClient) -> None:
    r = client.get(f"/api_2/mock_chroots/{RAWHIDE}")
    assert r.json() == {
        "_links": {"self": {"href": f"/api_2/mock_chroots/{RAWHIDE}"}},
        "chroot": {
            "name": RAWHIDE,
            "os_release": "fedora",
            "os_version": "rawhide",
            "arch": "x86_64",
            "is_active": True,
        },
    }


def test_errors_are_the_envelope_the_client_parses(client: TestClient) -> None:
    for r in (
        client.get("/api_2/mock_chroots/fedora-1-x86_64"),
        client.get("/api_2/nothing-here"),
        client.post("/api_2"),
        client.get("/api_2/mock_chroots", params={"active_only": "maybe"}),
    ):
        assert 400 <= r.status_code < 500
        assert r.headers["content-type"] == "application/json"  # exactly: no charset
        assert list(r.json()) == ["message"] and r.json()["message"]


def test_every_coprd_state_is_one_the_client_accepts() -> None:
    assert set(STATES) == set(BuildState)
    assert set(STATES.values()) <= set(V2_STATES)
    assert STATES[BuildState.waiting] == "pending"
    assert STATES[BuildState.forked] == "succeeded"


@pytest.mark.parametrize(
    ("homepage", "shown"),
    [
        ("https://example.org/x", "https://example.org/x"),
        ("http://localhost:8080/", "http://localhost:8080/"),
        ("http://127.0.0.1/", "http://127.0.0.1/"),
        ("ftp://ftp.example.org/pub", "ftp://ftp.example.org/pub"),
        # What marshmallow 2's Url field refuses: sent as null instead.
        ("", None),
        (None, None),
        ("example.com", None),
        ("https://x.y/z", None),
        ("mailto:someone@example.org", None),
        ("https://example.org/a b", None),
    ],
)
def test_homepages_the_client_would_refuse_are_sent_as_null(
    homepage: str | None, shown: str | None
) -> None:
    assert client_url(homepage) == shown
