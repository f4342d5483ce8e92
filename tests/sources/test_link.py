"""SRPM and spec URLs: fetched by curl in the sandbox, which reaches the host's address but
not its loopback, so a user's URL cannot read what listens only on the builder's 127.0.0.1."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from coprd.builder.srpm import inspect_srpm
from coprd.sources import link
from tests.sources.conftest import RunSource, requires_tools
from tests.sources.servers import FileServer
from tests.sources.specs import data_spec, srpm_files

pytestmark = requires_tools


@pytest.fixture(scope="module")
def published(files_server: FileServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SRPM (of ``linked``) among the file server's files."""
    top = tmp_path_factory.mktemp("linked")
    (top / "SOURCES").mkdir()
    (top / "SOURCES" / "hello.txt").write_text("hello\n")
    spec = top / "linked.spec"
    spec.write_text(data_spec("linked", "3.1"))
    subprocess.run(
        ["rpmbuild", "-bs", "--define", f"_topdir {top}", "--define", "dist %{nil}", str(spec)],
        check=True,
        capture_output=True,
    )
    (srpm,) = (top / "SRPMS").glob("*.src.rpm")
    return Path(srpm.rename(files_server.root / srpm.name))


@pytest.fixture(scope="module")
def loopback(files_server: FileServer) -> Iterator[str]:
    """The same files, served on 127.0.0.1 only: what the sandbox must not reach."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(files_server.root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_an_srpm_url_is_fetched_in_the_sandbox(
    run_source: RunSource, files_server: FileServer, published: Path
) -> None:
    url = f"{files_server.url}/{published.name}"
    outcome = run_source("link", {"url": url}, source_url=url)
    srpm = outcome.ok()
    assert srpm.name == published.name
    assert srpm.read_bytes() == published.read_bytes()
    assert f"$ curl {url}" in outcome.log


def test_a_spec_url_is_built_into_an_srpm_with_its_sources(
    run_source: RunSource, files_server: FileServer
) -> None:
    (files_server.root / "upstream.txt").write_text("from the Source URL\n")
    spec = data_spec("spec-linked", "1.2", sources=(f"{files_server.url}/upstream.txt",))
    (files_server.root / "spec-linked.spec").write_text(spec)
    url = f"{files_server.url}/spec-linked.spec"
    srpm = run_source("link", {"url": url}, source_url=url).ok()
    assert inspect_srpm(srpm).name == "spec-linked"
    assert srpm_files(srpm) == ["spec-linked.spec", "upstream.txt"]


def test_the_builders_loopback_is_out_of_reach(
    run_source: RunSource, loopback: str, published: Path
) -> None:
    url = f"{loopback}/{published.name}"
    assert httpx.get(url).status_code == 200  # there, for the host itself
    outcome = run_source("link", {"url": url}, source_url=url)
    assert outcome.error == (
        f"could not download {url}: nothing answers there (builds cannot reach the "
        "builder's own loopback) (curl exit 7; see the log)"
    )
    assert "Failed to connect to 127.0.0.1" in outcome.log


def test_failures_name_the_problem(
    run_source: RunSource,
    files_server: FileServer,
    published: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = f"{files_server.url}/nope.src.rpm"
    outcome = run_source("link", {"url": missing}, source_url=missing)
    assert outcome.error == (
        f"could not download {missing}: the server answered with an error "
        "(curl exit 22; see the log)"
    )
    assert "404" in outcome.log
    for bad in ("file:///etc/passwd", "gopher://x/y.src.rpm", "http:///x.src.rpm"):
        refused = run_source("link", {"url": bad}, source_url=bad)
        assert refused.error is not None and refused.error.startswith(
            "the source URL: refusing to fetch"
        ), bad
    monkeypatch.setattr(link, "MAX_SRPM", 1000)
    url = f"{files_server.url}/{published.name}"
    large = run_source("link", {"url": url}, source_url=url)
    assert large.error == f"could not download {url}: it is larger than 1000 bytes"


def test_names_come_from_the_url_when_they_are_usable() -> None:
    assert link.file_name("https://x.org/a/hello-1.0-1.src.rpm") == "hello-1.0-1.src.rpm"
    assert link.file_name("https://x.org/a/hello.spec?raw=1") == "hello.spec"
    assert link.file_name("https://x.org/download?id=7") == "source.src.rpm"
    assert link.file_name("https://x.org/..%2F..%2Fetc.src.rpm") == "source.src.rpm"
