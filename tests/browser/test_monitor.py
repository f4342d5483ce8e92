"""The Monitor tab in a real browser (headless chromium) after real builds: reached from
the project's header, each cell in the UI's state colour linking to its build, the filter
form working through the URL alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Steps, log_in
from tests.integration.conftest import Server
from tests.integration.test_builds import make_srpm

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
F45 = "fedora-45-x86_64"


@pytest.fixture(scope="module")
def builds(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """alice/watched with two chroots: hello built in both, failing failed in rawhide."""
    config = server.home / "alice-monitor.conf"
    config.write_text(server.coprd("token", "alice").stdout)
    created = server.copr_cli(config, "create", "watched", "--chroot", RAWHIDE, "--chroot", F45)
    assert created.returncode == 0, created.stderr
    ids = {}
    for spec, args, status in (("hello.spec", (), 0), ("failing.spec", ("--chroot", RAWHIDE), 4)):
        srpm = make_srpm(spec, tmp_path_factory.mktemp("srpm"))
        built = server.copr_cli(config, "build", "watched", str(srpm), *args)
        assert built.returncode == status, built.stdout + built.stderr
        found = re.search(r"Created builds: (\d+)", built.stdout)
        assert found, built.stdout
        ids[spec.removesuffix(".spec")] = int(found.group(1))
    return ids


def test_the_monitor_tab(server: Server, page: Page, steps: Steps, builds: dict[str, int]) -> None:
    log_in(page, server, "alice")
    page.goto(f"{server.url}/coprs/alice/watched/")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Monitor").click()
    expect(page).to_have_url(re.compile(r"/coprs/alice/watched/monitor/$"))
    table = page.locator("table.monitor")
    expect(table.locator("thead th")).to_have_text(["Package", F45, RAWHIDE])
    expect(table.locator("tbody th")).to_have_text(["failing", "hello"])
    steps.shot(page, "monitor")

    # Each cell: the state, in the colours of the rest of the UI, linking to the build.
    failed = table.locator("tbody tr", has_text="failing").locator("td").nth(1)
    expect(failed.locator(".state")).to_have_text("failed")
    expect(table.locator("tbody tr", has_text="failing").locator("td").first).to_have_text("—")
    succeeded = table.locator("tbody tr", has_text="hello").locator(".state-succeeded")
    expect(succeeded).to_have_count(2)
    colour = failed.locator(".state").evaluate("e => getComputedStyle(e).backgroundColor")
    page.goto(f"{server.url}/coprs/alice/watched/builds/")
    on_builds = page.locator(".builds .state-failed").first
    assert (
        colour
        == on_builds.evaluate("e => getComputedStyle(e).backgroundColor")
        != (
            page.locator(".builds .state-succeeded").first.evaluate(
                "e => getComputedStyle(e).backgroundColor"
            )
        )
    )

    # The filter form: a state, then a part of a name; the URL carries them.
    page.goto(f"{server.url}/coprs/alice/watched/monitor/")
    page.select_option("select[name=state]", "failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/monitor/\?package=&state=failed$"))
    expect(page.locator("table.monitor tbody th")).to_have_text(["failing"])
    steps.shot(page, "filtered-by-state")
    page.fill("input[name=package]", "hel")
    page.select_option("select[name=state]", "")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.monitor tbody th")).to_have_text(["hello"])
    steps.shot(page, "filtered-by-name")

    # A cell leads to its build.
    page.locator("table.monitor tbody td a").first.click()
    expect(page).to_have_url(re.compile(rf"/coprs/alice/watched/build/{builds['hello']}/$"))
    expect(page.locator("h2")).to_contain_text("succeeded")
    steps.shot(page, "build-from-cell")
