"""Browser tests: Playwright (Python) driving the platform's headless chromium against a real
``coprd serve`` with a local builder agent.

``scripts/test`` installs chromium (``COPRD_BOOTSTRAP_BROWSER=1 scripts/bootstrap``); where
it is missing the tests are skipped with a reason. Every step of a test leaves a screenshot
in ``test-output/browser/<test>/`` (:class:`Steps`), numbered in order, so a failure can be
seen as the user would have seen it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.integration.conftest import BIN, Server, start_server, stop_server

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "browser"
PASSWORD = "correct horse battery"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium on this machine (scripts/test installs it)")
    with sync_playwright() as playwright:
        # --no-sandbox: chromium's own sandbox needs namespaces it cannot have as root here.
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with one builder agent, and the web accounts alice and bob: one for every
    browser module (each works in projects of its own and makes its own tokens)."""
    srv = start_server(tmp_path_factory.mktemp("coprd-browser"), builders=1)
    for name in ("alice", "bob"):
        subprocess.run(
            [str(BIN / "coprd"), "user", "add", name, "--password-stdin"],
            input=PASSWORD + "\n",
            env=srv.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    yield srv
    stop_server(srv)


class Steps:
    """Numbered full-page screenshots of one test."""

    def __init__(self, directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self.directory = directory
        self.count = 0

    def shot(self, page: Page, name: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def steps(request: pytest.FixtureRequest) -> Steps:
    return Steps(OUTPUT / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) with a phone-sized window."""
    context = browser.new_context(viewport={"width": 412, "height": 915})
    yield context.new_page()
    context.close()


def log_in(page: Page, server: Server, name: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
