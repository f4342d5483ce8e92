"""A package's page and its status badge in a real browser (headless chromium) against a
real server and builder: the page lists the package's build, its owner's Rebuild button
makes a build that succeeds, someone else sees no button; the badge loads as an image on
the page and in a README-like page of another origin.
"""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Steps, log_in
from tests.browser.test_web_ui import CHROOT, chroot_state, submitted_build_id, wait_for
from tests.integration.conftest import Server
from tests.integration.test_builds import make_srpm

pytestmark = pytest.mark.integration

PACKAGE_URL = "/coprs/alice/tools/package/hello/"
BADGE_URL = PACKAGE_URL + "status_image/last_build.png"


@pytest.fixture(scope="module")
def first_build(server: Server, tmp_path_factory: pytest.TempPathFactory) -> int:
    """alice/tools with the package hello, built once from a URL (so that it has a default
    source to rebuild from), over copr-cli."""
    config = server.home / "alice-tools.conf"
    config.write_text(server.coprd("token", "alice").stdout)
    created = server.copr_cli(config, "create", "tools", "--chroot", CHROOT)
    assert created.returncode == 0, created.stderr
    srpm = make_srpm("hello.spec", tmp_path_factory.mktemp("tools-srpm"))
    shutil.copy(srpm, server.data_dir / "results" / srpm.name)
    built = server.copr_cli(config, "build", "tools", f"{server.url}/results/{srpm.name}")
    assert built.returncode == 0, built.stdout + built.stderr
    found = re.search(r"Created builds: (\d+)", built.stdout)
    assert found, built.stdout
    return int(found.group(1))


def image_size(page: Page, selector: str) -> tuple[int, int]:
    """The natural size of a loaded image (0, 0 while it has not loaded or failed to)."""
    size = page.eval_on_selector(
        selector, "img => img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0]"
    )
    return int(size[0]), int(size[1])


def test_the_owner_rebuilds_a_package_from_its_page(
    server: Server, page: Page, steps: Steps, first_build: int
) -> None:
    log_in(page, server, "alice")
    page.goto(server.url + "/coprs/alice/tools/packages/")
    page.get_by_role("link", name="hello", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(PACKAGE_URL) + "$"))
    expect(page.locator("h2")).to_contain_text("Package hello")
    row = page.locator("table.builds tbody tr").first
    expect(row).to_contain_text(str(first_build))
    expect(row).to_contain_text("succeeded")
    expect(row).to_contain_text(CHROOT)
    expect(page.locator("body")).to_contain_text("A URL of an SRPM")
    steps.shot(page, "package-page")

    page.get_by_role("button", name="Rebuild").click()
    expect(page).to_have_url(re.compile(r"/coprs/alice/tools/build/\d+/$"))
    rebuilt = submitted_build_id(page)
    assert rebuilt > first_build
    expect(page.locator("body")).to_contain_text(f"Build {rebuilt} of hello is submitted.")
    steps.shot(page, "rebuild-submitted")
    wait_for("the rebuild to succeed", lambda: chroot_state(server, rebuilt) == "succeeded")

    page.goto(server.url + PACKAGE_URL)
    rows = page.locator("table.builds tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(str(rebuilt))
    expect(rows.first).to_contain_text("succeeded")
    expect(rows.nth(1)).to_contain_text(str(first_build))
    # The badge on the page has loaded, with a size.
    page.locator("#badge").scroll_into_view_if_needed()
    wait_for("the badge to load", lambda: image_size(page, "#badge") != (0, 0), 30)
    width, height = image_size(page, "#badge")
    assert width > 0 and height == 20
    steps.shot(page, "rebuilt-with-badge")


def test_a_badge_in_a_readme(server: Server, page: Page, steps: Steps, first_build: int) -> None:
    """A README elsewhere (another origin) shows the badge as an image."""
    page.set_content(
        "<h1>tools</h1>"
        f'<p><a href="{server.url}{PACKAGE_URL}">'
        f'<img id="copr" src="{server.url}{BADGE_URL}" alt="Copr build status"></a></p>'
        f'<p><img id="missing" src="{server.url}/coprs/alice/tools/package/nothing'
        '/status_image/last_build.png" alt="no such package"></p>'
    )
    wait_for("the badges to load", lambda: image_size(page, "#missing") != (0, 0), 30)
    wait_for("the badges to load", lambda: image_size(page, "#copr") != (0, 0), 30)
    width, height = image_size(page, "#copr")
    assert width > 0 and height == 20
    assert image_size(page, "#missing")[0] > width  # "no such package" is longer
    steps.shot(page, "readme-with-badges")
    page.click("#copr")
    expect(page).to_have_url(server.url + PACKAGE_URL)


def test_others_see_no_rebuild_button(
    server: Server, page: Page, steps: Steps, first_build: int
) -> None:
    page.goto(server.url + PACKAGE_URL)
    expect(page.locator("h2")).to_contain_text("Package hello")
    expect(page.get_by_role("button", name="Rebuild")).to_have_count(0)
    steps.shot(page, "anonymous-sees-no-button")
    log_in(page, server, "bob")
    expect(page.locator("body")).to_contain_text("bob")
    page.goto(server.url + PACKAGE_URL)
    expect(page.get_by_role("button", name="Rebuild")).to_have_count(0)
    steps.shot(page, "bob-sees-no-button")
