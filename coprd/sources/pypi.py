"""PyPI sources: a project's sdist from a PEP 503 simple index, with a spec written here.

The index page ``<pypi_index>/<normalized name>/`` is asked for PEP 691 JSON and read as
PEP 503 HTML otherwise. Of its source distributions (``.tar.gz``, ``.zip``) the one of the
requested version is taken, or else the newest that is neither a pre-release nor yanked.
The sdist's ``PKG-INFO`` gives the name, version, summary, license and home page.

Copr runs pyp2spec or pyp2rpm here. Neither fits a builder without internet: pyp2spec
reads metadata from pypi.org's JSON API or from a wheel, never from a given sdist, and
both generate specs that only build with Fedora's macros. So coprd writes its own spec,
in Fedora's naming (source package ``python-<name>``, binary ``python3-<name>``, names
normalized as PEP 503 does) and with two ways to build, chosen when the spec is built:

* where ``%pyproject_wheel`` is defined (Fedora, EL with pyproject-rpm-macros, mock
  chroots): ``%pyproject_buildrequires``, ``%pyproject_wheel``, ``%pyproject_install`` and
  ``%pyproject_save_files '*' +auto``, as pyp2spec's automatic mode does;
* elsewhere (this Debian host's local backend): ``python3 -m pip install --no-deps
  --no-build-isolation --no-index --root %{buildroot}``; the build backend the sdist names
  must then be installed on the builder (setuptools usually is), and the files list is
  every installed file plus the top-level entries of the site-packages directory.

``BuildArch: noarch`` is a guess from the sdist's contents: an sdist with no C, C++,
Cython or Rust source files (``*.c``, ``*.cc``, ``*.cpp``, ``*.cxx``, ``*.pyx``, ``*.rs``) is
taken to be pure Python. Runtime dependencies come from Fedora's Python dependency
generator where it is installed; the spec lists none itself. ``python_versions`` other than
3, ``spec_generator`` and ``spec_template`` are logged and not used.
"""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import InvalidVersion, Version

from coprd.sources.common import (
    FILE_NAME,
    Job,
    NotFound,
    SourceFailed,
    one_line,
    spec_escape,
    spec_line,
    spec_paragraph,
)

ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)
MAX_MEMBERS = 200_000
MAX_UNPACKED = 4 * 1024 * 1024 * 1024
"""Listing a .tar.gz decompresses it: past this many bytes of content, it is refused."""
MAX_PKG_INFO = 1024 * 1024
COMPILED_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs")
_TOPDIR = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+~-]{0,254}")
_RPM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,150}")


@dataclass(frozen=True)
class IndexFile:
    """One file an index page lists."""

    filename: str
    url: str
    hashes: dict[str, str]
    yanked: bool


@dataclass(frozen=True)
class Sdist:
    """What coprd reads from an sdist: its top directory, PKG-INFO, and whether it has
    compiled code."""

    topdir: str
    name: str
    version: str
    summary: str
    license: str
    url: str
    archful: bool


def parse_index(content: bytes, content_type: str, page_url: str) -> list[IndexFile]:
    """The files of a simple-index project page (PEP 691 JSON or PEP 503 HTML)."""
    if content_type.split(";")[0].strip() == "application/vnd.pypi.simple.v1+json":
        try:
            data = json.loads(content)
            files = []
            for entry in data["files"]:
                hashes = entry.get("hashes") or {}
                files.append(
                    IndexFile(
                        filename=str(entry["filename"]),
                        url=urljoin(page_url, str(entry["url"])),
                        hashes={str(k): str(v) for k, v in hashes.items()},
                        yanked=bool(entry.get("yanked")),
                    )
                )
            return files
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SourceFailed(f"the index page {page_url} is not valid PEP 691 JSON") from exc
    parser = _Links(page_url)
    parser.feed(content.decode("utf-8", errors="replace"))
    parser.close()
    return parser.files


class _Links(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.files: list[IndexFile] = []
        self._attrs: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._attrs = dict(attrs)
            self._text = []
        elif tag == "base" and self._attrs is None:
            href = dict(attrs).get("href")
            if href:
                self.page_url = urljoin(self.page_url, href)

    def handle_data(self, data: str) -> None:
        if self._attrs is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != "a" or self._attrs is None:
            return
        attrs, self._attrs = self._attrs, None
        href = attrs.get("href")
        if not href:
            return
        url = urljoin(self.page_url, href)
        parts = urlsplit(url)
        hashes = {}
        if "=" in parts.fragment:
            kind, _, value = parts.fragment.partition("=")
            hashes[kind] = value
        filename = "".join(self._text).strip() or unquote(PurePosixPath(parts.path).name)
        self.files.append(
            IndexFile(
                filename=filename,
                url=parts._replace(fragment="").geturl(),
                hashes=hashes,
                yanked="data-yanked" in attrs,
            )
        )


def choose_sdist(files: list[IndexFile], project: str, requested: str | None) -> IndexFile:
    """The sdist to build: of ``requested`` version, or the newest final, unyanked one."""
    candidates: list[tuple[Version, IndexFile]] = []
    for entry in files:
        try:
            name, version = parse_sdist_filename(entry.filename)
        except (InvalidSdistFilename, InvalidVersion):
            continue
        if canonicalize_name(name) == project:
            candidates.append((version, entry))
    if not candidates:
        raise SourceFailed(
            f"the index lists no source distribution (sdist) of {project}; "
            "coprd builds Python packages from sdists only"
        )

    def rank(item: tuple[Version, IndexFile]) -> tuple[bool, Version, bool]:
        # not yanked first, then the version, then .tar.gz over .zip
        return (not item[1].yanked, item[0], item[1].filename.endswith(".tar.gz"))

    if requested:
        try:
            wanted = Version(requested)
            matching = [c for c in candidates if c[0] == wanted]
        except InvalidVersion:
            matching = [c for c in candidates if str(c[0]) == requested]
        if not matching:
            known = sorted({c[0] for c in candidates}, reverse=True)[:10]
            raise SourceFailed(
                f"the index has no sdist of {project} version {requested} "
                f"(newest versions: {', '.join(str(v) for v in known)})"
            )
        return max(matching, key=rank)[1]
    final = [c for c in candidates if not c[1].yanked and not c[0].is_prerelease]
    if not final:
        raise SourceFailed(
            f"every sdist of {project} is a pre-release or yanked; ask for a version"
        )
    return max(final, key=rank)[1]


def read_sdist(path: Path) -> Sdist:
    """Top directory, PKG-INFO fields and a compiled-code guess, read without extracting."""
    names: list[str] = []
    pkg_info: bytes | None = None
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()[: MAX_MEMBERS + 1]
                wanted = _pkg_info_member(names)
                if wanted is not None:
                    with archive.open(wanted) as opened:
                        pkg_info = opened.read(MAX_PKG_INFO + 1)
        else:
            with tarfile.open(path, "r:*") as archive:
                members = []
                unpacked = 0
                for member in archive:
                    members.append(member)
                    unpacked += member.size
                    if len(members) > MAX_MEMBERS or unpacked > MAX_UNPACKED:
                        break
                if unpacked > MAX_UNPACKED:
                    raise SourceFailed(f"{path.name} unpacks to more than {MAX_UNPACKED} bytes")
                names = [m.name for m in members]
                wanted = _pkg_info_member(names)
                if wanted is not None:
                    info = next(m for m in members if m.name == wanted)
                    extracted = archive.extractfile(info) if info.isfile() else None
                    if extracted is not None:
                        pkg_info = extracted.read(MAX_PKG_INFO + 1)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise SourceFailed(f"{path.name} is not a readable archive: {exc}") from None
    if len(names) > MAX_MEMBERS:
        raise SourceFailed(f"{path.name} has more than {MAX_MEMBERS} files")
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    if len(tops) != 1:
        raise SourceFailed(f"{path.name} does not unpack into one top-level directory")
    topdir = tops.pop()
    if not _TOPDIR.fullmatch(topdir):
        raise SourceFailed(f"{path.name} unpacks into {topdir!r}, not a plain directory name")
    if pkg_info is None:
        raise SourceFailed(f"{path.name} has no {topdir}/PKG-INFO; it is not an sdist")
    if len(pkg_info) > MAX_PKG_INFO:
        raise SourceFailed(f"the PKG-INFO of {path.name} is larger than {MAX_PKG_INFO} bytes")
    raw, _unparsed = parse_email(pkg_info)
    archful = any(n.lower().endswith(COMPILED_SUFFIXES) for n in names)
    classifiers = raw.get("classifiers") or []
    license_text = raw.get("license_expression") or raw.get("license") or ""
    if "\n" in license_text.strip() or len(license_text) > 200:
        license_text = ""  # the whole license text, not its name
    if not license_text.strip():
        named = [c.split("::")[-1].strip() for c in classifiers if c.startswith("License ::")]
        license_text = " AND ".join(n for n in named if n)
    urls = raw.get("project_urls") or {}
    home = raw.get("home_page") or ""
    if not home:
        preferred = [v for k, v in urls.items() if k.lower() in ("homepage", "home", "source")]
        home = (preferred or list(urls.values()) or [""])[0]
    return Sdist(
        topdir=topdir,
        name=raw.get("name") or "",
        version=raw.get("version") or "",
        summary=raw.get("summary") or "",
        license=license_text.strip(),
        url=home.strip(),
        archful=archful,
    )


def _pkg_info_member(names: list[str]) -> str | None:
    for name in names:
        parts = PurePosixPath(name).parts
        if len(parts) == 2 and parts[1] == "PKG-INFO":
            return name
    return None


def rpm_version(version: Version) -> str:
    """A PEP 440 version as RPM orders it, as Fedora writes them: ``1.0rc1`` → ``1.0~rc1``,
    ``1.0.post2`` → ``1.0^post2``, ``1.0.dev3`` → ``1.0~~dev3``. The epoch is separate."""
    text = ".".join(str(part) for part in version.release)
    if version.pre is not None:
        text += f"~{version.pre[0]}{version.pre[1]}"
    if version.post is not None:
        text += f"^post{version.post}"
    if version.dev is not None:
        text += f"~~dev{version.dev}"
    if version.local:
        text += f"+{version.local}"
    return text


SPEC = """\
# Written by coprd from @FILENAME@ (@INDEX@).
# With Fedora's pyproject macros it builds as Fedora's Python packages do; without them
# (on builders of other distributions) with pip, no network, no build isolation.
%global pypi_name @PYPI_NAME@
%global pypi_version @PYPI_VERSION@
%if 0%{?pyproject_wheel:1}
%global coprd_pyproject 1
%else
%global coprd_pyproject 0
%endif
%{!?__python3:%global __python3 /usr/bin/python3}
%{!?pyproject_files:%global pyproject_files %{_builddir}/%{name}-%{version}-files.list}

Name:           python-@SRCNAME@
@EPOCH@Version:        @VERSION@
Release:        1%{?dist}
Summary:        @SUMMARY@
License:        @LICENSE@
URL:            @URL@
Source0:        @SOURCE@
@BUILDARCH@
BuildRequires:  python3-devel
%if !%{coprd_pyproject}
BuildRequires:  python3-pip
BuildRequires:  python3-setuptools
BuildRequires:  python3-wheel
%endif

%description
@DESCRIPTION@

%package -n python3-@SRCNAME@
Summary:        %{summary}

%description -n python3-@SRCNAME@
@DESCRIPTION@

%prep
%autosetup -n @TOPDIR@

%if %{coprd_pyproject}
%generate_buildrequires
%pyproject_buildrequires
%endif

%build
%if %{coprd_pyproject}
%pyproject_wheel
%endif

%install
%if %{coprd_pyproject}
%pyproject_install
%pyproject_save_files '*' +auto
%else
DEB_PYTHON_INSTALL_LAYOUT=deb %{__python3} -m pip install --no-deps --no-build-isolation \\
    --no-index --no-cache-dir --disable-pip-version-check --no-warn-script-location \\
    --root %{buildroot} --prefix %{_prefix} .
# Every installed file, and each top-level entry of the site-packages directory.
(cd %{buildroot} && find . -mindepth 1 \\( -name site-packages -o -name dist-packages \\) \\
    -prune -o \\( -type f -o -type l \\) -print) | sed -e 's/^\\.//' -e 's/.*/"&"/' \\
    > %{pyproject_files}
find %{buildroot} -mindepth 1 -type d \\( -name site-packages -o -name dist-packages \\) \\
    -exec find {} -mindepth 1 -maxdepth 1 \\; | sed -e "s|^%{buildroot}||" -e 's/.*/"&"/' \\
    >> %{pyproject_files}
%endif

%files -n python3-@SRCNAME@ -f %{pyproject_files}
"""


def write_spec(sdist: Sdist, entry: IndexFile, index_page: str, requested_name: str) -> str:
    """The spec for ``sdist`` (downloaded from ``entry``); see the module docstring."""
    name = sdist.name or requested_name
    srcname = canonicalize_name(name)
    if not _RPM_NAME.fullmatch(srcname):
        raise SourceFailed(f"{name!r} cannot be part of an RPM package name")
    try:
        version = Version(sdist.version or parse_sdist_filename(entry.filename)[1].public)
    except (InvalidVersion, InvalidSdistFilename):
        raise SourceFailed(
            f"{entry.filename}: {sdist.version!r} is not a PEP 440 version"
        ) from None
    if not sdist.license:
        raise SourceFailed(
            f"{entry.filename} declares no license (PKG-INFO has no License, "
            "License-Expression or license classifier); an RPM package needs one"
        )
    basename = unquote(PurePosixPath(urlsplit(entry.url).path).name)
    source = entry.url if basename == entry.filename else entry.filename
    summary = one_line(sdist.summary).rstrip(".") or f"The {one_line(name)} Python package"
    url = sdist.url if sdist.url.startswith(("http://", "https://")) else index_page
    values = {
        "@FILENAME@": spec_line(entry.filename),
        "@INDEX@": spec_line(index_page),
        "@PYPI_NAME@": spec_line(name),
        "@PYPI_VERSION@": spec_line(sdist.version or str(version)),
        "@SRCNAME@": srcname,
        "@EPOCH@": f"Epoch:          {version.epoch}\n" if version.epoch else "",
        "@VERSION@": rpm_version(version),
        "@SUMMARY@": spec_escape(summary),
        "@LICENSE@": spec_line(sdist.license),
        "@URL@": spec_line(url.split()[0] if url.split() else index_page, 1000),
        "@SOURCE@": spec_escape(source),
        "@BUILDARCH@": (
            "# C, C++, Cython or Rust sources inside: built for each architecture"
            if sdist.archful
            else "BuildArch:      noarch"
        ),
        "@DESCRIPTION@": spec_paragraph(f"{summary}."),
        "@TOPDIR@": sdist.topdir,
    }
    text = SPEC
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def make_srpm(job: Job) -> Path:
    source = job.source
    name = str(source.get("pypi_package_name") or "")
    if not name:
        raise SourceFailed("the source names no pypi_package_name")
    requested = str(source.get("pypi_package_version") or "") or None
    versions = [str(v) for v in source.get("python_versions") or ["3"]]
    if versions != ["3"]:
        job.note(f"python_versions {', '.join(versions)}: only Python 3 packages are built")
    generator = source.get("spec_generator")
    template = source.get("spec_template")
    if generator or template:
        job.note(
            "coprd writes the spec itself; spec_generator "
            f"{generator or '-'} and spec_template {template or '-'} are not used"
        )
    index = str(job.task.get("pypi_index") or "https://pypi.org/simple").rstrip("/")
    project = canonicalize_name(name)
    page = f"{index}/{project}/"
    job.note(f"looking up {name}" + (f" {requested}" if requested else "") + f" in {page}")
    try:
        fetched = job.get(page, "the PyPI index", accept=ACCEPT)
    except NotFound as exc:
        raise SourceFailed(f"PyPI has no project named {name!r} ({exc})") from None
    files = parse_index(fetched.content, fetched.content_type, fetched.url)
    entry = choose_sdist(files, project, requested)
    if not FILE_NAME.fullmatch(entry.filename):
        raise SourceFailed(f"the index names the sdist {entry.filename!r}, not a plain file name")
    workdir = job.fresh_dir(job.root / "pypi")
    sdist_path = workdir / entry.filename
    digest = next(
        ((kind, value) for kind, value in entry.hashes.items() if kind in ("sha256", "sha512")),
        None,
    )
    job.download(entry.url, sdist_path, f"the sdist {entry.filename}", digest=digest)
    # Nothing has run in the sandbox yet: the agent reads and writes its own files here.
    sdist = read_sdist(sdist_path)
    job.note(
        f"{entry.filename}: {sdist.name} {sdist.version}, "
        + ("with compiled code" if sdist.archful else "pure Python (noarch)")
    )
    spec = workdir / f"python-{canonicalize_name(sdist.name or name)}.spec"
    spec.write_text(write_spec(sdist, entry, page, name), encoding="utf-8")
    job.note(f"wrote {spec.name}; building the SRPM")
    return job.rpmbuild_srpm(spec, workdir, fetch=False)
