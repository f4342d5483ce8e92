"""APIv2 project chroots: enabling, changing and disabling one chroot of a project."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api_v2.conftest import EPEL9, RAWHIDE
from tests.conftest import Account, snapshot

COMPS = '<?xml version="1.0"?>\n<comps><group><id>core</id></group></comps>\n'


def chroot_body(name: str, pkgs: list[str] | None = None, **more: object) -> dict[str, object]:
    """``ProjectChrootSchema``'s dump, as enable() and update() send it."""
    return {"name": name, "buildroot_pkgs": pkgs or [], "comps": None, "comps_name": None, **more}


def test_list_and_get(client: TestClient, demo: int) -> None:
    listed = client.get(f"/api_2/projects/{demo}/chroots").json()
    assert listed == {
        "_links": {"self": {"href": f"/api_2/projects/{demo}/chroots"}},
        "chroots": [
            {
                "_links": {
                    "self": {"href": f"/api_2/projects/{demo}/chroots/{RAWHIDE}"},
                    "project": {"href": f"/api_2/projects/{demo}"},
                },
                "chroot": {
                    "name": RAWHIDE,
                    "buildroot_pkgs": [],
                    "comps": None,
                    "comps_name": None,
                    "comps_len": 0,
                },
            }
        ],
    }
    assert client.get(f"/api_2/projects/{demo}/chroots/{RAWHIDE}").json() == listed["chroots"][0]
    missing = client.get(f"/api_2/projects/{demo}/chroots/{EPEL9}")
    assert missing.status_code == 404 and EPEL9 in missing.json()["message"]


def test_enable_update_disable(client: TestClient, alice: Account, demo: int) -> None:
    base = f"/api_2/projects/{demo}/chroots"
    r = client.post(base, json=chroot_body(EPEL9, ["make"]), headers=alice.headers)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"http://coprd.test{base}/{EPEL9}"
    assert r.json()["chroot"]["buildroot_pkgs"] == ["make"]
    names = [c["chroot"]["name"] for c in client.get(base).json()["chroots"]]
    assert names == [EPEL9, RAWHIDE]
    # The same, through APIv3.
    v3 = client.get(
        "/api_3/project-chroot",
        params={"ownername": "alice", "projectname": "demo", "chrootname": EPEL9},
    )
    assert v3.json()["additional_packages"] == ["make"]

    again = client.post(base, json=chroot_body(EPEL9), headers=alice.headers)
    assert again.status_code == 409 and "already enabled" in again.json()["message"]

    body = chroot_body(EPEL9, ["gcc", "make"], comps=COMPS, comps_name="my-comps.xml")
    r = client.put(f"{base}/{EPEL9}", json=body, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["chroot"] == {
        "name": EPEL9,
        "buildroot_pkgs": ["gcc", "make"],
        "comps": COMPS,  # as Copr's APIv2 sent it back
        "comps_name": "my-comps.xml",
        "comps_len": len(COMPS),
    }
    # What the client sends back after a GET keeps the comps file; "" removes it.
    fetched = client.get(f"{base}/{EPEL9}").json()["chroot"]
    kept = client.put(f"{base}/{EPEL9}", json=fetched, headers=alice.headers).json()
    assert kept["chroot"]["comps_len"] == len(COMPS)
    removed = client.put(f"{base}/{EPEL9}", json={**fetched, "comps": ""}, headers=alice.headers)
    assert removed.json()["chroot"]["comps_name"] is None

    r = client.delete(f"{base}/{EPEL9}", headers=alice.headers)
    assert r.status_code == 204 and r.content == b""
    assert [c["chroot"]["name"] for c in client.get(base).json()["chroots"]] == [RAWHIDE]


def test_refusals_change_nothing(
    client: TestClient, alice: Account, bob: Account, demo: int, engine: Engine
) -> None:
    base = f"/api_2/projects/{demo}/chroots"
    before = snapshot(engine)
    cases = [
        (client.post(base, json=chroot_body(EPEL9), headers=bob.headers), 403),
        (client.post(base, json=chroot_body(EPEL9)), 401),
        (client.post(base, json=chroot_body("fedora-1-x86_64"), headers=alice.headers), 400),
        # The enable and the settings are one change: a bad setting undoes the enable.
        (client.post(base, json=chroot_body(EPEL9, ["a\x00b"]), headers=alice.headers), 400),
        (
            client.post(base, json=chroot_body(EPEL9, comps="not xml"), headers=alice.headers),
            400,
        ),
        # A project keeps one chroot at least: its state refuses (409).
        (client.delete(f"{base}/{RAWHIDE}", headers=alice.headers), 409),
        (client.delete(f"{base}/{RAWHIDE}", headers=bob.headers), 403),
        (client.put(f"{base}/{EPEL9}", json=chroot_body(EPEL9), headers=alice.headers), 404),
    ]
    for r, status in cases:
        assert r.status_code == status, r.text
        assert list(r.json()) == ["message"]
    assert snapshot(engine) == before
