"""Local servers that stand in for the internet in source tests.

Each serves a directory over HTTP on this host's non-loopback address (a free port, a
thread of this process): source tasks run in a sandbox whose network reaches the outside
but not the host's loopback (``coprd/builder/network.py``), so 127.0.0.1 would be out of
their reach, as it is for a real builder.

* :class:`GitHost`: bare git repositories over git's dumb HTTP protocol
  (``git update-server-info``), at ``<url>/<path>.git``;
* :class:`PypiIndex`: a PEP 503 simple index (``<url>/simple/<project>/``) with sdists
  made here (:func:`make_sdist`);
* :class:`GemSource`: a RubyGems source (``<url>/api/v1/gems/<name>.json`` and
  ``<url>/gems/<name>-<version>.gem``) with gems made here (:func:`make_gem`);
* :class:`DistGit`: a dist-git laid out as Fedora's: ``<url>/<namespace>/<name>.git`` and
  the lookaside cache ``<url>/repo/pkgs/<namespace>/<name>/<file>/<hashtype>/<hash>/<file>``.

The fixtures at the end give one of each per test module; integration tests import them.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.network import host_address

Files = Mapping[str, str | bytes]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class FileServer:
    """A directory served over HTTP on this host's address by a thread of this process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        handler = partial(_QuietHandler, directory=str(root))
        address = host_address()
        self.httpd = ThreadingHTTPServer((address, 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{address}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def git(*args: str, cwd: Path | None = None) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout.strip()


def write_files(directory: Path, files: Files) -> None:
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        if name.endswith((".sh", "Makefile")) or name.startswith("bin/"):
            path.chmod(0o755)


@dataclass(frozen=True)
class GitRepo:
    url: str
    work: Path
    """A working clone; :meth:`GitHost.commit` adds commits and republishes."""
    bare: Path
    commit: str
    """The newest commit of the default branch ``main`` when it was made."""


class GitHost:
    """Bare repositories over git's dumb HTTP protocol."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.server = FileServer(tmp / "served")
        self.url = self.server.url

    def create(
        self,
        path: str,
        files: Files,
        *,
        tags: tuple[str, ...] = (),
        branches: Mapping[str, Files] | None = None,
    ) -> GitRepo:
        """A repository at ``<url>/<path>.git`` whose ``main`` holds ``files`` (tagged with
        ``tags``); each of ``branches`` adds its files in one more commit on that branch."""
        work = self.tmp / "work" / path
        work.mkdir(parents=True)
        git("init", "-q", "-b", "main", cwd=work)
        write_files(work, files)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "Initial commit", cwd=work)
        for tag in tags:
            git("tag", tag, cwd=work)
        for branch, extra in (branches or {}).items():
            git("checkout", "-q", "-b", branch, cwd=work)
            write_files(work, extra)
            git("add", "-A", cwd=work)
            git("commit", "-q", "-m", f"On {branch}", cwd=work)
            git("checkout", "-q", "main", cwd=work)
        bare = self.server.root / f"{path}.git"
        git("clone", "-q", "--bare", str(work), str(bare))
        git("update-server-info", cwd=bare)
        return GitRepo(f"{self.url}/{path}.git", work, bare, git("rev-parse", "HEAD", cwd=work))

    def commit(self, repo: GitRepo, files: Files, message: str = "More") -> str:
        """One more commit on ``main``, published; returns its hash."""
        write_files(repo.work, files)
        git("add", "-A", cwd=repo.work)
        git("commit", "-q", "-m", message, cwd=repo.work)
        git("push", "-q", str(repo.bare), "main", cwd=repo.work)
        git("update-server-info", cwd=repo.bare)
        return git("rev-parse", "HEAD", cwd=repo.work)

    def close(self) -> None:
        self.server.close()


class GitDaemon:
    """``git daemon`` on this host's address serving a directory of bare repositories
    (git://), for the smart protocol's shallow clones, which dumb HTTP cannot do."""

    def __init__(self, root: Path) -> None:
        address = host_address()
        with socket.socket() as sock:
            sock.bind((address, 0))
            port = int(sock.getsockname()[1])
        self.process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={root}",
                f"--listen={address}",
                f"--port={port}",
                str(root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"git://{address}:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((address, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise AssertionError("git daemon did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# -- PyPI ------------------------------------------------------------------------------


def make_sdist(
    out: Path,
    name: str,
    version: str,
    *,
    summary: str = "A package made by the tests",
    license: str = "MIT",
    module: str | None = None,
    extra: Files | None = None,
) -> Path:
    """A real, pip-installable sdist (setuptools) ``<name>-<version>.tar.gz`` in ``out``:
    PKG-INFO, pyproject.toml, setup.py and one module with a console script ``<name>``."""
    module = module or name.replace("-", "_").lower()
    top = f"{name}-{version}"
    pkg_info = (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: {summary}\n"
        "Home-page: https://example.com/" + name + "\n"
        f"License: {license}\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "\n"
        f"{summary}\n"
    )
    files: dict[str, str | bytes] = {
        "PKG-INFO": pkg_info,
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        ),
        "setup.py": (
            "from setuptools import setup\n"
            f"setup(name={name!r}, version={version!r}, description={summary!r},\n"
            f"      license={license!r}, packages=[{module!r}],\n"
            f"      entry_points={{'console_scripts': ['{name} = {module}:main']}})\n"
        ),
        f"{module}/__init__.py": (
            f'"""{summary}"""\n\n\ndef main() -> None:\n    print("{name} {version}")\n'
        ),
        **(extra or {}),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        _add_dir(tar, top)
        for relative, content in sorted(files.items()):
            _add_file(tar, f"{top}/{relative}", content)
    return path


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = 1_700_000_000
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, content: str | bytes, mode: int = 0o644) -> None:
    data = content.encode() if isinstance(content, str) else content
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


class PypiIndex:
    """A PEP 503 simple index: ``<url>/simple/<project>/`` links to ``<url>/packages/…``."""

    def __init__(self, tmp: Path) -> None:
        self.server = FileServer(tmp / "served")
        self.root = self.server.root
        self.url = f"{self.server.url}/simple"
        self.projects: dict[str, list[Path]] = {}

    def add(self, sdist: Path, project: str, *, yanked: bool = False) -> None:
        """Publish ``sdist`` (a file) under ``project`` (its normalized name)."""
        packages = self.root / "packages"
        packages.mkdir(exist_ok=True)
        shutil.copy(sdist, packages / sdist.name)
        marker = packages / f"{sdist.name}.yanked"
        if yanked:
            marker.touch()
        self.projects.setdefault(project, []).append(packages / sdist.name)
        links = []
        for path in self.projects[project]:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            extra = ' data-yanked=""' if (path.parent / f"{path.name}.yanked").exists() else ""
            href = f"../../packages/{path.name}#sha256={digest}"
            links.append(f'<a href="{html.escape(href)}"{extra}>{html.escape(path.name)}</a><br>')
        page = self.root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n")

    def close(self) -> None:
        self.server.close()


# -- RubyGems --------------------------------------------------------------------------


def _yaml_list(items: list[str], indent: str = "") -> str:
    if not items:
        return " []\n"
    return "\n" + "".join(f"{indent}- {json.dumps(i)}\n" for i in items)


def gem_metadata(
    name: str,
    version: str,
    *,
    summary: str,
    licenses: list[str],
    files: list[str],
    executables: list[str] | None = None,
    extensions: list[str] | None = None,
    dependencies: Mapping[str, str] | None = None,
    description: str = "",
) -> str:
    """A gem's ``metadata`` as RubyGems writes it: YAML with Ruby object tags."""
    deps = ""
    for dep, requirement in (dependencies or {}).items():
        op, _, ver = requirement.partition(" ")
        deps += (
            f"- !ruby/object:Gem::Dependency\n  name: {dep}\n"
            "  requirement: !ruby/object:Gem::Requirement\n    requirements:\n"
            f"    - - \"{op}\"\n      - !ruby/object:Gem::Version\n        version: '{ver}'\n"
            "  type: :runtime\n  prerelease: false\n"
            "  version_requirements: !ruby/object:Gem::Requirement\n    requirements:\n"
            f"    - - \"{op}\"\n      - !ruby/object:Gem::Version\n        version: '{ver}'\n"
        )
    return (
        "--- !ruby/object:Gem::Specification\n"
        f"name: {name}\n"
        "version: !ruby/object:Gem::Version\n"
        f"  version: {version}\n"
        "platform: ruby\n"
        "authors:\n- Test Author\n"
        "autorequire:\n"
        "bindir: bin\n"
        "cert_chain: []\n"
        "date: 2024-01-01 00:00:00.000000000 Z\n"
        "dependencies:" + (f"\n{deps}" if deps else " []\n") + ""
        f"description: {json.dumps(description or summary)}\n"
        "email: author@example.com\n"
        "executables:" + _yaml_list(executables or []) + ""
        "extensions:" + _yaml_list(extensions or []) + ""
        "extra_rdoc_files: []\n"
        "files:" + _yaml_list(files) + ""
        f"homepage: https://example.com/{name}\n"
        "licenses:" + _yaml_list(licenses) + ""
        "metadata: {}\n"
        "post_install_message:\n"
        "rdoc_options: []\n"
        "require_paths:\n- lib\n"
        "required_ruby_version: !ruby/object:Gem::Requirement\n"
        "  requirements:\n"
        '  - - ">="\n'
        "    - !ruby/object:Gem::Version\n"
        "      version: '2.7'\n"
        "required_rubygems_version: !ruby/object:Gem::Requirement\n"
        "  requirements:\n"
        '  - - ">="\n'
        "    - !ruby/object:Gem::Version\n"
        "      version: '0'\n"
        "requirements: []\n"
        "rubygems_version: 3.4.10\n"
        "signing_key:\n"
        "specification_version: 4\n"
        f"summary: {json.dumps(summary)}\n"
        "test_files: []\n"
    )


def make_gem(
    out: Path,
    name: str,
    version: str,
    *,
    summary: str = "A gem made by the tests",
    licenses: list[str] | None = None,
    files: Files | None = None,
    executables: list[str] | None = None,
    extensions: list[str] | None = None,
    dependencies: Mapping[str, str] | None = None,
) -> Path:
    """A real ``.gem`` file: a tar of metadata.gz, data.tar.gz and checksums.yaml.gz."""
    contents: Files = files or {f"lib/{name}.rb": f"module {name.capitalize()}; end\n"}
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for relative, content in sorted(contents.items()):
            mode = 0o755 if relative.startswith("bin/") else 0o644
            _add_file(tar, relative, content, mode)
    metadata = gzip.compress(
        gem_metadata(
            name,
            version,
            summary=summary,
            licenses=["MIT"] if licenses is None else licenses,
            files=sorted(contents),
            executables=executables,
            extensions=extensions,
            dependencies=dependencies,
        ).encode()
    )
    data_gz = data.getvalue()
    checksums = gzip.compress(
        (
            "---\nSHA256:\n"
            f"  metadata.gz: {hashlib.sha256(metadata).hexdigest()}\n"
            f"  data.tar.gz: {hashlib.sha256(data_gz).hexdigest()}\n"
        ).encode()
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{version}.gem"
    with tarfile.open(path, "w") as tar:
        _add_file(tar, "metadata.gz", metadata)
        _add_file(tar, "data.tar.gz", data_gz)
        _add_file(tar, "checksums.yaml.gz", checksums)
    return path


class GemSource:
    """A RubyGems source: the JSON API for each gem's newest version, and the gems."""

    def __init__(self, tmp: Path) -> None:
        self.server = FileServer(tmp / "served")
        self.root = self.server.root
        self.url = self.server.url

    def add(self, gem: Path, name: str, version: str) -> None:
        """Publish ``gem`` as the newest version of ``name``."""
        gems = self.root / "gems"
        gems.mkdir(exist_ok=True)
        shutil.copy(gem, gems / gem.name)
        info = {
            "name": name,
            "version": version,
            "platform": "ruby",
            "licenses": ["MIT"],
            "info": "A gem made by the tests",
            "sha": hashlib.sha256(gem.read_bytes()).hexdigest(),
            "gem_uri": f"{self.url}/gems/{gem.name}",
            "homepage_uri": f"https://example.com/{name}",
            "dependencies": {"development": [], "runtime": []},
        }
        api = self.root / "api" / "v1" / "gems"
        api.mkdir(parents=True, exist_ok=True)
        (api / f"{name}.json").write_text(json.dumps(info))

    def close(self) -> None:
        self.server.close()


# -- dist-git --------------------------------------------------------------------------


class DistGit:
    """A dist-git as Fedora lays it out (``COPRD_DISTGIT_URL`` = :attr:`url`)."""

    def __init__(self, tmp: Path) -> None:
        self.git = GitHost(tmp)
        self.root = self.git.server.root
        self.url = self.git.url
        self.lookaside = (
            self.url + "/repo/pkgs/{namespace}/{name}/{filename}/{hashtype}/{hash}/{filename}"
        )

    def add(
        self,
        name: str,
        files: Files,
        lookaside: Mapping[str, bytes],
        *,
        namespace: str = "rpms",
        old_format: bool = False,
        branches: Mapping[str, Files] | None = None,
    ) -> GitRepo:
        """``<namespace>/<name>.git`` with ``files`` and a ``sources`` file listing
        ``lookaside`` (uploaded to the lookaside cache, not committed)."""
        lines = []
        for filename, content in lookaside.items():
            kind = "md5" if old_format else "sha512"
            digest = hashlib.new(kind, content).hexdigest()
            target = self.root / "repo" / "pkgs" / namespace / name / filename / kind / digest
            target.mkdir(parents=True)
            (target / filename).write_bytes(content)
            lines.append(
                f"{digest}  {filename}" if old_format else f"SHA512 ({filename}) = {digest}"
            )
        return self.git.create(
            f"{namespace}/{name}",
            {**files, "sources": "".join(f"{line}\n" for line in lines)},
            branches=branches,
        )

    def close(self) -> None:
        self.git.close()


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def git_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHost]:
    host = GitHost(tmp_path_factory.mktemp("git-host"))
    yield host
    host.close()


@pytest.fixture(scope="module")
def pypi_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiIndex]:
    index = PypiIndex(tmp_path_factory.mktemp("pypi"))
    yield index
    index.close()


@pytest.fixture(scope="module")
def gem_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GemSource]:
    source = GemSource(tmp_path_factory.mktemp("rubygems"))
    yield source
    source.close()


@pytest.fixture(scope="module")
def dist_git(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistGit]:
    server = DistGit(tmp_path_factory.mktemp("dist-git"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def files_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileServer]:
    """Plain files over HTTP (Source URLs in specs)."""
    server = FileServer(tmp_path_factory.mktemp("files"))
    yield server
    server.close()
