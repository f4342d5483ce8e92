"""What a build's source may say, type by type, and how it is stored.

A source is a type (``scm``, ``pypi``, …) and its parameters, checked here once whether
they come with a build (``build/create/scm``) or are kept with a package (``package/add``)
and rebuilt later. The stored form (``Source.data``) is what Copr's clients show as a
package's or a build's ``source_dict``. Turning a source into an SRPM happens on the
builder agent, in the sandbox (``coprd/sources/``).

Everything a user gives here ends up on a command line or in a path on the builder, so
each value is held to a strict pattern: no option-like values (``-…``), no ``..``, no
control characters, no local URLs (``file://``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from coprd.config import Settings
from coprd.core.errors import InvalidInput
from coprd.core.text import IsNot, Rule, refusal, shown

__all__ = [
    "EDIT_MODELS",
    "MODELS",
    "SOURCE_TYPES",
    "DistGit",
    "PackageName",
    "SourceModel",
    "SourceSettings",
    "check_source",
    "clone_url_of",
]

MAX_SCRIPT = 256 * 1024
MAX_URL = 2048
MAX_PATH = 1024
MAX_WORDS = 200

# The rules below are regular expressions in the subset ECMA-262 (the JSON schemas of the
# API documents) and Python's ``re`` read alike: ASCII character classes, groups,
# alternatives and bounded repeats; no \s, \d or \w, whose meanings differ. Each is
# matched whole (``re.fullmatch`` here, ``^(?:…)$`` in the documents).
_URL_CHAR = r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]"
_CLONE_URL = rf"(?:https?|git)://{_URL_CHAR}+"
_REPO_URL = rf"(?:https?|copr)://{_URL_CHAR}+"
_COMMITTISH = r"[A-Za-z0-9_][A-Za-z0-9_./@{}^~+-]{0,254}"
_PATH_PART = r"[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,254}"
_SPEC_PART = r"[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,249}\.spec"
_NAMESPACE_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}"
_PYPI_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,200}[A-Za-z0-9])?"
_VERSION = r"[A-Za-z0-9][A-Za-z0-9._+!-]{0,99}"
_GEM_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}"
_PACKAGE = r"[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,199}"
_CHROOT = r"[a-z0-9][a-z0-9._+-]{0,99}"
# Whitespace spelled out: what a script may not consist of only.
_BLANK = r" \t\n\r\f\v"

ScmType = Literal["git", "svn"]
ScmMethod = Literal["rpkg", "tito", "tito_test", "make_srpm"]
SpecGenerator = Literal["pyp2spec", "pyp2rpm"]
SpecTemplate = Literal["", "fedora", "epel7", "mageia", "pld"]
# python-copr sends numbers (its default is [3, 2]), the web form strings.
PythonVersion = Literal[3, 2, "3", "2"]
SCM_TYPES: tuple[str, ...] = get_args(ScmType)
SCM_METHODS: tuple[str, ...] = get_args(ScmMethod)
SPEC_GENERATORS: tuple[str, ...] = get_args(SpecGenerator)
SPEC_TEMPLATES: tuple[str, ...] = get_args(SpecTemplate)


@dataclass(frozen=True)
class DistGit:
    """One dist-git instance: where its packages are cloned from and their sources kept."""

    name: str
    clone_url: str
    """``{namespace}`` and ``{name}`` are filled in."""
    lookaside_url: str
    """``{namespace}``, ``{name}``, ``{filename}``, ``{hashtype}``, ``{hash}``."""
    default_namespace: str = "rpms"


@dataclass(frozen=True)
class SourceSettings:
    """What the server's configuration adds to sources (see ``coprd.config``)."""

    distgits: tuple[DistGit, ...]

    @classmethod
    def of(cls, settings: Settings) -> SourceSettings:
        """What the server's configuration says about sources."""
        return cls.with_distgit(settings.distgit_url)

    @classmethod
    def with_distgit(cls, base_url: str) -> SourceSettings:
        """One dist-git laid out as Fedora's (``https://src.fedoraproject.org``)."""
        base = base_url.rstrip("/")
        return cls(
            distgits=(
                DistGit(
                    name="fedora",
                    clone_url=base + "/{namespace}/{name}.git",
                    lookaside_url=base
                    + "/repo/pkgs/{namespace}/{name}/{filename}/{hashtype}/{hash}/{filename}",
                ),
            )
        )

    @property
    def names(self) -> list[str]:
        """The instances' names, as sources name them."""
        return [instance.name for instance in self.distgits]

    def distgit(self, name: str | None) -> DistGit:
        """The instance named ``name``; None: the first (the default)."""
        if name is None:
            return self.distgits[0]
        for instance in self.distgits:
            if instance.name == name:
                return instance
        known = ", ".join(self.names)
        raise InvalidInput(
            f"unknown dist-git instance {shown(name)} (this server knows: {known})", "distgit"
        )


def _optional(pattern: str) -> str:
    """``pattern``, or nothing: an empty string means the default."""
    return f"(?:{pattern})?"


def _relative(part: str, last: str | None = None) -> str:
    """A path of ``part`` names (the last one ``last``) separated by single slashes; slashes
    around it are dropped when stored. Empty: none."""
    if last is None:
        return rf"/*(?:{part}(?:/{part})*)?/*"
    return rf"/*(?:(?:{part}/)*{last}/*)?"


_NUL_OR_LONG = f"must be at most {MAX_SCRIPT} characters, without NUL"


def _script_refused(value: str) -> str:
    if "\x00" in value:
        return _NUL_OR_LONG
    return "is required: the script that makes the spec and sources"


@dataclass(frozen=True)
class Words:
    """Words, each matching ``item`` whole: a list of at most :data:`MAX_WORDS` of them, or
    one string of them separated by ASCII spaces (as long as the longest such list written
    with single spaces, which is how they are stored); read as the list of words.

    Not a :class:`coprd.core.text.Split`: the string is checked whole (one message, its
    length bounded rather than its count of words), and a list is refused with one
    message rather than the list type's."""

    item: Rule
    plural: str

    @cached_property
    def text(self) -> Rule:
        word = self.item.pattern
        return Rule(
            rf" *(?:{word}(?: +{word})*)? *",
            IsNot(f"{self.plural} separated by spaces"),
            MAX_WORDS * ((self.item.max_length or 0) + 1),
        )

    def check(self, value: Any) -> list[str]:
        if isinstance(value, str):
            self.text.check(value)
            return [word for word in value.split(" ") if word]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise refusal("must be a list of strings or a space-separated string")
        if len(value) > MAX_WORDS:
            raise refusal(f"at most {MAX_WORDS} items")
        for word in value:
            self.item.check(word)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "array", "items": self.item.json_schema(), "maxItems": MAX_WORDS},
                self.text.json_schema(),
            ]
        }


# Each rule is on a strict string: a number or a boolean is refused, not turned into text.
CloneUrl = Annotated[
    str,
    Strict(),
    Rule(
        _CLONE_URL,
        IsNot("an https, http or git:// URL (local paths and file:// URLs are not accepted)"),
        MAX_URL,
    ),
]
Committish = Annotated[
    str, Strict(), Rule(_optional(_COMMITTISH), IsNot("a branch, tag or commit"))
]
RelativePath = Annotated[
    str, Strict(), Rule(_relative(_PATH_PART), IsNot("a relative path of plain names"), MAX_PATH)
]
SpecPath = Annotated[
    str,
    Strict(),
    Rule(
        _relative(_PATH_PART, _SPEC_PART),
        IsNot("a relative path of plain names to a .spec file"),
        MAX_PATH,
    ),
]
Namespace = Annotated[
    str, Strict(), Rule(_relative(_NAMESPACE_PART), IsNot("a dist-git namespace"), MAX_PATH)
]
PypiName = Annotated[str, Strict(), Rule(_PYPI_NAME, IsNot("a PyPI project name"))]
Version = Annotated[str, Strict(), Rule(_optional(_VERSION), IsNot("a version"))]
GemName = Annotated[str, Strict(), Rule(_GEM_NAME, IsNot("a gem name"))]
PackageName = Annotated[str, Strict(), Rule(_PACKAGE, IsNot("a package name"))]
Chroot = Annotated[str, Strict(), Rule(_optional(_CHROOT), IsNot("a chroot name"))]
Script = Annotated[
    str,
    Strict(),
    Rule(
        rf"[^\x00]*[^\x00{_BLANK}][^\x00]*",
        _script_refused,
        MAX_SCRIPT,
        too_long=_NUL_OR_LONG,
    ),
]
PackageWords = Annotated[
    list[str], Words(Rule(_PACKAGE, IsNot("a package name"), 200), "package names")
]
RepoWords = Annotated[
    list[str],
    Words(Rule(_REPO_URL, IsNot("an http(s) or copr:// URL"), MAX_URL), "http(s) or copr:// URLs"),
]


class SourceModel(BaseModel):
    """A source type's fields as clients send them (and as they are stored: the stored form
    is checked again when a package is edited or rebuilt). Fields of other types and build
    options are ignored; ``null`` is "not given"."""

    model_config = ConfigDict(extra="ignore")
    source_type: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_given(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    def stored(self, settings: SourceSettings) -> dict[str, Any]:
        """The stored form (``Source.data``, what clients see as ``source_dict``)."""
        raise NotImplementedError


def _path(value: str | None) -> str:
    return (value or "").strip("/")


class ScmFields(SourceModel):
    """An scm source's fields, each optional (as package edit takes them)."""

    source_type: ClassVar[str] = "scm"

    clone_url: CloneUrl | None = Field(
        default=None, description="The repository: an https, http or git:// URL."
    )
    committish: Committish | None = Field(
        default=None, description="A branch, tag or commit; empty: the default branch."
    )
    subdirectory: RelativePath | None = Field(
        default=None, description="The package's directory in the repository."
    )
    spec: SpecPath | None = Field(
        default=None, description="The spec file, relative to the subdirectory."
    )
    scm_type: ScmType | None = Field(default=None, description="Default: git.")
    type: ScmType | None = Field(
        default=None, description="scm_type as it is stored and shown; scm_type wins."
    )
    source_build_method: ScmMethod | None = Field(default=None, description="Default: rpkg.")


class ScmSource(ScmFields):
    """An scm source: a Git or Subversion repository."""

    clone_url: CloneUrl = Field(description="The repository: an https, http or git:// URL.")

    def stored(self, settings: SourceSettings) -> dict[str, Any]:
        return {
            "clone_url": self.clone_url,
            "committish": self.committish or "",
            "subdirectory": _path(self.subdirectory),
            "spec": _path(self.spec),
            # Clients send scm_type; Copr shows it back as type.
            "type": self.scm_type or self.type or "git",
            "source_build_method": self.source_build_method or "rpkg",
        }


class PypiFields(SourceModel):
    """A pypi source's fields, each optional (as package edit takes them)."""

    source_type: ClassVar[str] = "pypi"

    pypi_package_name: PypiName | None = None
    pypi_package_version: Version | None = Field(
        default=None, description="Empty or not given: the latest."
    )
    spec_generator: SpecGenerator | None = Field(default=None, description="Default: pyp2spec.")
    spec_template: SpecTemplate | None = Field(
        default=None, description="pyp2rpm's template; default: none."
    )
    python_versions: list[PythonVersion] | None = Field(
        default=None, description="Python major versions; empty or not given: 3."
    )


class PypiSource(PypiFields):
    """A pypi source: a project on PyPI."""

    pypi_package_name: PypiName

    def stored(self, settings: SourceSettings) -> dict[str, Any]:
        versions = self.python_versions or [3]
        return {
            "pypi_package_name": self.pypi_package_name,
            "pypi_package_version": self.pypi_package_version or None,
            "spec_generator": self.spec_generator or "pyp2spec",
            "spec_template": self.spec_template or "",
            "python_versions": sorted({str(v) for v in versions}, reverse=True),
        }


class RubygemsFields(SourceModel):
    """A rubygems source's fields, each optional (as package edit takes them)."""

    source_type: ClassVar[str] = "rubygems"

    gem_name: GemName | None = None


class RubygemsSource(RubygemsFields):
    """A rubygems source: a gem on rubygems.org."""

    gem_name: GemName

    def stored(self, settings: SourceSettings) -> dict[str, Any]:
        return {"gem_name": self.gem_name}


class CustomFields(SourceModel):
    """A custom source's fields, each optional (as package edit takes them). Builds send
    chroot, builddeps, resultdir and repos; package add/edit the same with ``script_``
    before them; the first spelling wins."""

    source_type: ClassVar[str] = "custom"

    script: Script | None = Field(
        default=None, description="The script that writes the spec and sources."
    )
    chroot: Chroot | None = Field(
        default=None, description="The chroot the script runs in; default: fedora-latest-x86_64."
    )
    builddeps: PackageWords | None = Field(default=None, description="Packages the script needs.")
    resultdir: RelativePath | None = Field(
        default=None, description="Where the script leaves the spec and sources."
    )
    repos: RepoWords | None = Field(
        default=None, description="Repositories the script's packages come from."
    )
    script_chroot: Chroot | None = None
    script_builddeps: PackageWords | None = None
    script_resultdir: RelativePath | None = None
    script_repos: RepoWords | None = None


class CustomSource(CustomFields):
    """A custom source: a script that writes the spec and sources."""

    script: Script = Field(description="The script that writes the spec and sources.")

    def stored(self, settings: SourceSettings) -> dict[str, Any]:
        def given(name: str) -> Any:
            value = getattr(self, name)
            return value if value is not None else getattr(self, f"script_{name}")

        return {
            "script": self.script,
            "chroot": given("chroot") or "fedora-latest-x86_64",
            "builddeps": " ".join(given("builddeps") or ()),
            "resultdir": _path(given("resultdir")),
            "repos": " ".join(given("repos") or ()),
        }


class DistgitFields(SourceModel):
    """A distgit source's fields, each optional (as package edit takes them)."""

    source_type: ClassVar[str] = "distgit"

    distgit: Annotated[str, Strict()] | None = Field(
        default=None,
        description="A dist-git instance this server knows; default: the first it knows.",
    )
    package_name: PackageName | None = None
    namespace: Namespace | None = Field(default=None, description="Default: the instance's (rpms).")
    committish: Committish | None = Field(
        default=None, description="A branch, tag or commit; empty: the default branch."
    )


class DistgitSource(DistgitFields):
    """A distgit source: a package's repository in a dist-git."""

    package_name: PackageName

    def stored(self, settings: SourceSettings) -> dict[str, Any]:
        instance = settings.distgit(self.distgit)
        namespace = _path(self.namespace) or instance.default_namespace
        return {
            "clone_url": instance.clone_url.format(namespace=namespace, name=self.package_name),
            "distgit": instance.name,
            "namespace": namespace,
            "package_name": self.package_name,
            "committish": self.committish or "",
        }


MODELS: dict[str, type[SourceModel]] = {
    model.source_type: model
    for model in (ScmSource, PypiSource, RubygemsSource, CustomSource, DistgitSource)
}
"""Each source type's fields as a new source (a build, a new package) takes them."""
EDIT_MODELS: dict[str, type[SourceModel]] = {
    model.source_type: model
    for model in (ScmFields, PypiFields, RubygemsFields, CustomFields, DistgitFields)
}
"""The same, each field optional: as package edit takes them (fields not given keep their
stored value)."""
SOURCE_TYPES = tuple(MODELS)


def _refusal(exc: ValidationError) -> InvalidInput:
    """One InvalidInput naming (in ``field``) the first field that is wrong."""
    lines: list[tuple[str | None, str]] = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or None
        lines.append((where, "is required" if err["type"] == "missing" else err["msg"]))
    if len(lines) == 1:
        return InvalidInput(lines[0][1], lines[0][0])
    refused = InvalidInput("\n".join(f"{w}: {m}" if w else m for w, m in lines))
    refused.field = lines[0][0]
    return refused


def check_source(
    source_type: str, data: dict[str, Any], settings: SourceSettings
) -> dict[str, Any]:
    """The stored form of a source of ``source_type`` given as ``data`` (a client's JSON,
    or a stored form); raises ``InvalidInput`` naming the field that is wrong."""
    model = MODELS.get(source_type)
    if model is None:
        known = ", ".join(SOURCE_TYPES)
        raise InvalidInput(f"unknown source type {shown(source_type)} (known: {known})")
    if not isinstance(data, dict):
        raise InvalidInput("the source must be a JSON object")
    try:
        source = model.model_validate(data)
    except ValidationError as exc:
        raise _refusal(exc) from None
    return source.stored(settings)


def clone_url_of(source_type: str, data: dict[str, Any]) -> str | None:
    """The repository a stored source builds from, for matching webhook pushes."""
    if source_type in ("scm", "distgit"):
        url = data.get("clone_url")
        return str(url) if url else None
    return None
