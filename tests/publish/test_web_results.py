"""The results tree over HTTP (coprd.web.results): listings, files, redirects, refusals,
and copr-cli's ``wget -r`` against a real server."""

from __future__ import annotations

import gzip
import http.client
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from coprd.publish import ensure_repo, finish_build_dir, update_repo
from coprd.web import results_router
from tests.publish.conftest import Rpms

CHROOT = "alice/demo/fedora-rawhide-x86_64"
BUILD = f"{CHROOT}/00000007-hello"
LIVE_LOG = "building...\n" * 100


@pytest.fixture
def root(tmp_path: Path, rpms: Rpms) -> Path:
    """A results tree: one finished build with logs, one running build, repodata."""
    root = tmp_path / "results"
    build = root / BUILD
    build.mkdir(parents=True)
    for path in (rpms.srpm, rpms.hello, rpms.sub["hello-c++"]):
        shutil.copy(path, build)
    (build / "builder-live.log").write_text(LIVE_LOG)
    (build / "backend.log").write_text("backend\n")
    (build / "build.info").write_text("build_id: 7\n")
    (build / "success").write_text("")
    (build / ".createrepo.lock").write_text("")
    finish_build_dir(build)
    running = root / CHROOT / "00000008-pkg01"
    running.mkdir()
    (running / "builder-live.log").write_text("started\n")
    ensure_repo(root / CHROOT)
    update_repo(root / CHROOT)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("secret")
    (root / "alice" / "escape").symlink_to(tmp_path / "outside")
    (root / "alice" / "secret").symlink_to(tmp_path / "outside" / "secret")
    (root / "alice" / "demo-link").symlink_to(root / "alice" / "demo")
    return root


@pytest.fixture
def client(root: Path) -> TestClient:
    app = FastAPI()
    app.include_router(results_router(root))
    return TestClient(app, follow_redirects=False)


def hrefs(page: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', page)


def test_directory_listing_has_relative_links(client: TestClient) -> None:
    response = client.get(f"/results/{BUILD}/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert hrefs(response.text) == [
        "../",
        "backend.log.gz",
        "build.info",
        "builder-live.log.gz",
        "hello-1.0-1.noarch.rpm",
        "hello-1.0-1.src.rpm",
        "hello-c%2B%2B-1.0-1.noarch.rpm",
        "success",
    ]
    chroot = client.get(f"/results/{CHROOT}/").text
    assert hrefs(chroot) == ["../", "00000007-hello/", "00000008-pkg01/", "repodata/"]


def test_listing_of_the_root_and_symlinks(client: TestClient) -> None:
    top = client.get("/results/")
    assert top.status_code == 200
    assert hrefs(top.text) == ["alice/"]
    # Symlinks out of the root are neither listed nor followed; inside the root they are.
    assert hrefs(client.get("/results/alice/").text) == ["../", "demo/", "demo-link/"]
    assert client.get("/results/alice/escape/").status_code == 404
    assert client.get("/results/alice/escape/secret").status_code == 404
    assert client.get("/results/alice/secret").status_code == 404
    assert client.get("/results/alice/demo-link/").status_code == 200


def test_a_directory_without_its_slash_redirects(client: TestClient) -> None:
    response = client.get(f"/results/{BUILD}")
    assert response.status_code == 301
    assert response.headers["location"] == "00000007-hello/"
    assert client.get("/results").headers["location"] == "results/"
    followed = client.get(f"/results/{BUILD}", follow_redirects=True)
    assert followed.status_code == 200
    assert str(followed.url).endswith(f"/results/{BUILD}/")
    # A file with a trailing slash is no directory.
    assert client.get(f"/results/{BUILD}/build.info/").status_code == 404


def test_files_have_their_content_types(client: TestClient, rpms: Rpms) -> None:
    rpm = client.get(f"/results/{BUILD}/hello-1.0-1.noarch.rpm")
    assert rpm.status_code == 200
    assert rpm.headers["content-type"] == "application/x-rpm"
    assert rpm.content == rpms.hello.read_bytes()
    plus = client.get(f"/results/{BUILD}/hello-c%2B%2B-1.0-1.noarch.rpm")
    assert plus.content == rpms.sub["hello-c++"].read_bytes()

    live = client.get(f"/results/{CHROOT}/00000008-pkg01/builder-live.log")
    assert live.headers["content-type"] == "text/plain; charset=utf-8"
    assert live.text == "started\n"

    repomd = client.get(f"/results/{CHROOT}/repodata/repomd.xml")
    assert repomd.headers["content-type"] == "application/xml"
    assert repomd.headers["cache-control"] == "no-cache"
    primary = next(
        h for h in hrefs(client.get(f"/results/{CHROOT}/repodata/").text) if "primary" in h
    )
    gz = client.get(f"/results/{CHROOT}/repodata/{primary}")
    assert gz.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in gz.headers
    assert gzip.decompress(gz.content).startswith(b"<?xml")


def test_a_gzipped_log_reads_as_text_in_a_browser(client: TestClient) -> None:
    response = client.get(f"/results/{BUILD}/builder-live.log.gz")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == LIVE_LOG  # decoded by the client, as a browser does


def test_a_finished_log_redirects_to_its_gz(client: TestClient) -> None:
    response = client.get(f"/results/{BUILD}/builder-live.log")
    assert response.status_code == 302
    assert response.headers["location"] == "builder-live.log.gz"
    assert client.get(f"/results/{BUILD}/missing.log").status_code == 404


def test_head(client: TestClient, rpms: Rpms) -> None:
    rpm = client.head(f"/results/{BUILD}/hello-1.0-1.noarch.rpm")
    assert rpm.status_code == 200
    assert rpm.content == b""
    assert int(rpm.headers["content-length"]) == rpms.hello.stat().st_size
    live = client.head(f"/results/{CHROOT}/00000008-pkg01/builder-live.log")
    assert (live.status_code, live.content, live.headers["content-length"]) == (200, b"", "8")
    listing = client.head(f"/results/{BUILD}/")
    assert listing.status_code == 200 and listing.content == b""
    assert int(listing.headers["content-length"]) == len(client.get(f"/results/{BUILD}/").content)
    assert client.head(f"/results/{BUILD}").status_code == 301
    assert client.head("/results/nothing").status_code == 404


def test_range_requests_on_files(client: TestClient, rpms: Rpms) -> None:
    part = client.get(f"/results/{BUILD}/hello-1.0-1.noarch.rpm", headers={"range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == rpms.hello.read_bytes()[:10]


@pytest.mark.parametrize(
    "path",
    [
        "/results/missing",
        "/results/alice/missing/",
        "/results/%2e%2e/outside/secret",
        "/results/alice/%2e%2e/%2e%2e/outside/secret",
        "/results/alice%2f..%2f..%2foutside%2fsecret",
        "/results/%2e%2e%2f",
        "/results/alice/%00",
        "/results/alice%00/",
        "/results//etc/passwd",
        "/results//etc/",
        f"/results/{CHROOT}/.createrepo.lock",
        f"/results/{BUILD}/.createrepo.lock",
        f"/results/{CHROOT}/.createrepo.state",
        "/results/alice/demo/%0a",
    ],
)
def test_missing_and_unsafe_paths_are_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "secret" not in response.text


NOTHING_RUNS = "default-src 'none'; sandbox"


@pytest.mark.parametrize(
    "path",
    [
        "",  # the root listing
        f"{BUILD}/",  # a listing
        f"{BUILD}/build.info",  # a file
        f"{BUILD}/hello-1.0-1.noarch.rpm",
        f"{BUILD}/builder-live.log.gz",  # a finished log
        f"{CHROOT}/00000008-pkg01/builder-live.log",  # a live (growing) log
        f"{BUILD}/builder-live.log",  # the redirect to the .gz
        f"{BUILD}",  # the redirect to the slash
        "alice/nothing-here",  # a 404
    ],
)
def test_nothing_served_is_sniffed_or_runs(client: TestClient, path: str) -> None:
    """Results are users' and builds' bytes: a browser must neither take them for another
    type nor run anything in them, whatever it takes them for."""
    for method in ("GET", "HEAD"):
        response = client.request(method, f"/results/{path}")
        assert response.headers["x-content-type-options"] == "nosniff", (method, path)
        assert response.headers["content-security-policy"] == NOTHING_RUNS, (method, path)
    assert client.get("/results").headers["content-security-policy"] == NOTHING_RUNS


def test_hidden_files_are_not_listed(client: TestClient) -> None:
    page = client.get(f"/results/{CHROOT}/").text
    assert ".createrepo" not in page and ".repodata" not in page


def test_route_table(root: Path) -> None:
    router = results_router(root)
    routes = set()
    for route in router.routes:
        assert isinstance(route, APIRoute)
        routes |= {(method, route.path) for method in route.methods or ()}
    assert routes == {
        ("GET", "/results"),
        ("HEAD", "/results"),
        ("GET", "/results/{rel:path}"),
        ("HEAD", "/results/{rel:path}"),
    }


# --- a real server ------------------------------------------------------------------------


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """uvicorn in a thread on a free loopback port, serving only the results router."""
    app = FastAPI()
    app.include_router(results_router(root))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_copr_cli_download_build_wget(root: Path, rpms: Rpms, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with serve(root) as url:
        result_url = f"{url}/results/{BUILD}/"
        # Exactly what copr-cli 2.6 download-build runs (the reject pattern's quotes too).
        done = subprocess.run(
            [
                "wget",
                "-r",
                "-nH",
                "--no-parent",
                "--reject",
                '"index.html*"',
                "-e",
                "robots=off",
                "--no-verbose",
                "-P",
                str(dest / "fedora-rawhide-x86_64"),
                "--cut-dirs",
                "6",
                result_url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    got = dest / "fedora-rawhide-x86_64"
    assert sorted(p.name for p in got.iterdir()) == [
        "backend.log.gz",
        "build.info",
        "builder-live.log.gz",
        "hello-1.0-1.noarch.rpm",
        "hello-1.0-1.src.rpm",
        "hello-c++-1.0-1.noarch.rpm",
        "index.html",  # kept: the quoted reject pattern never matches
        "success",
    ]
    assert (got / "hello-1.0-1.noarch.rpm").read_bytes() == rpms.hello.read_bytes()
    assert (got / "hello-1.0-1.src.rpm").read_bytes() == rpms.srpm.read_bytes()
    assert (got / "hello-c++-1.0-1.noarch.rpm").read_bytes() == rpms.sub["hello-c++"].read_bytes()
    # Saved as sent: still gzip, as copr-cli users expect of a .log.gz.
    assert gzip.decompress((got / "builder-live.log.gz").read_bytes()).decode() == LIVE_LOG
    assert gzip.decompress((got / "backend.log.gz").read_bytes()) == b"backend\n"


def test_raw_dot_dot_over_the_wire(root: Path) -> None:
    with serve(root) as url:
        host, port = url.removeprefix("http://").split(":")
        for raw in ("/results/../outside/secret", "/results/alice/../../outside/secret"):
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", raw)  # http.client sends the path as it is
            response = conn.getresponse()
            assert response.status == 404, raw
            assert b"secret" not in response.read()
            conn.close()


def test_a_growing_log_is_readable_at_any_moment(root: Path) -> None:
    log = root / CHROOT / "00000008-pkg01" / "builder-live.log"
    line = b"x" * 99 + b"\n"
    stop = threading.Event()

    def write() -> None:
        with open(log, "ab", buffering=0) as out:
            while not stop.is_set():
                out.write(line * 20)
                time.sleep(0.0005)

    writer = threading.Thread(target=write)
    sizes = []
    with serve(root) as url, httpx.Client(base_url=url, timeout=10) as http:
        writer.start()
        try:
            for _ in range(40):
                response = http.get(f"/results/{CHROOT}/00000008-pkg01/builder-live.log")
                assert response.status_code == 200
                body = response.content
                assert len(body) == int(response.headers["content-length"])
                head, rest = body[:8], body[8:]
                assert head == b"started\n"
                assert rest == (line * (len(rest) // 100 + 1))[: len(rest)]
                sizes.append(len(body))
        finally:
            stop.set()
            writer.join()
        # The build ends meanwhile: the log becomes .log.gz and the plain name redirects.
        finish_build_dir(log.parent)
        after = http.get(f"/results/{CHROOT}/00000008-pkg01/builder-live.log")
        assert after.status_code == 302
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
