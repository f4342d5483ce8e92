"""The build sandbox, end to end: copr-cli → server → agent → bubblewrap → results.

Each package's %build tries one thing a build must not do: read the server's data directory
or database, write outside its build directory, or open a network connection. Each build
fails, its ``builder-live.log`` says why in the words of the tool that was refused, and
nothing of it happened on the host. In a project with ``--enable-net on`` a build reaches the
server over the network and packages what it got.
"""

from __future__ import annotations

import gzip
import io
import secrets
import shlex
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import CHROOT, make_srpm
from tests.network import host_address

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

TERMINAL = {"succeeded", "failed", "canceled", "skipped"}

SPEC = """\
Name:           @NAME@
Version:        1
Release:        1
Summary:        Probes the build sandbox
License:        MIT
BuildArch:      noarch

%description
Tries one thing in %%build and packages what it saw.

%build
@BUILD@

%install
install -D -m 0644 got.txt %{buildroot}%{_datadir}/@NAME@/got.txt

%files
%{_datadir}/@NAME@/got.txt
"""


def write_srpm(name: str, build: str, out: Path) -> Path:
    """A source package whose %build runs ``build`` (shell) and packages ``got.txt``."""
    spec = out / f"{name}.spec"
    out.mkdir(parents=True, exist_ok=True)
    spec.write_text(SPEC.replace("@NAME@", name).replace("@BUILD@", build))
    return make_srpm(spec, out / "srpm")


def wait_ended(server: Server, build_id: int, timeout_s: float = 180) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        state = str(httpx.get(f"{server.url}/api_3/build/{build_id}").json()["state"])
        if state in TERMINAL:
            return state
        assert time.monotonic() < deadline, f"build {build_id} is still {state}"
        time.sleep(0.3)


def fetch_log(url: str) -> str:
    """A ``builder-live.log.gz`` over HTTP, as text (gzip undone by httpx or here)."""
    response = httpx.get(url)
    assert response.status_code == 200, url
    data = response.content
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode(errors="replace")


def submitted_id(stdout: str) -> int:
    return int(stdout.split("Created builds: ")[1].split()[0])


@dataclass
class Case:
    """One forbidden thing: the %build script, the log line saying it was refused, and the
    host paths that must not exist afterwards."""

    build: str
    refusal: str
    not_on_host: list[Path] = field(default_factory=list)
    not_in_log: list[str] = field(default_factory=list)


def forbidden_cases(server: Server) -> dict[str, Case]:
    data = server.data_dir
    token = data / "builder-local.token"
    port = int(server.url.rsplit(":", 1)[1])
    nonce = secrets.token_hex(4)
    cases = {
        # The agent's builder token: with it a build could claim and fake other tasks.
        "read-token": Case(
            f"cat {shlex.quote(str(token))} > got.txt",
            f"cat: {token}: No such file or directory",
            not_in_log=[token.read_text().strip()],
        ),
        "list-datadir": Case(
            f"ls -la {shlex.quote(str(data))} > got.txt",
            f"ls: cannot access '{data}': No such file or directory",
            not_in_log=["builder-local.token"],
        ),
        "write-usr": Case(
            f"touch /usr/escaped-{nonce}",
            f"touch: cannot touch '/usr/escaped-{nonce}': Read-only file system",
            not_on_host=[Path(f"/usr/escaped-{nonce}")],
        ),
        "write-etc": Case(
            f"echo pwned > /etc/escaped-{nonce}",
            f"/etc/escaped-{nonce}: Read-only file system",
            not_on_host=[Path(f"/etc/escaped-{nonce}")],
        ),
        # $HOME is the build directory; its parent is the sandbox's read-only root, not the
        # agent's work directory on the host.
        "write-home-parent": Case(
            f'touch "$HOME/../escaped-{nonce}"',
            f"touch: cannot touch '/builddir/../escaped-{nonce}': Read-only file system",
        ),
        "write-results": Case(
            f"touch {shlex.quote(str(data / 'results' / f'escaped-{nonce}'))}",
            f"touch: cannot touch '{data / 'results' / f'escaped-{nonce}'}': "
            "No such file or directory",
            not_on_host=[data / "results" / f"escaped-{nonce}"],
        ),
        # The server itself, on the host's loopback: the sandbox's own loopback has nothing
        # listening, so the connection is refused rather than reaching coprd.
        "connect-server": Case(
            f"bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' > got.txt",
            f"/dev/tcp/127.0.0.1/{port}: Connection refused",
        ),
        # ... nor at the host's other address, where it listens too: without network the
        # sandbox has no route anywhere.
        "connect-server-address": Case(
            f"bash -c 'exec 3<>/dev/tcp/{host_address()}/{port}' > got.txt",
            f"/dev/tcp/{host_address()}/{port}: Network is unreachable",
        ),
    }
    database = server.env.get("COPRD_DATABASE_URL")
    if database:
        url = make_url(database)
        host, db_port = url.host or "127.0.0.1", url.port or 5432
        cases["connect-database"] = Case(
            f"bash -c 'exec 3<>/dev/tcp/{host}/{db_port}' > got.txt",
            f"/dev/tcp/{host}/{db_port}: Connection refused",
        )
    else:
        sqlite = data / "coprd.sqlite"
        cases["read-database"] = Case(
            f"cp {shlex.quote(str(sqlite))} got.txt",
            f"cp: cannot stat '{sqlite}': No such file or directory",
        )
    return cases


# With the network on, the build fetches the project from the server, at the host's
# address, and packages the reply; the server on the host's loopback stays out of reach.
NET_BUILD = (
    "(bash -c 'exec 3<>/dev/tcp/127.0.0.1/@PORT@' && echo loopback-reached "
    "|| echo loopback-refused)\n"
    "bash -c 'exec 3<>/dev/tcp/@HOST@/@PORT@ && "
    'printf "GET /api_3/project?ownername=alice&projectname=net HTTP/1.0\\r\\n\\r\\n" >&3 && '
    "cat <&3' > got.txt\n"
    "cat got.txt"
)


@dataclass
class Submitted:
    cases: dict[str, Case]
    ids: dict[str, int]
    net_id: int
    config: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-sandbox"), builders=2, bind="0.0.0.0")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def submitted(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Submitted:
    """Every probe submitted at once (copr-cli --nowait), then waited for over the API."""
    config = server.add_user("alice")
    for project, net in (("demo", "off"), ("net", "on")):
        created = server.copr_cli(
            config, "create", project, "--chroot", CHROOT, "--enable-net", net
        )
        assert created.returncode == 0, created.stderr
    tmp = tmp_path_factory.mktemp("sandbox-specs")
    cases = forbidden_cases(server)
    ids = {}
    for name, case in cases.items():
        srpm = write_srpm(name, case.build, tmp / name)
        built = server.copr_cli(config, "build", "--nowait", "demo", str(srpm))
        assert built.returncode == 0, built.stdout + built.stderr
        ids[name] = submitted_id(built.stdout)
    port = server.url.rsplit(":", 1)[1]
    script = NET_BUILD.replace("@PORT@", port).replace("@HOST@", host_address())
    srpm = write_srpm("netprobe", script, tmp / "netprobe")
    built = server.copr_cli(config, "build", "--nowait", "net", str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    net_id = submitted_id(built.stdout)
    for build_id in [*ids.values(), net_id]:
        wait_ended(server, build_id)
    return Submitted(cases, ids, net_id, config)


CASE_NAMES = [
    "read-token",
    "list-datadir",
    "read-database",
    "connect-database",
    "write-usr",
    "write-etc",
    "write-home-parent",
    "write-results",
    "connect-server",
    "connect-server-address",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_forbidden_build_fails_and_says_why(
    server: Server, submitted: Submitted, name: str
) -> None:
    if name not in submitted.cases:
        pytest.skip("this database has no such case (SQLite: a file; PostgreSQL: a port)")
    case = submitted.cases[name]
    build_id = submitted.ids[name]
    # copr-cli sees a failed build (exit status 4), as a user watching it would.
    watched = server.copr_cli(submitted.config, "watch-build", str(build_id))
    assert watched.returncode == 4, watched.stdout + watched.stderr
    assert f"Build {build_id}: failed" in watched.stdout

    chroot = httpx.get(
        f"{server.url}/api_3/build-chroot", params={"build_id": build_id, "chrootname": CHROOT}
    ).json()
    assert chroot["state"] == "failed"
    results = f"{server.url}/results/alice/demo/{CHROOT}/{build_id:08d}-{name}"
    log = fetch_log(f"{results}/builder-live.log.gz")
    # The refused tool's own words, as the last thing on a line (a shell prefixes its
    # script's name and line: dash "…: 28: cannot create X", bash "…: line 28: X").
    assert any(line.endswith(case.refusal) for line in log.splitlines()), log
    assert "network off" in log
    assert "error: Bad exit status from" in log and "(%build)" in log
    assert "[coprd] failed: rpmbuild exited with status 1" in log, log
    for text in case.not_in_log:
        assert text not in log
    for path in case.not_on_host:
        assert not path.exists(), f"the build wrote {path} on the host"
    # No package of it was published.
    listing = httpx.get(f"{results}/")
    assert ".noarch.rpm" not in listing.text


def test_nothing_escaped_into_the_data_dir(server: Server, submitted: Submitted) -> None:
    assert list(server.data_dir.rglob("escaped-*")) == []
    assert (server.data_dir / "builder-local.token").is_file()


def test_build_with_network_reaches_the_server(server: Server, submitted: Submitted) -> None:
    build_id = submitted.net_id
    watched = server.copr_cli(submitted.config, "watch-build", str(build_id))
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert f"Build {build_id}: succeeded" in watched.stdout

    results = f"{server.url}/results/alice/net/{CHROOT}/{build_id:08d}-netprobe"
    log = fetch_log(f"{results}/builder-live.log.gz")
    assert "network on" in log
    assert "loopback-refused" in log and "loopback-reached" not in log

    rpm = httpx.get(f"{results}/netprobe-1-1.noarch.rpm")
    assert rpm.status_code == 200
    got = packaged_file(rpm.content, "./usr/share/netprobe/got.txt")
    assert got.startswith("HTTP/1.1 200 OK\r\n"), got
    assert '"full_name":"alice/net"' in got.replace(" ", ""), got
    # The server saw the request come in.
    assert (
        '"GET /api_3/project?ownername=alice&projectname=net HTTP/1.0" 200' in server.server_log()
    )


def packaged_file(rpm: bytes, member: str) -> str:
    """One file's content from a binary RPM (``rpm2archive`` turns it into a tar)."""
    archive = subprocess.run(
        ["rpm2archive", "-"], input=rpm, capture_output=True, check=True, timeout=60
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        extracted = tar.extractfile(member)
        assert extracted is not None, tar.getnames()
        return extracted.read().decode()
