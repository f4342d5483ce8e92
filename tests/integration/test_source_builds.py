"""Every source type end to end: copr-cli → server → agent → SRPM in the sandbox → RPMs.

One server with two local agents, whose PyPI index, RubyGems source and dist-git are
loopback servers of this process (``tests/sources/servers.py``), as is every git
repository. Every build is submitted at once (``--nowait``) and waited for over the API;
the tests then check each one: the packages dnf installs from the project's repository,
the content of the generated Python and Ruby packages, and for bad input or a source that
tries to escape the sandbox, a failed build whose source log says why.
"""

from __future__ import annotations

import io
import secrets
import shlex
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import CHROOT, dnf_install
from tests.integration.test_sandbox_builds import fetch_log, submitted_id, wait_ended
from tests.sources.servers import (
    DistGit,
    FileServer,
    GemSource,
    GitHost,
    PypiIndex,
    make_gem,
    make_sdist,
)
from tests.sources.specs import data_spec

pytestmark = pytest.mark.integration

MAKEFILE = """\
srpm:
\trpmbuild -bs --define "_sourcedir $(CURDIR)" --define "_srcrpmdir $(outdir)" \\
\t    --define "dist %{nil}" $(spec)
"""


@dataclass
class Submitted:
    server: Server
    config: Path
    ids: dict[str, int] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    nonce: str = ""
    urls: dict[str, str] = field(default_factory=dict)

    def log(self, name: str) -> str:
        build_id = self.ids[name]
        return fetch_log(
            f"{self.server.url}/results/alice/demo/srpm-builds/{build_id:08d}/builder-live.log.gz"
        )


@dataclass
class Upstreams:
    """The internet, as far as these builds are concerned: loopback servers."""

    git: GitHost
    files: FileServer
    pypi: PypiIndex
    gems: GemSource
    distgit: DistGit


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstreams]:
    tmp = tmp_path_factory.mktemp("upstreams")
    made = Upstreams(
        GitHost(tmp / "git"),
        FileServer(tmp / "files"),
        PypiIndex(tmp / "pypi"),
        GemSource(tmp / "gems"),
        DistGit(tmp / "distgit"),
    )
    yield made
    for closable in (made.git, made.files, made.pypi, made.gems, made.distgit):
        closable.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, upstreams: Upstreams) -> Iterator[Server]:
    env = {
        "COPRD_PYPI_INDEX": upstreams.pypi.url,
        "COPRD_RUBYGEMS_SOURCE": upstreams.gems.url,
        "COPRD_DISTGIT_URL": upstreams.distgit.url,
    }
    srv = start_server(tmp_path_factory.mktemp("coprd-sources"), builders=2, env=env)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def submitted(
    server: Server, upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
) -> Submitted:
    """Every build of this module, submitted with copr-cli --nowait and waited for."""
    tmp = tmp_path_factory.mktemp("source-inputs")
    config = server.add_user("alice")
    created = server.copr_cli(config, "create", "demo", "--chroot", CHROOT)
    assert created.returncode == 0, created.stderr
    out = Submitted(server, config, nonce=secrets.token_hex(4))
    git_host, files_server = upstreams.git, upstreams.files

    (files_server.root / "remote.txt").write_text("fetched from a Source URL\n")
    rpkg = git_host.create(
        "scmhello",
        {
            "scmhello.spec": data_spec(
                "scmhello", sources=("hello.txt", f"{files_server.url}/remote.txt")
            ),
            "hello.txt": "hello from git\n",
        },
        branches={"stable": {"hello.txt": "hello from the stable branch\n"}},
    )
    make = git_host.create(
        "makehello",
        {
            ".copr/Makefile": MAKEFILE,
            "rpm/makehello.spec": data_spec("makehello"),
            "rpm/hello.txt": "hello from make srpm\n",
        },
    )
    nospec = git_host.create("nospec", {"README": "no spec here\n"})
    data = server.data_dir
    escape_make = git_host.create(
        "escapemake",
        {
            ".copr/Makefile": (
                "srpm:\n"
                f"\t-cat {shlex.quote(str(data / 'builder-local.token'))}\n"
                f"\ttouch /usr/escaped-make-{out.nonce}\n"
            )
        },
    )
    upstreams.pypi.add(make_sdist(tmp, "demo-pkg", "1.0"), "demo-pkg")
    upstreams.gems.add(make_gem(tmp, "hola", "0.1.0", summary="Hola!"), "hola", "0.1.0")
    upstreams.distgit.add(
        "dghello",
        {"dghello.spec": data_spec("dghello", "3.0", sources=("dghello-3.0.txt",))},
        {"dghello-3.0.txt": b"hello from the lookaside cache\n"},
    )
    custom_spec = data_spec("customhello", "2.0", sources=("made.txt",))
    custom = tmp / "custom.sh"
    custom.write_text(
        "#!/bin/sh\nset -e\nmkdir -p results && cd results\n"
        'echo "made by a script for $COPR_OWNER/$COPR_PROJECT" > made.txt\n'
        f"cat > customhello.spec <<'EOF'\n{custom_spec}\nEOF\n"
    )
    escape_custom = tmp / "escape.sh"
    escape_custom.write_text(
        f"#!/bin/sh\nls {shlex.quote(str(data))}\ntouch /usr/escaped-custom-{out.nonce}\n"
    )
    out.urls = {"rpkg": rpkg.url}

    commands = {
        "rpkg": ["buildscm", "--clone-url", rpkg.url, "--commit", "stable"],
        "make_srpm": [
            *("buildscm", "--clone-url", make.url, "--method", "make_srpm", "--subdir", "rpm")
        ],
        "pypi": ["buildpypi", "--packagename", "demo-pkg"],
        "gem": ["buildgem", "--gem", "hola"],
        "custom": [
            *("buildcustom", "--script", str(custom), "--script-resultdir", "results"),
            *("--script-builddeps", "gcc"),
        ],
        "distgit": ["build-distgit", "--name", "dghello"],
        "escape-make": ["buildscm", "--clone-url", escape_make.url, "--method", "make_srpm"],
        "escape-custom": ["buildcustom", "--script", str(escape_custom)],
        "bad-committish": ["buildscm", "--clone-url", rpkg.url, "--commit", "no-such-branch"],
        "no-spec": ["buildscm", "--clone-url", nospec.url],
        "no-pypi": ["buildpypi", "--packagename", "no-such-project"],
        "no-gem": ["buildgem", "--gem", "no-such-gem"],
    }
    for name, command in commands.items():
        built = server.copr_cli(config, command[0], "--nowait", "demo", *command[1:])
        assert built.returncode == 0, f"{name}: {built.stdout}{built.stderr}"
        out.ids[name] = submitted_id(built.stdout)
    for name, build_id in out.ids.items():
        out.states[name] = wait_ended(server, build_id)
    return out


SUCCEEDING = ["rpkg", "make_srpm", "pypi", "gem", "custom", "distgit"]


@pytest.mark.parametrize("name", SUCCEEDING)
def test_source_type_builds(submitted: Submitted, name: str) -> None:
    state = submitted.states[name]
    assert state == "succeeded", submitted.log(name)
    build = httpx.get(f"{submitted.server.url}/api_3/build/{submitted.ids[name]}").json()
    assert build["source_package"]["name"] in (
        "scmhello",
        "makehello",
        "python-demo-pkg",
        "rubygem-hola",
        "customhello",
        "dghello",
    )
    status = submitted.server.copr_cli(submitted.config, "status", str(submitted.ids[name]))
    assert status.stdout.strip() == "succeeded"


def test_the_built_packages_install_with_dnf(submitted: Submitted, tmp_path: Path) -> None:
    for name in ("rpkg", "make_srpm", "custom", "distgit"):
        assert submitted.states[name] == "succeeded", submitted.log(name)
    root = dnf_install(
        submitted.server, tmp_path / "root", "scmhello", "makehello", "customhello", "dghello"
    )
    share = root / "usr" / "share"
    # --commit stable: the branch's file, and the Source URL fetched by rpmbuild.
    assert (share / "scmhello" / "hello.txt").read_text() == "hello from the stable branch\n"
    assert (share / "scmhello" / "remote.txt").read_text() == "fetched from a Source URL\n"
    assert (share / "makehello" / "hello.txt").read_text() == "hello from make srpm\n"
    assert (share / "customhello" / "made.txt").read_text() == ("made by a script for alice/demo\n")
    assert (share / "dghello" / "dghello-3.0.txt").read_text() == (
        "hello from the lookaside cache\n"
    )


def built_rpm(submitted: Submitted, name: str) -> tuple[str, bytes]:
    build_id = submitted.ids[name]
    built = httpx.get(f"{submitted.server.url}/api_3/build/built-packages/{build_id}").json()
    (package,) = built[CHROOT]["packages"]
    filename = f"{package['name']}-{package['version']}-{package['release']}.{package['arch']}.rpm"
    source = httpx.get(f"{submitted.server.url}/api_3/build/{build_id}").json()
    pkg_dir = f"{build_id:08d}-{source['source_package']['name']}"
    url = f"{submitted.server.url}/results/alice/demo/{CHROOT}/{pkg_dir}/{filename}"
    response = httpx.get(url)
    assert response.status_code == 200, url
    return filename, response.content


def rpm_query(rpm: bytes, *args: str) -> str:
    return subprocess.run(
        ["rpm", "-qp", *args, "/dev/stdin"],
        input=rpm,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()


def payload(rpm: bytes) -> list[str]:
    archive = subprocess.run(
        ["rpm2archive", "-"], input=rpm, capture_output=True, check=True, timeout=60
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return sorted(tar.getnames())


def test_the_pypi_package(submitted: Submitted) -> None:
    assert submitted.states["pypi"] == "succeeded", submitted.log("pypi")
    filename, rpm = built_rpm(submitted, "pypi")
    assert filename.startswith("python3-demo-pkg-1.0-1.") and filename.endswith(".noarch.rpm")
    files = payload(rpm)
    assert "./usr/bin/demo-pkg" in files
    assert any(f.endswith("/demo_pkg/__init__.py") for f in files), files
    # The console script's interpreter is what the package needs at run time.
    assert "/usr/bin/python3" in rpm_query(rpm, "--requires").split()
    log = submitted.log("pypi")
    assert "[coprd-agent] demo-pkg-1.0.tar.gz: demo-pkg 1.0, pure Python (noarch)" in log


def test_the_rubygems_package(submitted: Submitted) -> None:
    assert submitted.states["gem"] == "succeeded", submitted.log("gem")
    filename, rpm = built_rpm(submitted, "gem")
    assert filename.startswith("rubygem-hola-0.1.0-1.") and filename.endswith(".noarch.rpm")
    files = payload(rpm)
    assert "./usr/share/gems/gems/hola-0.1.0/lib/hola.rb" in files
    assert "./usr/share/gems/specifications/hola-0.1.0.gemspec" in files
    assert rpm_query(rpm, "--qf", "%{SUMMARY} %{LICENSE}") == "Hola! MIT"


def test_builddeps_are_logged_as_not_installed(submitted: Submitted) -> None:
    log = submitted.log("custom")
    assert "[coprd-agent] this builder cannot install packages for the script; " in log
    assert "not installed: gcc" in log


@pytest.mark.parametrize(
    ("name", "refusals"),
    [
        (
            "escape-make",
            [
                "builder-local.token: No such file or directory",
                "/usr/escaped-make-@NONCE@': Read-only file system",
            ],
        ),
        (
            "escape-custom",
            [
                "ls: cannot access '@DATA@': No such file or directory",
                "/usr/escaped-custom-@NONCE@': Read-only file system",
            ],
        ),
    ],
)
def test_sources_cannot_escape_the_sandbox(
    submitted: Submitted, name: str, refusals: list[str]
) -> None:
    assert submitted.states[name] == "failed"
    log = submitted.log(name)
    for refusal in refusals:
        text = refusal.replace("@NONCE@", submitted.nonce)
        text = text.replace("@DATA@", str(submitted.server.data_dir))
        assert text in log, log
    token = (submitted.server.data_dir / "builder-local.token").read_text().strip()
    assert token not in log
    assert not Path(f"/usr/escaped-make-{submitted.nonce}").exists()
    assert not Path(f"/usr/escaped-custom-{submitted.nonce}").exists()


def test_bad_input_fails_with_a_log_naming_the_problem(submitted: Submitted) -> None:
    rpkg = submitted.urls["rpkg"]
    pypi = submitted.server.env["COPRD_PYPI_INDEX"]
    gems = submitted.server.env["COPRD_RUBYGEMS_SOURCE"]
    expected = {
        "bad-committish": f"the repository {rpkg} has no branch, tag or commit 'no-such-branch'",
        "no-spec": "no .spec file in 'checkout'",
        "no-pypi": (
            "PyPI has no project named 'no-such-project' (the PyPI index: "
            f"{pypi}/no-such-project/ answered 404 File not found)"
        ),
        "no-gem": (
            "RubyGems has no gem named 'no-such-gem' (the RubyGems source: "
            f"{gems}/api/v1/gems/no-such-gem.json answered 404 File not found)"
        ),
    }
    for name, message in expected.items():
        assert submitted.states[name] == "failed", name
        log = submitted.log(name)
        assert f"[coprd-agent] result: failed ({message})" in log.splitlines(), log
    watched = submitted.server.copr_cli(
        submitted.config, "watch-build", str(submitted.ids["no-pypi"])
    )
    assert watched.returncode == 4


def test_file_urls_are_refused(submitted: Submitted, tmp_path: Path) -> None:
    refused = submitted.server.copr_cli(
        submitted.config, "buildscm", "--nowait", "demo", "--clone-url", f"file://{tmp_path}"
    )
    assert refused.returncode == 1
    assert "file:// URLs are not accepted" in refused.stderr
