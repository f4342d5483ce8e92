"""What only a real HTTP connection shows: raw paths, and the README's serve command."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from coprd.config import Settings
from tests.conftest import POSTGRES
from tests.integration.conftest import Server, free_port, process_env

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path",
    ["//api_3/mock-chroots/list", "//api_3/mock-chroots/list/", "/api_3//mock-chroots//list"],
)
def test_doubled_slashes_reach_the_route(server: Server, path: str) -> None:
    # An absolute URL: a relative "//api_3/..." would name a host, not a path.
    response = httpx.get(server.url + path)
    assert response.request.url.raw_path.startswith(path.encode())
    assert response.status_code == 200
    assert "fedora-rawhide-x86_64" in response.json()


def test_unknown_paths_and_methods_answer_in_the_envelope(server: Server) -> None:
    missing = httpx.get(f"{server.url}/api_3/no/such/thing")
    assert missing.status_code == 404
    assert "error" in missing.json()
    wrong = httpx.delete(f"{server.url}/api_3/mock-chroots/list")
    assert wrong.status_code == 405
    assert "error" in wrong.json()


@pytest.mark.skipif(bool(POSTGRES), reason="the quick start is about the embedded default")
def test_readme_serve_command_brings_up_a_server(tmp_path: Path) -> None:
    port = free_port()
    env = process_env()
    env["COPRD_DATA_DIR"] = str(tmp_path / "data")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(REPO / "scripts" / "serve"), "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api_3/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError(log.read_text())
        text = log.read_text()
        assert f"serving on http://127.0.0.1:{port}" in text
        assert (tmp_path / "data" / "copr-cli-admin.conf").is_file()
        assert (tmp_path / "data" / "coprd.sqlite").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        # Its agent works where the README's command puts it (for root, under
        # /var/lib/coprd/builds), and a stopped agent leaves its directory there.
        work = Settings(data_dir=tmp_path / "data").agent_work_dir("serve")
        shutil.rmtree(work, ignore_errors=True)
