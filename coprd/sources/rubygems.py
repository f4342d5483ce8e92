"""RubyGems sources: a gem from a RubyGems source, with a spec written here.

``<rubygems_source>/api/v1/gems/<name>.json`` names the newest version, its ``gem_uri``
and sha256; the ``.gem`` (a tar of ``metadata.gz``, ``data.tar.gz`` and
``checksums.yaml.gz``) is downloaded and its metadata, a YAML dump of the
``Gem::Specification``, read with PyYAML's safe loader taught to read Ruby's object tags
(``!ruby/object:Gem::Version`` …) as the plain mappings they are.

Copr runs gem2rpm here, which needs Ruby. coprd writes a spec like gem2rpm's
(``rubygem-<name>``), with two ways to build, chosen when the spec is built:

* where rubygems-devel's macros are defined (``%gem_dir``; Fedora, EL, mock chroots):
  ``gem build`` + ``%gem_install`` and the files under ``%{gem_dir}``, as Fedora's gem
  packages do (C extensions under ``%{gem_extdir_mri}``, executables in ``%{_bindir}``);
* elsewhere (no Ruby on the builder): the gem's ``data.tar.gz`` is unpacked into
  ``/usr/share/gems/gems/<name>-<version>/`` and a gemspec coprd writes from the metadata
  (``Source1``) is installed as ``/usr/share/gems/specifications/<name>-<version>.gemspec``,
  which is where ``gem install`` would put them. No executable wrappers are written, and a
  gem with C extensions fails to build this way: compiling them needs Ruby.

Runtime dependencies come from rubygems-devel's dependency generator where it is
installed; the spec lists none itself. A gem that declares no license fails, as with
Copr's gem2rpm: an RPM package must name one.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import yaml

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

MAX_METADATA = 16 * 1024 * 1024
_VERSION = re.compile(r"[0-9][0-9A-Za-z]*(\.[0-9A-Za-z]+)*")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


class _GemspecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading Ruby-tagged nodes as plain data."""


def _ruby_node(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    return None


_GemspecLoader.add_multi_constructor("!ruby/", _ruby_node)


@dataclass(frozen=True)
class Gemspec:
    """The parts of a ``Gem::Specification`` that the spec and the gemspec need."""

    name: str
    version: str
    summary: str = ""
    description: str = ""
    homepage: str = ""
    licenses: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    require_paths: list[str] = field(default_factory=lambda: ["lib"])
    bindir: str = "bin"
    executables: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    required_ruby_version: list[str] = field(default_factory=list)
    dependencies: list[tuple[str, list[str]]] = field(default_factory=list)
    """Runtime dependencies: name and requirement strings (``>= 1.0``)."""


def load_gemspec(text: bytes | str) -> Gemspec:
    """Read a gem's ``metadata`` (YAML); SourceFailed if it is not a gem specification."""
    try:
        data = yaml.load(text, Loader=_GemspecLoader)
    except yaml.YAMLError as exc:
        raise SourceFailed(f"the gem's metadata is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SourceFailed("the gem's metadata is not a gem specification")
    version = data.get("version")
    if isinstance(version, dict):
        version = version.get("version")
    name = _string(data.get("name"))
    if not name or not version:
        raise SourceFailed("the gem's metadata has no name or version")
    licenses = _strings(data.get("licenses")) or _strings(data.get("license"))
    dependencies = []
    for dep in data.get("dependencies") or []:
        if not isinstance(dep, dict) or str(dep.get("type", ":runtime")) != ":runtime":
            continue
        requirement = dep.get("requirement") or dep.get("version_requirements")
        dependencies.append((_string(dep.get("name")), _requirement(requirement)))
    return Gemspec(
        name=name,
        version=_string(version),
        summary=_string(data.get("summary")),
        description=_string(data.get("description")),
        homepage=_string(data.get("homepage")),
        licenses=licenses,
        authors=_strings(data.get("authors")),
        require_paths=_strings(data.get("require_paths")) or ["lib"],
        bindir=_string(data.get("bindir")) or "bin",
        executables=_strings(data.get("executables")),
        extensions=_strings(data.get("extensions")),
        files=_strings(data.get("files")),
        required_ruby_version=_requirement(data.get("required_ruby_version")),
        dependencies=[d for d in dependencies if d[0]],
    )


def _string(value: Any) -> str:
    return "" if value is None else str(value)


def _strings(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def _requirement(value: Any) -> list[str]:
    """``Gem::Requirement`` → ``[">= 1.0", "< 2"]``."""
    if not isinstance(value, dict):
        return []
    out = []
    for pair in value.get("requirements") or []:
        if isinstance(pair, list) and len(pair) == 2:
            op, version = pair
            if isinstance(version, dict):
                version = version.get("version")
            out.append(f"{op} {version}")
    return out


def read_gem(path: Path) -> Gemspec:
    """The specification inside a ``.gem`` file, read without extracting anything."""
    try:
        with tarfile.open(path, "r:*") as archive:
            member = next((m for m in archive if m.name == "metadata.gz" and m.isfile()), None)
            if member is None:
                raise SourceFailed(f"{path.name} has no metadata.gz; it is not a gem")
            packed = archive.extractfile(member)
            assert packed is not None
            with gzip.GzipFile(fileobj=io.BytesIO(packed.read(MAX_METADATA))) as metadata:
                text = metadata.read(MAX_METADATA + 1)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise SourceFailed(f"{path.name} is not a readable gem: {exc}") from None
    if len(text) > MAX_METADATA:
        raise SourceFailed(f"the metadata of {path.name} is larger than {MAX_METADATA} bytes")
    return load_gemspec(text)


def _ruby(value: str) -> str:
    """A Ruby single-quoted string literal: only ``\\`` and ``'`` are special in it."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ruby_list(values: list[str]) -> str:
    return "[" + ", ".join(_ruby(v) for v in values) + "]"


def write_gemspec(spec: Gemspec, gem_file: str) -> str:
    """A Ruby gemspec equivalent to the gem's metadata, for ``specifications/``."""
    lines = [
        "# -*- encoding: utf-8 -*-",
        f"# Written by coprd from the metadata of {one_line(gem_file)}.",
        "Gem::Specification.new do |s|",
        f"  s.name = {_ruby(spec.name)}",
        f"  s.version = {_ruby(spec.version)}",
        f"  s.summary = {_ruby(spec.summary)}",
        f"  s.description = {_ruby(spec.description)}",
        f"  s.authors = {_ruby_list(spec.authors)}",
        f"  s.homepage = {_ruby(spec.homepage)}",
        f"  s.licenses = {_ruby_list(spec.licenses)}",
        f"  s.require_paths = {_ruby_list(spec.require_paths)}",
        f"  s.bindir = {_ruby(spec.bindir)}",
        f"  s.executables = {_ruby_list(spec.executables)}",
        f"  s.extensions = {_ruby_list(spec.extensions)}",
        f"  s.files = {_ruby_list(spec.files)}",
    ]
    if spec.required_ruby_version:
        lines.append(
            f"  s.required_ruby_version = Gem::Requirement.new("
            f"{_ruby_list(spec.required_ruby_version)})"
        )
    for name, requirement in spec.dependencies:
        lines.append(f"  s.add_runtime_dependency({_ruby(name)}, {_ruby_list(requirement)})")
    lines.append("end")
    return "\n".join(lines) + "\n"


SPEC = """\
# Written by coprd from @GEM_FILE@ (@SOURCE@).
# With rubygems-devel's macros it builds as Fedora's gem packages do; without them (no
# Ruby on the builder) the gem's files and a gemspec written from its metadata (Source1)
# are copied to where gem install would put them.
# rpm parses a noarch spec twice, keeping the global macros of the first parse: none
# of rubygems-devel's names is defined here, so both parses take the same way.
%global gem_name @GEM_NAME@
@PRERELEASE@%if 0%{?gem_dir:1}
%global coprd_rubygems 1
%define coprd_instdir %{gem_instdir}
%define coprd_gemspec %{gem_spec}
%else
%global coprd_rubygems 0
%define coprd_instdir %{_datadir}/gems/gems/%{gem_name}-%{version}%{?prerelease}
%define coprd_gemspec %{_datadir}/gems/specifications/%{gem_name}-%{version}%{?prerelease}.gemspec
%endif

Name:           rubygem-%{gem_name}
Version:        @VERSION@
Release:        @RELEASE@%{?dist}
Summary:        @SUMMARY@
License:        @LICENSE@
URL:            @URL@
Source0:        @GEM_URL@
Source1:        %{gem_name}-%{version}%{?prerelease}.gemspec
%if %{coprd_rubygems}
BuildRequires:  ruby(release)
BuildRequires:  rubygems-devel
@EXT_BUILDREQUIRES@%endif
@BUILDARCH@

%description
@DESCRIPTION@

%prep
%if %{coprd_rubygems}
%setup -q -n %{gem_name}-%{version}%{?prerelease}
%else
%setup -q -c -T -n %{gem_name}-%{version}%{?prerelease}
tar -xOf %{SOURCE0} data.tar.gz | tar -xzf - --no-same-owner
%endif

%build
%if %{coprd_rubygems}
gem build ../%{gem_name}-%{version}%{?prerelease}.gemspec
%gem_install
@EXT_FALLBACK@%endif

%install
%if %{coprd_rubygems}
mkdir -p %{buildroot}%{gem_dir}
cp -a .%{gem_dir}/* %{buildroot}%{gem_dir}/
rm -rf %{buildroot}%{gem_cache} %{buildroot}%{gem_docdir}
@EXT_INSTALL@@BIN_INSTALL@%else
mkdir -p %{buildroot}%{coprd_instdir}
cp -a . %{buildroot}%{coprd_instdir}/
install -D -m 0644 %{SOURCE1} %{buildroot}%{coprd_gemspec}
%endif

%files
%{coprd_instdir}
%{coprd_gemspec}
%if %{coprd_rubygems}
@EXT_FILES@@BIN_FILES@%endif
"""


def write_spec(spec: Gemspec, gem_file: str, gem_url: str, source: str) -> str:
    """The spec for the gem ``gem_file`` (downloaded from ``gem_url``)."""
    if not _VERSION.fullmatch(spec.version):
        raise SourceFailed(f"the gem's version {spec.version!r} cannot be an RPM version")
    if not spec.licenses:
        raise SourceFailed(
            f"{gem_file} declares no license; an RPM package needs one (Copr's gem2rpm "
            "refuses such gems too)"
        )
    # 1.0.0.rc1: Version 1.0.0, prerelease .rc1, Release 0.1, as Fedora's gem packages do.
    parts = spec.version.split(".")
    first_pre = next((i for i, p in enumerate(parts) if not p.isdigit()), len(parts))
    version = ".".join(parts[:first_pre]) or spec.version
    prerelease = "." + ".".join(parts[first_pre:]) if first_pre < len(parts) else ""
    executables = [e for e in spec.executables if FILE_NAME.fullmatch(e)]
    bindir = spec.bindir if all(FILE_NAME.fullmatch(p) for p in spec.bindir.split("/")) else ""
    archful = bool(spec.extensions)
    basename = unquote(PurePosixPath(urlsplit(gem_url).path).name)
    homepage = spec.homepage.strip()
    url = homepage if homepage.startswith(("http://", "https://")) else f"{source}/gems/{spec.name}"
    summary = one_line(spec.summary).rstrip(".") or f"The {spec.name} gem"
    values = {
        "@GEM_FILE@": spec_line(gem_file),
        "@SOURCE@": spec_line(source),
        "@GEM_NAME@": spec.name,
        "@PRERELEASE@": f"%global prerelease {prerelease}\n" if prerelease else "",
        "@VERSION@": version,
        "@RELEASE@": "0.1" if prerelease else "1",
        "@SUMMARY@": spec_escape(summary),
        "@LICENSE@": spec_line(" AND ".join(spec.licenses)),
        "@URL@": spec_line(url.split()[0], 1000),
        "@GEM_URL@": spec_escape(gem_url if basename == gem_file else gem_file),
        "@EXT_BUILDREQUIRES@": (
            "BuildRequires:  ruby-devel\nBuildRequires:  gcc\n" if archful else ""
        ),
        "@BUILDARCH@": (
            "# C extensions inside: built for each architecture"
            if archful
            else "BuildArch:      noarch"
        ),
        "@DESCRIPTION@": spec_paragraph(spec.description or f"{summary}."),
        "@EXT_FALLBACK@": (
            "%else\necho 'this gem has C extensions; building them needs Ruby and "
            "rubygems-devel' >&2\nexit 1\n"
            if archful
            else ""
        ),
        "@EXT_INSTALL@": (
            "mkdir -p %{buildroot}%{gem_extdir_mri}\n"
            "cp -a .%{gem_extdir_mri}/{gem.build_complete,*.so} %{buildroot}%{gem_extdir_mri}/\n"
            "rm -rf %{buildroot}%{gem_instdir}/ext/\n"
            if archful
            else ""
        ),
        "@BIN_INSTALL@": (
            "mkdir -p %{buildroot}%{_bindir}\n"
            "cp -a .%{_bindir}/* %{buildroot}%{_bindir}/\n"
            f"find %{{buildroot}}%{{gem_instdir}}/{bindir} -type f -exec chmod a+x {{}} +\n"
            if executables and bindir
            else ""
        ),
        "@EXT_FILES@": "%{gem_extdir_mri}\n" if archful else "",
        "@BIN_FILES@": "".join(f"%{{_bindir}}/{e}\n" for e in executables) if bindir else "",
    }
    text = SPEC
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def make_srpm(job: Job) -> Path:
    name = str(job.source.get("gem_name") or "")
    if not _NAME.fullmatch(name):
        raise SourceFailed(f"{name!r} is not a gem name")
    source = str(job.task.get("rubygems_source") or "https://rubygems.org").rstrip("/")
    api = f"{source}/api/v1/gems/{quote(name)}.json"
    job.note(f"looking up the gem {name} at {api}")
    try:
        fetched = job.get(api, "the RubyGems source", accept="application/json")
    except NotFound as exc:
        raise SourceFailed(f"RubyGems has no gem named {name!r} ({exc})") from None
    try:
        info = json.loads(fetched.content)
        version = str(info["version"])
        default = f"{source}/gems/{quote(name)}-{quote(version)}.gem"
        gem_url = str(info.get("gem_uri") or default)
        sha256 = info.get("sha")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SourceFailed(f"{api} did not answer with a gem's JSON description") from None
    gem_file = unquote(PurePosixPath(urlsplit(gem_url).path).name)
    if not FILE_NAME.fullmatch(gem_file) or not gem_file.endswith(".gem"):
        gem_file = f"{name}-{version}.gem"
    if not FILE_NAME.fullmatch(gem_file):
        raise SourceFailed(f"{name} {version}: not a usable gem file name")
    job.note(f"the newest version of {name} is {version}")
    workdir = job.fresh_dir(job.root / "rubygems")
    path = workdir / gem_file
    digest = ("sha256", str(sha256)) if isinstance(sha256, str) and sha256 else None
    job.download(gem_url, path, f"the gem {gem_file}", digest=digest)
    # Nothing has run in the sandbox yet: the agent reads and writes its own files here.
    spec = read_gem(path)
    if spec.name != name:
        raise SourceFailed(f"{gem_file} is the gem {spec.name!r}, not {name!r}")
    job.note(
        f"{gem_file}: {spec.name} {spec.version}, "
        + ("with C extensions" if spec.extensions else "pure Ruby (noarch)")
    )
    text = write_spec(spec, gem_file, gem_url, source)
    (workdir / f"{spec.name}-{spec.version}.gemspec").write_text(
        write_gemspec(spec, gem_file), encoding="utf-8"
    )
    spec_path = workdir / f"rubygem-{spec.name}.spec"
    spec_path.write_text(text, encoding="utf-8")
    job.note(f"wrote {spec_path.name}; building the SRPM")
    return job.rpmbuild_srpm(spec_path, workdir, fetch=False)
