"""Builds end to end: copr-cli, a real server with a local agent, rpmbuild in bubblewrap,
createrepo_c, and dnf installing the result."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server, start_server, stop_server
from tests.publish.conftest import primary

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "builder" / "data"
CHROOT = "fedora-rawhide-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-builds"), builders=1)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    return server.add_user_with_project("alice", "demo", CHROOT)


def make_srpm(spec: str | Path, out: Path) -> Path:
    """``rpmbuild -bs`` into ``out``: a spec file's path, or the name of one in
    tests/integration/data or tests/builder/data."""
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(spec, Path):
        path = spec
    else:
        path = HERE / "data" / spec if (HERE / "data" / spec).is_file() else DATA / spec
    subprocess.run(
        [
            "rpmbuild",
            "-bs",
            str(path),
            "--define",
            f"_topdir {out}",
            "--define",
            f"_srcrpmdir {out}",
            "--define",
            "dist %{nil}",
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("*.src.rpm"))


def binary_rpm(spec: str, out: Path) -> Path:
    """``rpmbuild -bb`` of a spec in tests/integration/data; the noarch RPM it makes."""
    subprocess.run(
        ["rpmbuild", "-bb", str(HERE / "data" / spec), "--define", f"_topdir {out}"],
        check=True,
        capture_output=True,
    )
    return next((out / "RPMS" / "noarch").glob(f"{spec.removesuffix('.spec')}-*.rpm"))


def dnf_install(server: Server, root: Path, *packages: str) -> Path:
    """dnf installs ``packages`` from alice/demo's repo into the scratch root ``root``."""
    repo = f"{server.url}/results/alice/demo/{CHROOT}/"
    install = subprocess.run(
        [
            "dnf",
            "-y",
            "-q",
            "--disableplugin=local",
            f"--installroot={root}",
            "--releasever=rawhide",
            "--setopt=reposdir=/dev/null",
            f"--repofrompath=demo,{repo}",
            "--repo=demo",
            "--nogpgcheck",
            "install",
            *packages,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return root


def test_build_watch_download_and_install(server: Server, alice: Path, tmp_path: Path) -> None:
    srpm = make_srpm("greeting.spec", tmp_path / "srpm")
    built = server.copr_cli(alice, "build", "demo", str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Build was added to demo" in built.stdout
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
    assert f"Build {build_id}: succeeded" in built.stdout

    assert server.copr_cli(alice, "status", str(build_id)).stdout.strip() == "succeeded"
    listing = server.copr_cli(alice, "list-builds", "demo").stdout
    assert f"{build_id}\tgreeting\tsucceeded" in listing

    dest = tmp_path / "download"
    got = server.copr_cli(alice, "download-build", str(build_id), "--dest", str(dest))
    assert got.returncode == 0, got.stderr
    files = {p.name for p in (dest / CHROOT).iterdir()}
    assert "greeting-1.0-1.fc46.noarch.rpm" in files, files
    assert "builder-live.log.gz" in files

    root = dnf_install(server, tmp_path / "root", "greeting")
    installed = root / "usr" / "share" / "greeting" / "hello.txt"
    assert installed.read_text() == "Hello from coprd\n"


def test_live_log_and_cancel(server: Server, alice: Path, tmp_path: Path) -> None:
    srpm = make_srpm("sleeper.spec", tmp_path / "srpm")
    built = server.copr_cli(alice, "build", "--nowait", "demo", str(srpm))
    assert built.returncode == 0, built.stderr
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
    log_url = f"{server.url}/results/alice/demo/{CHROOT}/{build_id:08d}-sleeper/builder-live.log"
    # Wait until the chroot build runs and its log shows up over HTTP.
    for _ in range(300):
        response = httpx.get(log_url)
        if response.status_code == 200 and response.text:
            break
        subprocess.run(["sleep", "0.2"], check=True)
    else:
        pytest.fail("the live log never appeared")
    canceled = server.copr_cli(alice, "cancel", str(build_id))
    assert canceled.returncode == 0 and canceled.stdout.strip() == "canceled"
    watched = server.copr_cli(alice, "watch-build", str(build_id))
    assert watched.returncode == 4 and "canceled" in watched.stdout + watched.stderr
    # The agent hears of the cancel at its next heartbeat (every few seconds).
    for _ in range(75):
        leftovers = subprocess.run(["pgrep", "-f", "sleep 1000"], capture_output=True, text=True)
        if not leftovers.stdout.strip():
            break
        subprocess.run(["sleep", "0.2"], check=True)
    else:
        pytest.fail("the build's processes survived the cancel")
    # Then the agent uploads the logs and reports the end, which takes a moment more.
    for _ in range(75):
        chroot = httpx.get(
            f"{server.url}/api_3/build-chroot", params={"build_id": build_id, "chrootname": CHROOT}
        ).json()
        if chroot["state"] != "running":
            break
        subprocess.run(["sleep", "0.2"], check=True)
    assert chroot["state"] == "canceled"


def test_url_build_and_chroot_restriction(server: Server, alice: Path, tmp_path: Path) -> None:
    srpm = make_srpm("hello.spec", tmp_path / "srpm")
    shutil.copy(srpm, server.data_dir / "results" / srpm.name)
    url = f"{server.url}/results/{srpm.name}"
    built = server.copr_cli(alice, "build", "demo", url, "--chroot", CHROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
    chroots = server.copr_cli(alice, "download-build", str(build_id), "--dest", str(tmp_path / "d"))
    assert chroots.returncode == 0


def test_delete_build(server: Server, alice: Path, tmp_path: Path) -> None:
    srpm = make_srpm("failing.spec", tmp_path / "srpm")
    built = server.copr_cli(alice, "build", "demo", str(srpm))
    assert built.returncode == 4  # the build failed, and copr-cli says so
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
    assert server.copr_cli(alice, "status", str(build_id)).stdout.strip() == "failed"
    deleted = server.copr_cli(alice, "delete-build", str(build_id))
    assert deleted.returncode == 0, deleted.stderr
    assert f"Build(s) {build_id} were deleted." in deleted.stdout
    assert server.copr_cli(alice, "status", str(build_id)).returncode == 1


def test_built_packages_are_reported(server: Server, alice: Path) -> None:
    builds = json.loads(
        server.copr_cli(alice, "list-builds", "demo", "--output-format", "json").stdout
    )
    done = [b for b in builds if b["state"] == "succeeded"]
    assert done
    packages = httpx.get(f"{server.url}/api_3/build/built-packages/{done[0]['id']}").json()
    assert packages[CHROOT]["packages"][0]["name"] in ("greeting", "hello")


def test_uploadrpm_publishes_the_package_as_it_is(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    rpm = binary_rpm("prebuilt.spec", tmp_path / "rpmbuild")
    uploaded = server.copr_cli(alice, "uploadrpm", "demo", str(rpm))
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    build_id = int(uploaded.stdout.split("Created builds: ")[1].split()[0])
    assert server.copr_cli(alice, "status", str(build_id)).stdout.strip() == "succeeded"
    published = httpx.get(f"{server.url}/results/alice/demo/{CHROOT}/{build_id:08d}-prebuilt/")
    assert rpm.name in published.text

    root = dnf_install(server, tmp_path / "root", "prebuilt")
    assert (root / "usr" / "share" / "prebuilt" / "hello.txt").is_file()

    # A source RPM is not a prebuilt package; nothing is created.
    srpm = make_srpm("prebuilt.spec", tmp_path / "srpm")
    refused = server.copr_cli(alice, "uploadrpm", "demo", str(srpm))
    assert refused.returncode == 1
    assert "binary RPM" in refused.stderr


def test_dnf_copr_enable_then_install(server: Server, alice: Path, tmp_path: Path) -> None:
    assert server.copr_cli(alice, "create", "enabled", "--chroot", CHROOT).returncode == 0
    rpm = binary_rpm("greeting.spec", tmp_path / "rpmbuild")
    assert server.copr_cli(alice, "uploadrpm", "enabled", str(rpm)).returncode == 0

    root = tmp_path / "root"
    # dnf uses the scratch root's repo directory only if it exists (else the host's).
    (root / "etc" / "yum.repos.d").mkdir(parents=True)
    dnf = ["dnf", "-y", "--disableplugin=local", f"--installroot={root}", "--releasever=rawhide"]
    enable = subprocess.run(
        [*dnf, "copr", "--hub", server.url, "enable", "alice/enabled", CHROOT],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert enable.returncode == 0, enable.stdout + enable.stderr
    repo_file = root / "etc" / "yum.repos.d" / "_copr:127.0.0.1:alice:enabled.repo"
    assert f"baseurl={server.url}/results/alice/enabled/fedora-$releasever-$basearch/" in (
        repo_file.read_text()
    )
    install = subprocess.run(
        [*dnf, "install", "greeting"], capture_output=True, text=True, timeout=300
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (root / "usr" / "share" / "greeting" / "hello.txt").is_file()

    missing = subprocess.run(
        [*dnf, "copr", "--hub", server.url, "enable", "alice/enabled", "epel-9-x86_64"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0
    assert CHROOT in missing.stdout + missing.stderr  # dnf lists the chroots there are


def test_deleting_a_build_or_project_removes_its_results(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    assert server.copr_cli(alice, "create", "gone", "--chroot", CHROOT).returncode == 0
    rpm = binary_rpm("greeting.spec", tmp_path / "rpmbuild")
    uploaded = server.copr_cli(alice, "uploadrpm", "gone", str(rpm))
    build_id = int(uploaded.stdout.split("Created builds: ")[1].split()[0])
    repo = f"{server.url}/results/alice/gone/{CHROOT}/"
    assert f"{build_id:08d}-greeting" in httpx.get(repo).text

    assert server.copr_cli(alice, "delete-build", str(build_id)).returncode == 0
    assert httpx.get(f"{repo}{build_id:08d}-greeting/").status_code == 404
    assert primary(server.data_dir / "results" / "alice" / "gone" / CHROOT) == []

    assert server.copr_cli(alice, "delete", "gone").returncode == 0
    assert httpx.get(f"{server.url}/results/alice/gone/").status_code == 404


def test_a_package_made_by_an_upload_keeps_its_source_and_builds_again(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    """As on Copr: the package records the upload as its source, and ``build-package``
    builds the SRPM of its latest succeeded build."""
    srpm = make_srpm("archinfo.spec", tmp_path / "srpm")
    built = server.copr_cli(alice, "build", "demo", str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    got = server.copr_cli(alice, "get-package", "demo", "--name", "archinfo")
    assert got.returncode == 0, got.stderr
    package = json.loads(got.stdout)
    assert (package["source_type"], package["source_dict"]) == ("upload", {"pkg": srpm.name})
    again = server.copr_cli(alice, "build-package", "demo", "--name", "archinfo")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "succeeded" in again.stdout
