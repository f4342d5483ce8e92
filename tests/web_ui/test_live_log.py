"""The live log: read from an offset (or its tail) while it grows and after it is gzipped,
through the build page's endpoint."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coprd.config import Settings
from coprd.db.models import BuildState
from coprd.web.pages import logs
from coprd.web.pages.logs import CHUNK, TAIL, read_log
from tests.conftest import Account
from tests.web_ui.conftest import RAWHIDE, Tasks, make_build, make_project


def test_reading_from_an_offset(tmp_path: Path) -> None:
    log = tmp_path / "builder-live.log"
    missing = read_log(tmp_path, None, final=False)
    assert (missing.found, missing.text, missing.eof) == (False, "", True)

    log.write_bytes(b"line 1\nline 2\n")
    first = read_log(tmp_path, None, final=False)
    assert (first.start, first.end, first.text, first.eof) == (0, 14, "line 1\nline 2\n", True)
    with log.open("ab") as out:
        out.write(b"line 3\n")
    more = read_log(tmp_path, first.end, final=False)
    assert (more.start, more.end, more.text, more.eof) == (14, 21, "line 3\n", True)
    assert read_log(tmp_path, 21, final=False).text == ""
    # An offset past the end (a log rewritten meanwhile) reads nothing, not an error.
    assert read_log(tmp_path, 999, final=False).end == 21


def test_big_logs_come_in_chunks_and_open_at_their_tail(tmp_path: Path) -> None:
    line = b"x" * 99 + b"\n"
    (tmp_path / "builder-live.log").write_bytes(line * ((CHUNK + TAIL) // 100 + 10))
    size = (tmp_path / "builder-live.log").stat().st_size
    tail = read_log(tmp_path, None, final=False)
    assert tail.eof and tail.end == size
    assert 0 < size - tail.start <= TAIL and tail.start % 100 == 0  # from a line's start
    chunk = read_log(tmp_path, 0, final=False)
    assert (chunk.end, chunk.eof) == (CHUNK, False)


def test_characters_are_never_cut(tmp_path: Path) -> None:
    log = tmp_path / "builder-live.log"
    log.write_bytes("état ".encode() + "€".encode()[:2])  # the writer is mid-character
    partial = read_log(tmp_path, 0, final=False)
    assert partial.text == "état " and partial.end == len("état ".encode())
    with log.open("ab") as out:
        out.write("€".encode()[2:] + b"\n")
    assert read_log(tmp_path, partial.end, final=False).text == "€\n"
    # A task that has ended gets its last bytes, whatever they are.
    log.write_bytes(b"end \xe2\x82")
    assert read_log(tmp_path, 0, final=True).eof


def test_a_gzipped_log(tmp_path: Path) -> None:
    text = b"".join(b"line %d\n" % i for i in range(20000))
    (tmp_path / "builder-live.log.gz").write_bytes(gzip.compress(text))
    tail = read_log(tmp_path, None, final=True)
    assert tail.found and tail.eof and tail.end == len(text)
    assert tail.text.endswith("line 19999\n") and len(tail.text) <= TAIL
    rest = read_log(tmp_path, 100, final=True)
    assert rest.text == text[100:].decode() and rest.eof


def test_a_huge_gzipped_log_is_not_inflated_for_a_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "MAX_INFLATE", 1000)
    (tmp_path / "builder-live.log.gz").write_bytes(gzip.compress(b"x\n" * 5000))
    for offset in (None, 2000):
        chunk = read_log(tmp_path, offset, final=True)
        assert chunk.eof and chunk.text == logs.TOO_LONG


def test_the_endpoint_follows_a_running_task(
    web: TestClient, settings: Settings, alice: Account, tasks: Tasks
) -> None:
    make_project(web, alice)
    build_id = make_build(web, alice)
    tasks.set(
        build_id,
        {"srpm-builds": BuildState.succeeded, RAWHIDE: BuildState.running},
        pkg_name="hello",
    )
    url = f"/coprs/alice/demo/build/{build_id}/log/{RAWHIDE}"
    before = web.get(url).json()
    assert before["found"] is False and before["ended"] is False
    assert before["state"] == "running"

    directory = settings.results_dir / f"alice/demo/{RAWHIDE}/{build_id:08d}-hello"
    directory.mkdir(parents=True)
    (directory / "builder-live.log").write_text("Building hello\n")
    first = web.get(url).json()
    assert first == {
        "start": 0,
        "next": 15,
        "text": "Building hello\n",
        "eof": True,
        "found": True,
        "ended": False,
        "state": "running",
    }
    with (directory / "builder-live.log").open("a") as out:
        out.write("Wrote hello-1.0-1.noarch.rpm\n")
    second = web.get(url, params={"offset": first["next"]})
    assert second.headers["cache-control"] == "no-store"
    assert second.headers["x-content-type-options"] == "nosniff"
    assert second.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert second.json()["text"] == "Wrote hello-1.0-1.noarch.rpm\n"
    assert second.json()["start"] == 15

    # Published: the log is gzipped, and the reader gets what it had not read yet.
    tasks.finish(build_id)
    with (directory / "builder-live.log").open("a") as out:
        out.write("Finish: success\n")
    plain = (directory / "builder-live.log").read_bytes()
    (directory / "builder-live.log.gz").write_bytes(gzip.compress(plain))
    (directory / "builder-live.log").unlink()
    last = web.get(url, params={"offset": second.json()["next"]}).json()
    assert (last["text"], last["eof"], last["ended"]) == ("Finish: success\n", True, True)
    assert last["state"] == "succeeded"

    assert web.get(url, params={"offset": -1}).status_code == 400
    missing = web.get(f"/coprs/alice/demo/build/{build_id}/log/fedora-41-s390x")
    assert missing.status_code == 404


def test_the_source_step_log(
    web: TestClient, settings: Settings, alice: Account, tasks: Tasks
) -> None:
    make_project(web, alice)
    build_id = make_build(web, alice)
    tasks.set(build_id, {"srpm-builds": BuildState.running})
    directory = settings.results_dir / f"alice/demo/srpm-builds/{build_id:08d}"
    directory.mkdir(parents=True)
    (directory / "builder-live.log").write_text("Downloading\n")
    page = web.get(f"/coprs/alice/demo/build/{build_id}/").text
    assert f'data-url="/coprs/alice/demo/build/{build_id}/log/srpm-builds"' in page
    got = web.get(f"/coprs/alice/demo/build/{build_id}/log/srpm-builds").json()
    assert got["text"] == "Downloading\n"


def test_the_page_may_run_its_script_while_the_log_may_run_nothing(
    web: TestClient, settings: Settings, alice: Account, tasks: Tasks
) -> None:
    """The build page loads live-log.js from this site (its CSP allows 'self' scripts) and
    the script fetches the log as JSON; the log itself, as a file or as JSON, runs nothing."""
    make_project(web, alice)
    build_id = make_build(web, alice)
    tasks.set(
        build_id,
        {"srpm-builds": BuildState.succeeded, RAWHIDE: BuildState.running},
        pkg_name="hello",
    )
    directory = settings.results_dir / f"alice/demo/{RAWHIDE}/{build_id:08d}-hello"
    directory.mkdir(parents=True)
    (directory / "builder-live.log").write_text("<script>alert(1)</script>\n")

    page = web.get(f"/coprs/alice/demo/build/{build_id}/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "sandbox" not in policy
    script = re.search(r'<script src="([^"]+)"', page.text)
    assert script and script.group(1).startswith("/static/live-log.js")
    assert web.get(script.group(1)).status_code == 200
    data_url = re.search(r'data-url="([^"]+)"', page.text)
    assert data_url
    chunk = web.get(data_url.group(1), headers={"accept": "application/json"})
    assert chunk.status_code == 200
    assert chunk.json()["text"] == "<script>alert(1)</script>\n"

    raw = web.get(f"/results/alice/demo/{RAWHIDE}/{build_id:08d}-hello/builder-live.log")
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert raw.headers["content-security-policy"] == "default-src 'none'; sandbox"
