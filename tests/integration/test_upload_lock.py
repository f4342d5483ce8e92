"""An upload on its way in holds up nobody: while one user's SRPM is still arriving, another
request that writes (here: creating a project) goes through at once, in every dialect.

On SQLite a write transaction holds the database's one write lock; before uploads were read
ahead of the transaction, the other writer waited for the whole upload, or gave up after the
30 s busy timeout with a 503. An anonymous upload is refused before its body is read.
"""

from __future__ import annotations

import base64
import configparser
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"
BOUNDARY = "coprd-test-boundary"


def basic(config: Path) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(config)
    section = parser["copr-cli"]
    pair = f"{section['login']}:{section['token']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def part(name: str, content: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    header = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n"
    return header.encode() + content + b"\r\n"


@pytest.fixture(scope="module")
def alice(server: Server) -> dict[str, str]:
    config = server.add_user("alice")
    created = server.copr_cli(config, "create", "uploads", "--chroot", CHROOT)
    assert created.returncode == 0, created.stderr
    return basic(config)


def upload_request(server: Server, dialect: str) -> tuple[str, bytes, bytes]:
    """The URL, the parts before the file's content and the parts after it."""
    srpm_head = part("pkgs", b"", "late-1-1.src.rpm").removesuffix(b"\r\n")
    if dialect == "api_3":
        target = json.dumps({"ownername": "alice", "projectname": "uploads"}).encode()
        return (
            f"{server.url}/api_3/build/create/upload",
            srpm_head,
            b"\r\n" + part("json", target, "json") + f"--{BOUNDARY}--\r\n".encode(),
        )
    if dialect == "legacy":
        return (
            f"{server.url}/api/coprs/alice/uploads/new_build_upload/",
            srpm_head,
            b"\r\n" + f"--{BOUNDARY}--\r\n".encode(),
        )
    project = httpx.get(f"{server.url}/api_2/projects", params={"name": "uploads"}).json()
    project_id = project["projects"][0]["project"]["id"]
    metadata = part("metadata", json.dumps({"project_id": project_id}).encode())
    head = metadata + part("srpm", b"", "late-1-1.src.rpm").removesuffix(b"\r\n")
    return f"{server.url}/api_2/builds", head, b"\r\n" + f"--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("dialect", ["api_3", "legacy", "api_2"])
def test_a_writer_is_not_held_up_by_an_upload_on_its_way(
    server: Server, alice: dict[str, str], dialect: str
) -> None:
    url, head, tail = upload_request(server, dialect)
    meanwhile: list[httpx.Response] = []

    def body() -> Iterator[bytes]:
        yield head
        yield b"\xed\xab\xee\xdb" + b"\0" * 65536  # the file has begun to arrive ...
        # ... and while the rest is still on its way, someone else writes.
        name = f"meanwhile-{uuid.uuid4().hex[:8]}"
        meanwhile.append(
            httpx.post(
                f"{server.url}/api_3/project/add/alice",
                json={"name": name, "chroots": [CHROOT]},
                headers=alice,
                timeout=120,
            )
        )
        yield b"\0" * 65536
        yield tail

    headers = {**alice, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    answer = httpx.post(url, content=body(), headers=headers, timeout=120)
    # The upload itself is no SRPM (a lead and zeros): refused, after it was read.
    assert answer.status_code == 400, answer.text
    (other,) = meanwhile
    assert other.status_code == 200, other.text


@pytest.mark.parametrize("dialect", ["api_3", "legacy", "api_2"])
def test_an_anonymous_upload_is_refused_before_it_is_read(
    server: Server, alice: dict[str, str], dialect: str
) -> None:
    url, head, tail = upload_request(server, dialect)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    answer = httpx.post(url, content=head + b"\0" * 65536 + tail, headers=headers, timeout=120)
    assert answer.status_code == 401, answer.text
    envelope = {"api_3": "error", "legacy": "error", "api_2": "message"}[dialect]
    assert "API token" in answer.json()[envelope]
