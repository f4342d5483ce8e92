"""What each source type accepts, and what it refuses before anything reaches a builder."""

from __future__ import annotations

from typing import Any

import pytest

from coprd.core.errors import InvalidInput
from coprd.core.sources import SourceSettings, check_source, clone_url_of

SETTINGS = SourceSettings.with_distgit("https://src.example.org")


def test_scm_is_stored_as_copr_shows_it() -> None:
    stored = check_source(
        "scm",
        {
            "clone_url": "https://git.example.org/hello.git",
            "committish": "v1.0",
            "subdirectory": "/pkg/",
            "spec": "hello.spec",
            "scm_type": "git",
            "source_build_method": "make_srpm",
        },
        SETTINGS,
    )
    assert stored == {
        "clone_url": "https://git.example.org/hello.git",
        "committish": "v1.0",
        "subdirectory": "pkg",
        "spec": "hello.spec",
        "type": "git",
        "source_build_method": "make_srpm",
    }
    assert clone_url_of("scm", stored) == "https://git.example.org/hello.git"
    defaults = check_source("scm", {"clone_url": "git://git.example.org/x"}, SETTINGS)
    assert defaults["type"] == "git" and defaults["source_build_method"] == "rpkg"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "clone_url"),
        ({"clone_url": "file:///etc"}, "clone_url"),
        ({"clone_url": "/srv/git/hello"}, "clone_url"),
        ({"clone_url": "ssh://git@example.org/x"}, "clone_url"),
        ({"clone_url": "https://x.org/a b"}, "clone_url"),
        (
            {"clone_url": "https://x.org/a", "committish": "--upload-pack=touch /tmp/x"},
            "committish",
        ),
        ({"clone_url": "https://x.org/a", "subdirectory": "../../etc"}, "subdirectory"),
        ({"clone_url": "https://x.org/a", "spec": "x/../../y.spec"}, "spec"),
        ({"clone_url": "https://x.org/a", "spec": "hello.txt"}, "spec"),
        ({"clone_url": "https://x.org/a", "scm_type": "cvs"}, "scm_type"),
        ({"clone_url": "https://x.org/a", "source_build_method": "magic"}, "source_build_method"),
        ({"clone_url": ["https://x.org/a"]}, "clone_url"),
    ],
)
def test_scm_refuses(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_source("scm", data, SETTINGS)
    assert refused.value.field == field


def test_pypi_defaults_and_refusals() -> None:
    stored = check_source("pypi", {"pypi_package_name": "Hello_World"}, SETTINGS)
    assert stored == {
        "pypi_package_name": "Hello_World",
        "pypi_package_version": None,
        "spec_generator": "pyp2spec",
        "spec_template": "",
        "python_versions": ["3"],
    }
    # python-copr sends None as [3, 2]; Copr shows versions as strings.
    two = check_source("pypi", {"pypi_package_name": "x", "python_versions": [3, 2]}, SETTINGS)
    assert two["python_versions"] == ["3", "2"]
    for bad in (
        {},
        {"pypi_package_name": "-x"},
        {"pypi_package_name": "x", "python_versions": [4]},
    ):
        with pytest.raises(InvalidInput):
            check_source("pypi", bad, SETTINGS)


def test_custom_takes_both_spellings_of_its_fields() -> None:
    by_build = check_source(
        "custom",
        {"script": "#!/bin/sh\n", "chroot": "fedora-rawhide-x86_64", "builddeps": "git make"},
        SETTINGS,
    )
    by_package = check_source(
        "custom",
        {
            "script": "#!/bin/sh\n",
            "script_chroot": "fedora-rawhide-x86_64",
            "script_builddeps": ["git", "make"],
        },
        SETTINGS,
    )
    assert by_build == by_package
    assert by_build["builddeps"] == "git make"
    with pytest.raises(InvalidInput, match="required"):
        check_source("custom", {"script": "  "}, SETTINGS)
    with pytest.raises(InvalidInput):
        check_source("custom", {"script": "x", "repos": "file:///etc/yum.repos.d"}, SETTINGS)


def test_distgit_resolves_the_instance() -> None:
    stored = check_source("distgit", {"package_name": "hello", "committish": "f41"}, SETTINGS)
    assert stored == {
        "clone_url": "https://src.example.org/rpms/hello.git",
        "distgit": "fedora",
        "namespace": "rpms",
        "package_name": "hello",
        "committish": "f41",
    }
    with pytest.raises(InvalidInput, match="unknown dist-git instance 'centos'"):
        check_source("distgit", {"package_name": "hello", "distgit": "centos"}, SETTINGS)


def test_unknown_types_and_shapes() -> None:
    with pytest.raises(InvalidInput, match="unknown source type 'cvs'"):
        check_source("cvs", {}, SETTINGS)
    with pytest.raises(InvalidInput, match="gem_name"):
        check_source("rubygems", {"gem_name": "a b"}, SETTINGS)


@pytest.mark.parametrize(
    ("source_type", "data", "field"),
    [
        # Each value as sent, whole: no stripping, no final newline, strings only.
        ("scm", {"clone_url": "https://x.org/a\n"}, "clone_url"),
        ("scm", {"clone_url": " https://x.org/a"}, "clone_url"),
        ("scm", {"clone_url": "https://x.org/a", "scm_type": ""}, "scm_type"),
        ("rubygems", {"gem_name": 12}, "gem_name"),
        ("rubygems", {"gem_name": "rake\n"}, "gem_name"),
        ("pypi", {"pypi_package_name": "x", "python_versions": [True]}, "python_versions.0"),
        ("pypi", {"pypi_package_name": "x", "pypi_package_version": 2}, "pypi_package_version"),
        # A list holds one word an item; a string separates its words with spaces.
        ("custom", {"script": "x", "builddeps": ["git make"]}, "builddeps"),
        ("custom", {"script": "x", "builddeps": "git\tmake"}, "builddeps"),
        ("custom", {"script": "x", "repos": ["https://a.org/r https://b.org/r"]}, "repos"),
        ("custom", {"script": "x", "script_chroot": "Fedora"}, "script_chroot"),
        ("custom", {"script": "#!/bin/sh\x00"}, "script"),
        ("distgit", {"package_name": "x", "distgit": ""}, "distgit"),
        ("distgit", {"package_name": "x", "namespace": "@copr/copr"}, "namespace"),
        ("distgit", {"package_name": "\u0663"}, "package_name"),
    ],
)
def test_refused_as_the_schema_says(source_type: str, data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_source(source_type, data, SETTINGS)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


def test_null_is_not_given_and_the_stored_form_is_taken_again() -> None:
    given = {
        "clone_url": "https://x.org/a",
        "committish": None,
        "spec": None,
        "scm_type": None,
        "source_build_method": None,
    }
    assert check_source("scm", given, SETTINGS) == check_source(
        "scm", {"clone_url": "https://x.org/a"}, SETTINGS
    )
    with pytest.raises(InvalidInput, match=r"^clone_url: is required$"):
        check_source("scm", {"clone_url": None}, SETTINGS)
    sources: dict[str, dict[str, Any]] = {
        "scm": {"clone_url": "https://x.org/a", "scm_type": "svn", "spec": "/x/a.spec"},
        "pypi": {"pypi_package_name": "x", "python_versions": [2, "3", 3]},
        "rubygems": {"gem_name": "rake"},
        "custom": {
            "script": "#!/bin/sh\n",
            "script_builddeps": ["git", "make"],
            "repos": " https://a.org/r  copr://alice/demo ",
            "resultdir": "out/",
        },
        "distgit": {"package_name": "x", "namespace": "/forks/alice/", "distgit": "fedora"},
    }
    for source_type, data in sources.items():
        stored = check_source(source_type, data, SETTINGS)
        assert check_source(source_type, stored, SETTINGS) == stored
    assert check_source("custom", sources["custom"], SETTINGS)["repos"] == (
        "https://a.org/r copr://alice/demo"
    )
    assert check_source("scm", sources["scm"], SETTINGS)["type"] == "svn"
