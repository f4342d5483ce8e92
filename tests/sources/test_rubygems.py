"""RubyGems sources: a gem source on loopback, real .gem files, a spec written by coprd."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from coprd.sources.common import SourceFailed
from coprd.sources.rubygems import load_gemspec, write_gemspec
from tests.sources.conftest import RunSource, build_locally, requires_tools
from tests.sources.servers import GemSource, gem_metadata, make_gem
from tests.sources.specs import parsed, spec_of, srpm_files, srpm_query

pytestmark = requires_tools


@pytest.fixture(scope="module")
def gems(gem_source: GemSource, tmp_path_factory: pytest.TempPathFactory) -> GemSource:
    out = tmp_path_factory.mktemp("gems")
    gem_source.add(
        make_gem(
            out,
            "hola",
            "0.1.0",
            summary="Hola! %(id)",
            files={"lib/hola.rb": "class Hola; end\n", "bin/hola": "#!/usr/bin/ruby\n"},
            executables=["hola"],
            dependencies={"json": ">= 2.0"},
        ),
        "hola",
        "0.1.0",
    )
    gem_source.add(make_gem(out, "pre", "2.0.0.rc1"), "pre", "2.0.0.rc1")
    gem_source.add(make_gem(out, "unlicensed", "1.0", licenses=[]), "unlicensed", "1.0")
    gem_source.add(
        make_gem(
            out,
            "native",
            "1.0",
            files={"ext/native/extconf.rb": "", "ext/native/n.c": "int x;\n"},
            extensions=["ext/native/extconf.rb"],
        ),
        "native",
        "1.0",
    )
    return gem_source


def test_gem_becomes_an_srpm(gems: GemSource, run_source: RunSource) -> None:
    outcome = run_source("rubygems", {"gem_name": "hola"}, rubygems_source=gems.url)
    srpm = outcome.ok()
    assert srpm.name == "rubygem-hola-0.1.0-1.src.rpm"
    assert srpm_files(srpm) == ["hola-0.1.0.gem", "hola-0.1.0.gemspec", "rubygem-hola.spec"]
    assert srpm_query(srpm, "%{SUMMARY}|%{LICENSE}|%{URL}") == (
        "Hola! %(id)|MIT|https://example.com/hola"
    )
    spec = spec_of(srpm, "rubygem-hola.spec")
    assert "%global gem_name hola" in spec
    assert "BuildArch:      noarch" in spec
    assert f"Source0:        {gems.url}/gems/hola-0.1.0.gem" in spec
    assert "%{_bindir}/hola" in spec
    gemspec = spec_of(srpm, "hola-0.1.0.gemspec")
    assert "s.name = 'hola'" in gemspec
    assert "s.add_runtime_dependency('json', ['>= 2.0'])" in gemspec
    assert "s.required_ruby_version = Gem::Requirement.new(['>= 2.7'])" in gemspec
    assert f"looking up the gem hola at {gems.url}/api/v1/gems/hola.json" in outcome.log


def test_the_generated_spec_builds_without_ruby(
    gems: GemSource, run_source: RunSource, tmp_path: Path
) -> None:
    """No Ruby here: the gem's files and gemspec are laid out as gem install would."""
    srpm = run_source("rubygems", {"gem_name": "hola"}, rubygems_source=gems.url).ok()
    rpm = build_locally(srpm, tmp_path)
    assert rpm.name == "rubygem-hola-0.1.0-1.fc45.noarch.rpm"
    archive = subprocess.run(
        ["rpm2archive", "-"], input=rpm.read_bytes(), capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = sorted(tar.getnames())
        gemspec = tar.extractfile("./usr/share/gems/specifications/hola-0.1.0.gemspec")
        assert gemspec is not None and b"s.version = '0.1.0'" in gemspec.read()
    assert "./usr/share/gems/gems/hola-0.1.0/lib/hola.rb" in names
    assert "./usr/share/gems/gems/hola-0.1.0/bin/hola" in names


def test_prerelease_gem(gems: GemSource, run_source: RunSource) -> None:
    srpm = run_source("rubygems", {"gem_name": "pre"}, rubygems_source=gems.url).ok()
    assert srpm.name == "rubygem-pre-2.0.0-0.1.src.rpm"
    spec = spec_of(srpm, "rubygem-pre.spec")
    assert "%global prerelease .rc1" in spec


def test_native_gem_is_arch_specific(gems: GemSource, run_source: RunSource) -> None:
    srpm = run_source("rubygems", {"gem_name": "native"}, rubygems_source=gems.url).ok()
    spec = spec_of(srpm, "rubygem-native.spec")
    assert "BuildArch" not in spec.replace("# C extensions inside", "")
    assert "%{gem_extdir_mri}" in spec
    assert "building them needs Ruby" in spec


def test_unknown_gem_and_unlicensed_gem_fail(gems: GemSource, run_source: RunSource) -> None:
    missing = run_source("rubygems", {"gem_name": "nosuchgem"}, rubygems_source=gems.url)
    assert missing.error == (
        "RubyGems has no gem named 'nosuchgem' (the RubyGems source: "
        f"{gems.url}/api/v1/gems/nosuchgem.json answered 404 File not found)"
    )
    unlicensed = run_source("rubygems", {"gem_name": "unlicensed"}, rubygems_source=gems.url)
    assert unlicensed.error is not None
    assert unlicensed.error.startswith("unlicensed-1.0.gem declares no license")


def test_tampered_gem_fails_its_hash(
    gems: GemSource, run_source: RunSource, tmp_path: Path
) -> None:
    gems.add(make_gem(tmp_path / "a", "tampered", "1.0"), "tampered", "1.0")
    other = make_gem(tmp_path / "b", "tampered", "1.0", summary="not the published one")
    (gems.root / "gems" / "tampered-1.0.gem").write_bytes(other.read_bytes())
    outcome = run_source("rubygems", {"gem_name": "tampered"}, rubygems_source=gems.url)
    assert outcome.error is not None
    assert "does not match its sha256 hash" in outcome.error


def test_ruby_tags_and_quoting() -> None:
    spec = load_gemspec(
        gem_metadata(
            "q",
            "1.0",
            summary="it's a \\ test",
            licenses=["MIT", "Ruby"],
            files=["lib/q.rb"],
            dependencies={"rake": "~> 13.0"},
        )
    )
    assert spec.version == "1.0"
    assert spec.licenses == ["MIT", "Ruby"]
    assert spec.dependencies == [("rake", ["~> 13.0"])]
    text = write_gemspec(spec, "q-1.0.gem")
    assert "s.summary = 'it\\'s a \\\\ test'" in text
    with pytest.raises(SourceFailed, match="not valid YAML"):
        load_gemspec("--- [unclosed")
    with pytest.raises(SourceFailed, match="not a gem specification"):
        load_gemspec("--- just a string\n")


RUBYGEMS_MACROS = {
    "gem_dir": "/usr/share/gems",
    "gem_instdir": "%{gem_dir}/gems/%{gem_name}-%{version}%{?prerelease}",
    "gem_spec": "%{gem_dir}/specifications/%{gem_name}-%{version}%{?prerelease}.gemspec",
    "gem_cache": "%{gem_dir}/cache/%{gem_name}-%{version}%{?prerelease}.gem",
    "gem_docdir": "%{gem_dir}/doc/%{gem_name}-%{version}%{?prerelease}",
    "gem_extdir_mri": "/usr/lib64/gems/ruby/%{gem_name}-%{version}%{?prerelease}",
    "gem_install": "GEM-INSTALL",
}


def test_the_spec_uses_rubygems_devel_where_it_exists(
    gems: GemSource, run_source: RunSource, tmp_path: Path
) -> None:
    srpm = run_source("rubygems", {"gem_name": "hola"}, rubygems_source=gems.url).ok()
    spec = spec_of(srpm, "rubygem-hola.spec")
    fedora = parsed(spec, tmp_path, RUBYGEMS_MACROS)
    assert "gem build ../hola-0.1.0.gemspec\nGEM-INSTALL" in fedora
    assert "BuildRequires:  rubygems-devel" in fedora
    assert "cp -a ./usr/share/gems/* " in fedora
    assert "\n/usr/bin/hola" in fedora
    assert "data.tar.gz" not in fedora
    elsewhere = parsed(spec, tmp_path)
    assert "GEM-INSTALL" not in elsewhere and "rubygems-devel" not in elsewhere
    assert "tar -xOf" in elsewhere and "data.tar.gz" in elsewhere
    assert (
        "\n/usr/share/gems/gems/hola-0.1.0\n/usr/share/gems/specifications/hola-0.1.0.gemspec"
        in (elsewhere)
    )
    native = spec_of(
        run_source("rubygems", {"gem_name": "native"}, rubygems_source=gems.url).ok(),
        "rubygem-native.spec",
    )
    assert "\n/usr/lib64/gems/ruby/native-1.0\n" in parsed(native, tmp_path, RUBYGEMS_MACROS)
