"""What every source type shares: downloads, names, spec text, the entry point."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from coprd.sources import anonymous_client, make_srpm
from coprd.sources.common import Job, NotFound, SourceFailed, check_url, spec_paragraph
from tests.sources.specs import parsed

BODY = b"the real content\n" * 1000


class _Flaky(BaseHTTPRequestHandler):
    """/flaky: 503 on the first request, then BODY; /cut: half a body, then the real one;
    /big: more than the limit; /missing: 404."""

    calls: dict[str, int] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        count = self.calls[self.path] = self.calls.get(self.path, 0) + 1
        if self.path == "/flaky" and count == 1:
            self.send_error(503)
            return
        if self.path == "/missing":
            self.send_error(404)
            return
        if self.path == "/cut" and count == 1:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(b"garbage" * 10)
            self.wfile.flush()
            self.connection.close()
            return
        body = BODY * 3 if self.path == "/big" else BODY
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def flaky() -> Iterator[str]:
    _Flaky.calls = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    client = anonymous_client()
    workdir = tmp_path / "task"
    workdir.mkdir()
    with Job.start({"timeout": 60}, workdir, lambda _: None, threading.Event(), client) as made:
        yield made
    client.close()


def test_downloads_are_retried_from_the_start(flaky: str, job: Job) -> None:
    digest = ("sha256", hashlib.sha256(BODY).hexdigest())
    for path in ("/flaky", "/cut"):
        dest = job.root / path.strip("/")
        job.download(f"{flaky}{path}", dest, "a test file", digest=digest)
        assert dest.read_bytes() == BODY
    assert _Flaky.calls == {"/flaky": 2, "/cut": 2}


def test_download_limits_and_errors(flaky: str, job: Job) -> None:
    dest = job.root / "x"
    with pytest.raises(SourceFailed, match="is larger than 20000 bytes"):
        job.download(f"{flaky}/big", dest, "a test file", limit=20000)
    assert not dest.exists()
    with pytest.raises(NotFound, match="answered 404"):
        job.download(f"{flaky}/missing", dest, "a test file")
    with pytest.raises(SourceFailed, match="does not match its sha256 hash"):
        job.download(f"{flaky}/flaky", dest, "a test file", digest=("sha256", "00" * 32))
    assert not dest.exists()


def test_the_job_follows_no_symlink_a_sandboxed_step_left(
    flaky: str, job: Job, tmp_path: Path
) -> None:
    # A step replaced the checkout by a link to a host directory: nothing is read from it,
    # nothing written into it, and the link itself is what a fresh directory replaces.
    host = tmp_path / "host"
    host.mkdir()
    (host / "sources").write_text("host data\n")
    (host / "one.src.rpm").write_text("host package\n")
    checkout = job.root / "checkout"
    checkout.symlink_to(host)
    with pytest.raises(SourceFailed, match=r"^checkout is a symlink$"):
        job.read_file(checkout / "sources", 100)
    with pytest.raises(SourceFailed, match=r"^checkout is a symlink$"):
        job.download(f"{flaky}/flaky", checkout / "data.tar", "a test file")
    with pytest.raises(SourceFailed, match=r"^checkout is a symlink$"):
        job.copy_out(checkout / "one.src.rpm")
    with pytest.raises(SourceFailed, match=r"^make srpm's output directory checkout is a symlink$"):
        job.one_srpm(checkout, "make srpm")
    with pytest.raises(SourceFailed, match=r"^the checkout 'checkout' is not a directory$"):
        job.directory(checkout, "the checkout")
    job.fresh_dir(checkout)
    assert checkout.is_dir() and not checkout.is_symlink()
    assert sorted(p.name for p in host.iterdir()) == ["one.src.rpm", "sources"]
    assert list(job.out.iterdir()) == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "http:///nohost", "http://a b/"]
)
def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(SourceFailed, match="refusing to fetch"):
        check_url(url, "a test")


def test_unknown_source_type(tmp_path: Path) -> None:
    with pytest.raises(SourceFailed, match="source type 'bzr' is not supported"):
        make_srpm({"source_type": "bzr"}, tmp_path, lambda _: None, threading.Event())


def test_description_text_cannot_become_spec_syntax(tmp_path: Path) -> None:
    text = "first\n%files\n  %if 1\n# Heading\n%(touch /tmp/x) and 100%\nlast"
    body = spec_paragraph(text)
    spec = (
        "Name: d\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n"
        f"%description\n{body}\n%files\n"
    )
    out = parsed(spec, tmp_path)
    assert "> %files\n> %if 1\nHeading\n> %(touch /tmp/x) and 100%\nlast" in out
