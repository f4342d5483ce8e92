"""What a chroot's result directory holds, and builds from an uploaded spec file, with
the real copr-cli 2.6 against a real server and agent (issue 12, items 13 and 14)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import make_srpm
from tests.publish.conftest import primary

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parent / "data"
CHROOT = "fedora-rawhide-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-results"), builders=1)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    return server.add_user_with_project("alice", "demo", CHROOT)


def build_id_of(output: str) -> int:
    return int(output.split("Created builds: ")[1].split()[0])


def downloaded(directory: Path) -> list[str]:
    """The files download-build fetched; the listing page itself is left out (copr-cli's
    ``--reject '"index.html*"'`` has quotes that wget matches literally)."""
    return sorted(p.name for p in directory.iterdir() if p.name != "index.html")


def builds_of(server: Server, alice: Path) -> list[int]:
    listed = server.copr_cli(alice, "list-builds", "demo", "--output-format", "json")
    return [build["id"] for build in json.loads(listed.stdout)]


def test_a_local_spec_file_is_built(server: Server, alice: Path, tmp_path: Path) -> None:
    spec = tmp_path / "greeting.spec"
    spec.write_text((DATA / "greeting.spec").read_text())
    built = server.copr_cli(alice, "build", "demo", str(spec))
    assert built.returncode == 0, built.stdout + built.stderr
    build_id = build_id_of(built.stdout)
    assert f"Build {build_id}: succeeded" in built.stdout
    build = httpx.get(f"{server.url}/api_3/build/{build_id}").json()
    assert build["source_package"]["name"] == "greeting"
    assert build["source_package"]["version"] == "1.0-1"

    # download-build --spec: wget -A '*.spec' in each chroot's result directory.
    only_spec = tmp_path / "spec"
    got = server.copr_cli(
        alice, "download-build", str(build_id), "--spec", "--dest", str(only_spec)
    )
    assert got.returncode == 0, got.stderr
    assert sorted(p.name for p in (only_spec / CHROOT).iterdir()) == ["greeting.spec"]
    assert (only_spec / CHROOT / "greeting.spec").read_text() == spec.read_text()

    # Without a filter: the packages, the SRPM, the spec and every log, as on Copr.
    everything = tmp_path / "all"
    got = server.copr_cli(alice, "download-build", str(build_id), "--dest", str(everything))
    assert got.returncode == 0, got.stderr
    assert downloaded(everything / CHROOT) == [
        "backend.log.gz",
        "build.info",
        "builder-live.log.gz",
        "greeting-1.0-1.fc46.noarch.rpm",
        "greeting-1.0-1.src.rpm",
        "greeting.spec",
        "root.log.gz",  # the buildroot's record, as mock's root.log on Copr
        "success",
    ]
    logs = tmp_path / "logs"
    got = server.copr_cli(alice, "download-build", str(build_id), "--logs", "--dest", str(logs))
    assert got.returncode == 0, got.stderr
    assert downloaded(logs / CHROOT) == ["backend.log.gz", "builder-live.log.gz", "root.log.gz"]
    info = (everything / CHROOT / "build.info").read_text()
    assert info.startswith(f"build_id={build_id}\nbuilder=")

    # The SRPM is in the chroot's repodata, with arch "src".
    repo = server.data_dir / "results" / "alice" / "demo" / CHROOT
    assert (
        "greeting",
        "src",
        f"{build_id:08d}-greeting/greeting-1.0-1.src.rpm",
    ) in primary(repo)


def test_an_uploaded_srpm_leaves_its_spec_and_srpm_in_the_chroot_directory(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    srpm = make_srpm("greeting.spec", tmp_path / "srpm")
    built = server.copr_cli(alice, "build", "demo", str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    build_id = build_id_of(built.stdout)
    base = f"{server.url}/results/alice/demo"
    listing = httpx.get(f"{base}/{CHROOT}/{build_id:08d}-greeting/").text
    for name in ("greeting-1.0-1.src.rpm", "greeting.spec", "backend.log.gz", "success"):
        assert name in listing, name
    # The source step's directory holds them too, as Copr's srpm-builds do.
    source = httpx.get(f"{base}/srpm-builds/{build_id:08d}/").text
    for name in ("greeting-1.0-1.src.rpm", "greeting.spec", "success", "build.info"):
        assert name in source, name


def test_a_failed_build_keeps_its_spec_and_logs(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "failing.spec"
    spec.write_text(
        (DATA / "greeting.spec")
        .read_text()
        .replace("Name:           greeting", "Name: failing")
        .replace('echo "Hello from coprd" > hello.txt', "exit 1")
    )
    built = server.copr_cli(alice, "build", "demo", str(spec))
    assert built.returncode == 4, built.stdout + built.stderr  # the build failed
    build_id = build_id_of(built.stdout)
    got = server.copr_cli(alice, "download-build", str(build_id), "--dest", str(tmp_path / "d"))
    assert got.returncode == 0, got.stderr
    assert downloaded(tmp_path / "d" / CHROOT) == [
        "backend.log.gz",
        "build.info",
        "builder-live.log.gz",
        "failing.spec",
        "root.log.gz",
    ]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("notes.txt", "Name: x\n", "only .src.rpm, .nosrc.rpm and .spec files can be uploaded"),
        ("binary.spec", "Name: x\n\0\0\0", "binary.spec is not a spec file"),
        ("empty.spec", "# nothing here\n", "empty.spec is not a spec file"),
    ],
)
def test_bad_uploads_are_refused_and_change_nothing(
    server: Server, alice: Path, tmp_path: Path, name: str, content: str, error: str
) -> None:
    before = builds_of(server, alice)
    path = tmp_path / name
    path.write_text(content)
    refused = server.copr_cli(alice, "build", "demo", str(path))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert error in refused.stderr
    assert builds_of(server, alice) == before


def test_a_nosrc_rpm_is_accepted(server: Server, alice: Path, tmp_path: Path) -> None:
    # An SRPM without the sources marked NoSource: here one the build does not need.
    top = tmp_path / "top"
    (top / "SOURCES").mkdir(parents=True)
    (top / "SOURCES" / "big.tar").write_text("big\n")
    spec = tmp_path / "nosrc.spec"
    spec.write_text(
        (DATA / "greeting.spec")
        .read_text()
        .replace("Name:           greeting", "Name: nosrc\nSource0: big.tar\nNoSource: 0")
    )
    subprocess.run(
        ["rpmbuild", "-bs", str(spec), "--define", f"_topdir {top}", "--define", "dist %{nil}"],
        check=True,
        capture_output=True,
    )
    (nosrc,) = (top / "SRPMS").glob("*.nosrc.rpm")
    built = server.copr_cli(alice, "build", "demo", str(nosrc))
    assert built.returncode == 0, built.stdout + built.stderr
    assert "succeeded" in built.stdout
