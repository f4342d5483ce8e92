"""A package's page and badge after real builds: copr-cli builds SRPMs on a real server
with a local agent; the badge then says what became of the latest build, and the
package's page lists it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from coprd.web.pages import badges
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import make_srpm

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-package-pages"), builders=1)
    yield srv
    stop_server(srv)


def build(server: Server, config: Path, spec: str, tmp_path: Path) -> int:
    """``copr-cli build demo <srpm>``, waiting for the build to end."""
    srpm = make_srpm(spec, tmp_path / spec)
    built = server.copr_cli(config, "build", "demo", str(srpm))
    found = re.search(r"Created builds: (\d+)", built.stdout)
    assert found, built.stdout + built.stderr
    return int(found.group(1))


def badge(server: Server, path: str) -> tuple[str, str, httpx.Response]:
    """What the badge at ``path`` says, its colour, and the response."""
    r = httpx.get(server.url + path, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(r.content)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    [colour] = [
        rect.attrib["fill"]
        for rect in root.iter(f"{SVG}rect")
        if rect.attrib.get("x") and rect.attrib["fill"] != badges.LABEL_GREY
    ]
    return str(texts[2]), colour, r


def test_the_badge_and_the_page_after_real_builds(server: Server, tmp_path: Path) -> None:
    config = server.add_user_with_project("alice", "demo", CHROOT)
    url = "/coprs/alice/demo/package/hello/status_image/last_build.png"
    # Before any build the package does not exist: Copr's "bad URL" badge.
    assert badge(server, url)[0] == "no such package"

    built = build(server, config, "hello.spec", tmp_path)
    assert server.copr_cli(config, "status", str(built)).stdout.strip() == "succeeded"
    text, colour, r = badge(server, url)
    assert (text, colour) == ("succeeded", badges.GREEN)
    assert r.headers["cache-control"] == "no-cache"
    assert "set-cookie" not in r.headers

    page = httpx.get(server.url + "/coprs/alice/demo/package/hello/", timeout=30)
    assert page.status_code == 200
    row = page.text[page.text.index(f'href="/coprs/alice/demo/build/{built}/"') :]
    row = row[: row.index("</tr>")]
    assert "1.0-1" in row and CHROOT in row
    assert row.count('class="state state-succeeded"') == 2  # the build and its chroot
    assert (
        "/coprs/alice/demo/package/hello/"
        in httpx.get(server.url + "/coprs/alice/demo/packages/", timeout=30).text
    )

    # A package whose build fails turns red; the build's own badge says so too.
    failed = build(server, config, "failing.spec", tmp_path)
    assert server.copr_cli(config, "status", str(failed)).stdout.strip() == "failed"
    failing = "/coprs/alice/demo/package/failing/status_image/last_build.png"
    assert badge(server, failing)[:2] == ("failed", badges.RED)
    text, colour, r = badge(server, f"/coprs/build/{failed}/status_image.png")
    assert (text, colour) == ("failed", badges.RED)
    assert r.headers["cache-control"] == badges.ENDED_CACHE
    # The other package's badge is its own.
    assert badge(server, url)[0] == "succeeded"
