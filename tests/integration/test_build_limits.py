"""What a build may leave behind, end to end (copr-cli → server → local agent → bubblewrap
→ results): a build that prints a gigabyte succeeds with its log cut to its head, one line
and its tail; a build that makes more packages than the builder accepts fails saying so,
and publishes none of them.

The server runs with ``COPRD_MAX_RESULT_FILES=20`` (its local agent reads the same
settings), so 25 subpackages are too many without a slow build of thousands.
"""

from __future__ import annotations

import gzip
import html
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import CHROOT, make_srpm
from tests.integration.test_sandbox_builds import submitted_id, wait_ended

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

MiB = 1024 * 1024
MAX_FILES = 20
LINE = (
    b"[coprd] the log is longer than 64 MiB: the rest is cut, only its last 1 MiB is kept below\n"
)

LOUD = """\
Name:           loud
Version:        1
Release:        1
Summary:        Prints a gigabyte while it builds
License:        MIT
BuildArch:      noarch

%description
Its build prints 1 GiB to stdout, then a last line.

%build
yes 'a line of a very loud build' | head -c 1G
echo "the last line of %%build"

%install
install -D -m 0644 /dev/null %{buildroot}%{_datadir}/loud/empty

%files
%{_datadir}/loud/empty
"""


def many(count: int) -> str:
    """A spec with ``count`` empty noarch subpackages (and no main package)."""
    head = [
        "Name: many",
        "Version: 1",
        "Release: 1",
        "Summary: Many subpackages",
        "License: MIT",
        "BuildArch: noarch",
        "%description",
        "Many subpackages.",
    ]
    subs = [f"%package p{i}\nSummary: p{i}\n%description p{i}\np{i}\n" for i in range(count)]
    files = [f"%files p{i}\n" for i in range(count)]
    return "\n".join([*head, *subs, "%build", "%install", *files]) + "\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("coprd-limits"),
        builders=1,
        env={"COPRD_MAX_RESULT_FILES": str(MAX_FILES)},
    )
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    return server.add_user_with_project("alice", "demo", CHROOT)


def build(server: Server, config: Path, spec: str, name: str, tmp: Path) -> int:
    path = tmp / f"{name}.spec"
    path.write_text(spec)
    built = server.copr_cli(config, "build", "--nowait", "demo", str(make_srpm(path, tmp)))
    assert built.returncode == 0, built.stdout + built.stderr
    return submitted_id(built.stdout)


def test_a_gigabyte_of_log_is_cut_and_the_build_goes_on(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    build_id = build(server, alice, LOUD, "loud", tmp_path)
    assert wait_ended(server, build_id, timeout_s=600) == "succeeded"
    results = f"{server.url}/results/alice/demo/{CHROOT}/{build_id:08d}-loud"
    assert httpx.get(f"{results}/loud-1-1.noarch.rpm").status_code == 200

    stored = server.data_dir / "results/alice/demo" / CHROOT / f"{build_id:08d}-loud"
    log = gzip.decompress((stored / "builder-live.log.gz").read_bytes())
    assert log.count(b"the log is longer than") == 1
    head, line, tail = log.partition(LINE)
    assert line == LINE
    # The head is the log's first 64 MiB (the line may begin with a newline of its own).
    assert len(head.removesuffix(b"\n")) == 64 * MiB or len(head) == 64 * MiB
    assert head.startswith(b"[coprd-agent] task ")
    assert b"a line of a very loud build\n" * 1000 in head
    # The tail is the last 1 MiB: the end of %build and the rest of the build.
    assert len(tail) == MiB
    assert b"the last line of %build" in tail
    assert b"[coprd-agent] result: succeeded" in tail
    assert len(log) <= 65 * MiB + len(LINE) + 1


def test_too_many_packages_fail_the_build_and_say_why(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    build_id = build(server, alice, many(MAX_FILES + 5), "many", tmp_path)
    assert wait_ended(server, build_id) == "failed"
    # The SRPM and the spec, which the chroot's directory holds too, are counted with them.
    why = (
        f"the build made {MAX_FILES + 5} packages besides 2 other result files; "
        f"this builder accepts at most {MAX_FILES} (setting max_result_files)"
    )
    results = f"{server.url}/results/alice/demo/{CHROOT}/{build_id:08d}-many"
    log = httpx.get(f"{results}/builder-live.log.gz").content
    text = (gzip.decompress(log) if log[:2] == b"\x1f\x8b" else log).decode()
    # Counted before a package is copied out of the build (the backend's line).
    assert f"[coprd] failed: {why}" in text.splitlines()
    assert f"[coprd-agent] result: failed ({why})" in text.splitlines()
    # Only the spec (before the build) and the buildroot's record were uploaded; no package.
    assert [line for line in text.splitlines() if "uploading" in line] == [
        "[coprd-agent] uploading many.spec",
        "[coprd-agent] uploading root.log",
    ]
    # The build's page says why too; nothing of it is published.
    page = httpx.get(f"{server.url}/coprs/build/{build_id}/", follow_redirects=True)
    assert why in html.unescape(page.text)
    assert ".rpm" not in httpx.get(f"{results}/").text
