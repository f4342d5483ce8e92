"""PyPI sources: a simple index on loopback, real sdists, a spec written by coprd."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from coprd.builder.srpm import inspect_srpm
from coprd.sources.common import SourceFailed
from coprd.sources.pypi import IndexFile, choose_sdist, parse_index, read_sdist, rpm_version
from tests.sources.conftest import RunSource, build_locally, requires_tools
from tests.sources.servers import PypiIndex, make_sdist
from tests.sources.specs import parsed, spec_of, srpm_files, srpm_query

pytestmark = requires_tools


def pypi(name: str, version: str | None = None) -> dict[str, object]:
    return {
        "pypi_package_name": name,
        "pypi_package_version": version,
        "spec_generator": "pyp2spec",
        "spec_template": "",
        "python_versions": ["3"],
    }


@pytest.fixture(scope="module")
def index(pypi_index: PypiIndex, tmp_path_factory: pytest.TempPathFactory) -> PypiIndex:
    out = tmp_path_factory.mktemp("sdists")
    for version in ("0.9", "1.0", "2.0rc1"):
        pypi_index.add(make_sdist(out, "Demo_Pkg", version), "demo-pkg")
    pypi_index.add(make_sdist(out, "Demo_Pkg", "1.5"), "demo-pkg", yanked=True)
    pypi_index.add(
        make_sdist(out, "fastthing", "0.1", extra={"fastthing/_speed.c": "int x;\n"}),
        "fastthing",
    )
    pypi_index.add(make_sdist(out, "nolicense", "1.0", license=""), "nolicense")
    pypi_index.add(
        make_sdist(out, "percent", "1.0", summary="100% %(touch /tmp/pwned) %{?dist} sure"),
        "percent",
    )
    return pypi_index


def test_latest_final_version_becomes_an_srpm(index: PypiIndex, run_source: RunSource) -> None:
    outcome = run_source("pypi", pypi("Demo.Pkg"), pypi_index=index.url)
    srpm = outcome.ok()
    # 2.0rc1 is a pre-release and 1.5 is yanked: 1.0 is the newest to build.
    assert srpm.name == "python-demo-pkg-1.0-1.src.rpm"
    assert srpm_files(srpm) == ["Demo_Pkg-1.0.tar.gz", "python-demo-pkg.spec"]
    spec = spec_of(srpm, "python-demo-pkg.spec")
    assert "Name:           python-demo-pkg" in spec
    assert "%package -n python3-demo-pkg" in spec
    assert "BuildArch:      noarch" in spec
    assert "License:        MIT" in spec
    assert "URL:            https://example.com/Demo_Pkg" in spec
    assert f"Source0:        {index.server.url}/packages/Demo_Pkg-1.0.tar.gz" in spec
    assert "%autosetup -n Demo_Pkg-1.0" in spec
    assert f"looking up Demo.Pkg in {index.url}/demo-pkg/" in outcome.log
    assert "spec_generator pyp2spec and spec_template - are not used" in outcome.log


def test_requested_versions(index: PypiIndex, run_source: RunSource) -> None:
    pre = run_source("pypi", pypi("demo-pkg", "2.0rc1"), pypi_index=index.url).ok()
    assert pre.name == "python-demo-pkg-2.0~rc1-1.src.rpm"
    yanked = run_source("pypi", pypi("demo-pkg", "1.5"), pypi_index=index.url).ok()
    assert inspect_srpm(yanked).version == "1.5"
    missing = run_source("pypi", pypi("demo-pkg", "7.0"), pypi_index=index.url)
    assert missing.error == (
        "the index has no sdist of demo-pkg version 7.0 (newest versions: 2.0rc1, 1.5, 1.0, 0.9)"
    )


def test_unknown_project_fails_naming_it(index: PypiIndex, run_source: RunSource) -> None:
    outcome = run_source("pypi", pypi("no-such-project"), pypi_index=index.url)
    assert outcome.error == (
        "PyPI has no project named 'no-such-project' (the PyPI index: "
        f"{index.url}/no-such-project/ answered 404 File not found)"
    )


def test_compiled_code_is_not_noarch(index: PypiIndex, run_source: RunSource) -> None:
    outcome = run_source("pypi", pypi("fastthing"), pypi_index=index.url)
    spec = spec_of(outcome.ok(), "python-fastthing.spec")
    assert "BuildArch" not in spec.replace("# C, C++, Cython or Rust", "")
    assert "with compiled code" in outcome.log


def test_metadata_text_is_not_expanded_by_rpm(index: PypiIndex, run_source: RunSource) -> None:
    srpm = run_source("pypi", pypi("percent"), pypi_index=index.url).ok()
    summary = srpm_query(srpm, "%{SUMMARY}")
    assert summary == "100% %(touch /tmp/pwned) %{?dist} sure"


def test_no_license_fails(index: PypiIndex, run_source: RunSource) -> None:
    outcome = run_source("pypi", pypi("nolicense"), pypi_index=index.url)
    assert outcome.error is not None
    assert "declares no license" in outcome.error


def test_the_generated_spec_builds_and_installs_with_pip(
    index: PypiIndex, run_source: RunSource, tmp_path: Path
) -> None:
    """On this host (no pyproject macros) the package builds with pip in the sandbox."""
    srpm = run_source("pypi", pypi("demo-pkg"), pypi_index=index.url).ok()
    rpm = build_locally(srpm, tmp_path)
    assert rpm.name == "python3-demo-pkg-1.0-1.fc45.noarch.rpm"
    files = subprocess.run(
        ["rpm", "-qpl", str(rpm)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "/usr/bin/Demo_Pkg" in files  # the sdist's console script
    assert any(f.endswith("/demo_pkg/__init__.py") for f in files), files
    assert any(f.endswith(".dist-info/METADATA") for f in files), files


def test_parse_pep_691_json() -> None:
    page = "https://pypi.example/simple/x/"
    content = json.dumps(
        {
            "meta": {"api-version": "1.0"},
            "name": "x",
            "files": [
                {"filename": "x-1.0.tar.gz", "url": "../../f/x-1.0.tar.gz", "hashes": {}},
                {
                    "filename": "x-1.1.tar.gz",
                    "url": "https://files.example/x-1.1.tar.gz",
                    "hashes": {"sha256": "ab"},
                    "yanked": "broken",
                },
            ],
        }
    ).encode()
    files = parse_index(content, "application/vnd.pypi.simple.v1+json", page)
    assert files == [
        IndexFile("x-1.0.tar.gz", "https://pypi.example/f/x-1.0.tar.gz", {}, False),
        IndexFile("x-1.1.tar.gz", "https://files.example/x-1.1.tar.gz", {"sha256": "ab"}, True),
    ]
    assert choose_sdist(files, "x", None).filename == "x-1.0.tar.gz"


def test_parse_pep_503_html() -> None:
    page = "https://pypi.example/simple/x/"
    html = (
        b'<a href="/f/x-1.0-py3-none-any.whl#sha256=aa">x-1.0-py3-none-any.whl</a>'
        b'<a href="../../f/x-1.0.zip">x-1.0.zip</a>'
        b'<a href="https://o.example/x-1.0.tar.gz#sha256=bb" data-yanked="">x-1.0.tar.gz</a>'
    )
    files = parse_index(html, "text/html", page)
    assert [f.url for f in files] == [
        "https://pypi.example/f/x-1.0-py3-none-any.whl",
        "https://pypi.example/f/x-1.0.zip",
        "https://o.example/x-1.0.tar.gz",
    ]
    assert files[2].hashes == {"sha256": "bb"} and files[2].yanked
    # Unyanked first: the zip of 1.0, though a yanked tar.gz of it exists.
    assert choose_sdist(files, "x", "1.0").filename == "x-1.0.zip"
    with pytest.raises(SourceFailed, match="no source distribution"):
        choose_sdist(files[:1], "x", None)


@pytest.mark.parametrize(
    ("pep440", "rpm"),
    [
        ("1.0", "1.0"),
        ("1.0rc1", "1.0~rc1"),
        ("2.0a2", "2.0~a2"),
        ("1.0.post2", "1.0^post2"),
        ("1.0.dev3", "1.0~~dev3"),
        ("1!2.0", "2.0"),
    ],
)
def test_rpm_version(pep440: str, rpm: str) -> None:
    assert rpm_version(Version(pep440)) == rpm


def test_read_sdist_needs_pkg_info(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, "okpkg", "1.0")
    info = read_sdist(sdist)
    assert (info.topdir, info.name, info.version, info.license) == (
        "okpkg-1.0",
        "okpkg",
        "1.0",
        "MIT",
    )
    assert not info.archful
    broken = tmp_path / "broken-1.0.tar.gz"
    subprocess.run(["tar", "czf", str(broken), "-C", str(tmp_path), "okpkg-1.0.tar.gz"], check=True)
    with pytest.raises(SourceFailed, match=r"has no okpkg-1\.0\.tar\.gz/PKG-INFO"):
        read_sdist(broken)


PYPROJECT_MACROS = {
    "pyproject_wheel": "PYPROJECT-WHEEL",
    "pyproject_install": "PYPROJECT-INSTALL",
    "pyproject_save_files": "PYPROJECT-SAVE-FILES",
    "pyproject_buildrequires": "PYPROJECT-BUILDREQUIRES",
    "pyproject_files": "/builddir/pyproject-files",
}


def test_the_spec_uses_the_pyproject_macros_where_they_exist(
    index: PypiIndex, run_source: RunSource, tmp_path: Path
) -> None:
    spec = spec_of(
        run_source("pypi", pypi("demo-pkg"), pypi_index=index.url).ok(), "python-demo-pkg.spec"
    )
    fedora = parsed(spec, tmp_path, PYPROJECT_MACROS)
    assert "PYPROJECT-WHEEL" in fedora and "PYPROJECT-INSTALL" in fedora
    assert "PYPROJECT-SAVE-FILES '*' +auto" in fedora
    assert "PYPROJECT-BUILDREQUIRES" in fedora
    assert "pip install" not in fedora and "python3-pip" not in fedora
    assert "%files -n python3-demo-pkg -f /builddir/pyproject-files" in fedora
    elsewhere = parsed(spec, tmp_path)
    assert "PYPROJECT" not in elsewhere and "%generate_buildrequires" not in elsewhere
    assert "/usr/bin/python3 -m pip install --no-deps --no-build-isolation" in elsewhere
    assert "BuildRequires:  python3-pip" in elsewhere
