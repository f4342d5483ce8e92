"""The web UI in a real browser (headless chromium) against a real server and builder: log
in, create a project, build by upload and by URL, watch a build's log grow while it runs and
the builds succeed, get an API token that copr-cli then uses, log out; a user who is not
allowed sees no buttons and is refused anyway.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Steps, log_in
from tests.integration.conftest import Server
from tests.integration.test_builds import make_srpm

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"
HERE = Path(__file__).parent


def wait_for(what: str, check: Any, timeout_s: float = 300) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def chroot_state(server: Server, build_id: int) -> str:
    answer = httpx.get(
        f"{server.url}/api_3/build-chroot", params={"build_id": build_id, "chrootname": CHROOT}
    )
    return str(answer.json().get("state")) if answer.status_code == 200 else ""


@pytest.fixture(scope="module")
def alice_build(server: Server, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A finished build in alice/shown (made over the API), for the permission test."""
    config = server.home / "alice-api.conf"
    config.write_text(server.coprd("token", "alice").stdout)
    created = server.copr_cli(config, "create", "shown", "--chroot", CHROOT)
    assert created.returncode == 0, created.stderr
    srpm = make_srpm("hello.spec", tmp_path_factory.mktemp("shown-srpm"))
    built = server.copr_cli(config, "build", "shown", str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    found = re.search(r"Created builds: (\d+)", built.stdout)
    assert found, built.stdout
    return int(found.group(1))


def submitted_build_id(page: Page) -> int:
    """The id of the build whose page the browser was redirected to."""
    found = re.search(r"/build/(\d+)/", page.url)
    assert found, page.url
    return int(found.group(1))


def test_the_whole_web_flow(server: Server, page: Page, steps: Steps, tmp_path: Path) -> None:
    """Log in, create a project, build by upload and by URL, watch the log grow, see the
    builds succeed, get the copr-cli block from the token page and use it, log out."""
    page.goto(server.url + "/")
    expect(page.locator("body")).to_contain_text("coprd")
    steps.shot(page, "home")

    log_in(page, server, "alice")
    expect(page.locator("body")).to_contain_text("alice")
    steps.shot(page, "logged-in")

    # A new project, from the form linked on alice's page.
    page.goto(f"{server.url}/coprs/alice/add/")
    page.fill("input[name=name]", "live")
    page.fill("textarea[name=description]", "Made in a **browser**.")
    page.check(f"input[name=chroots][value={CHROOT}]")
    steps.shot(page, "new-project-form")
    page.get_by_role("button", name="Create the project").click()
    expect(page).to_have_url(re.compile(r"/coprs/alice/live/$"))
    expect(page.locator("body")).to_contain_text("Made in a browser.")
    steps.shot(page, "project-created")

    # A build by upload: a package that prints a line every half second.
    srpm = make_srpm(HERE / "data" / "ticker.spec", tmp_path / "srpm")
    page.goto(f"{server.url}/coprs/alice/live/add_build_upload/")
    page.set_input_files("input[name=pkgs]", str(srpm))
    steps.shot(page, "upload-form")
    page.get_by_role("button", name="Build").click()
    expect(page).to_have_url(re.compile(r"/coprs/alice/live/build/\d+/$"))
    uploaded = submitted_build_id(page)
    steps.shot(page, "upload-submitted")

    # Its page follows the log while the build runs, without being reloaded.
    wait_for("the chroot task to run", lambda: chroot_state(server, uploaded) == "running")
    page.goto(f"{server.url}/coprs/alice/live/build/{uploaded}/")
    log = page.locator("#live-log")
    expect(log).to_contain_text("tick 2 of 24", timeout=60_000)
    steps.shot(page, "log-while-running")
    first = log.inner_text()
    expect(log).to_contain_text("tick 20 of 24", timeout=60_000)
    assert len(log.inner_text()) > len(first)
    steps.shot(page, "log-grown")
    wait_for("the upload build to succeed", lambda: chroot_state(server, uploaded) == "succeeded")
    page.reload()
    expect(page.locator("h2")).to_contain_text("succeeded")
    steps.shot(page, "upload-succeeded")

    # A build from a URL (an SRPM the server itself serves).
    served = make_srpm("hello.spec", tmp_path / "served")
    shutil.copy(served, server.data_dir / "results" / served.name)
    page.goto(f"{server.url}/coprs/alice/live/add_build/")
    page.fill("textarea[name=pkgs]", f"{server.url}/results/{served.name}")
    steps.shot(page, "url-form")
    page.get_by_role("button", name="Build").click()
    expect(page).to_have_url(re.compile(r"/coprs/alice/live/build/\d+/$"))
    linked = submitted_build_id(page)
    wait_for("the URL build to succeed", lambda: chroot_state(server, linked) == "succeeded")
    page.reload()
    expect(page.locator("h2")).to_contain_text("succeeded")
    steps.shot(page, "url-succeeded")

    # The token page: generate, copy the [copr-cli] block into a config copr-cli then uses.
    page.goto(server.url + "/api")
    steps.shot(page, "token-page")
    page.get_by_role("button", name="Generate a new API token").click()
    block = page.locator("#copr-config")
    expect(block).to_contain_text("[copr-cli]")
    steps.shot(page, "token-generated")
    config = tmp_path / "copr"
    config.write_text(block.inner_text() + "\n")
    whoami = server.copr_cli(config, "whoami")
    assert whoami.returncode == 0 and whoami.stdout.strip() == "alice", whoami.stderr
    listed = server.copr_cli(config, "list-builds", "live")
    assert listed.returncode == 0, listed.stderr
    for build_id in (uploaded, linked):
        assert re.search(rf"^{build_id}\s.*succeeded", listed.stdout, re.M), listed.stdout

    page.get_by_role("button", name=re.compile("Log out", re.I)).first.click()
    page.goto(server.url + "/api")
    expect(page.locator("body")).to_contain_text("Log in to generate")
    steps.shot(page, "logged-out")


def test_someone_not_allowed_sees_no_buttons_and_is_refused(
    server: Server, page: Page, steps: Steps, alice_build: int
) -> None:
    log_in(page, server, "bob")
    expect(page.locator("body")).to_contain_text("bob")
    build_page = f"{server.url}/coprs/alice/shown/build/{alice_build}/"
    page.goto(build_page)
    expect(page.locator("h2")).to_contain_text("succeeded")
    for name in ("Cancel", "Resubmit", "Delete"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    steps.shot(page, "bob-sees-no-buttons")

    # Posting the delete form anyway, with bob's own valid CSRF token: refused.
    page.goto(server.url + "/api")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    refused = page.request.post(build_page + "delete", form={"csrf_token": token})
    assert refused.status == 403
    page.goto(build_page)
    expect(page.locator("h2")).to_contain_text("succeeded")
    steps.shot(page, "build-still-there")
