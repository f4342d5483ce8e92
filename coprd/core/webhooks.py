"""Webhooks: a forge tells the project a push happened, and the packages it touched build.

Every project may have a webhook secret (``webhook/generate``). A forge's request names the
project by id and carries the secret in its URL; forges that sign their requests must also
sign them with it (GitHub, Forgejo/Gitea and Bitbucket an HMAC-SHA256 of the body, GitLab a
token header): :func:`hooked_project`, :func:`check_signature` and :func:`check_token` are
the checks, all in constant time. The secret is what authorises a webhook's builds, so they
are submitted by no user, in the background (Copr submits them the same way).

A push rebuilds (:func:`packages_for_push`) the project's packages that have
``webhook_rebuild`` on and an ``scm`` or ``distgit`` source whose clone URL names the pushed
repository (compared without scheme, user, port, trailing ``.git`` or ``/``, and case), and

- for a branch: whose committish is empty or that branch, and, when the forge lists the
  files the push changed and the package has a subdirectory, one of them is in it;
- for a tag: the package the tag names as ``NAME-VERSION[-RELEASE]`` (Copr's rule), or the
  package the webhook URL names.

A branch build checks out the pushed commit, a tag build the tag.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from coprd.core.builds import BuildOptions
from coprd.core.errors import Forbidden, InvalidInput, NotFound
from coprd.core.names import check_package_name
from coprd.core.packages import UNSET, get_package, queue_package_build
from coprd.core.permissions import Action, require
from coprd.core.sources import SourceSettings, clone_url_of
from coprd.core.tokens import new_webhook_secret
from coprd.db.models import Build, Package, Project, ProjectChroot, User

__all__ = [
    "Push",
    "check_signature",
    "check_token",
    "generate_secret",
    "hooked_project",
    "normalise_repo_url",
    "packages_for_push",
    "rebuild_on_push",
    "rebuild_package",
    "tag_names_package",
]

log = logging.getLogger("coprd.webhooks")

_SCP_LIKE = re.compile(r"(?:[^@/\s]+@)?([^:/\s]+):(?!//)(.*)")
_COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")


@dataclass(frozen=True)
class Push:
    """A push, as every forge's payload is read into: which repository, which ref, which
    commit, and (when the forge says) which files changed."""

    repo_urls: tuple[str, ...]
    kind: Literal["branch", "tag"]
    name: str
    commit: str | None = None
    changed_files: frozenset[str] | None = None

    @classmethod
    def of_ref(
        cls,
        repo_urls: Iterable[str | None],
        ref: str,
        commit: str | None,
        changed_files: Iterable[str] | None = None,
    ) -> Push:
        """From a git ref (``refs/heads/main``, ``refs/tags/v1``; a bare name is a branch)."""
        urls = tuple(url for url in repo_urls if isinstance(url, str) and url)
        if not urls:
            raise InvalidInput("the payload names no repository URL", "repository")
        if not isinstance(ref, str) or not ref:
            raise InvalidInput("the payload names no ref", "ref")
        kind: Literal["branch", "tag"] = "branch"
        name = ref
        if ref.startswith("refs/tags/"):
            kind, name = "tag", ref[len("refs/tags/") :]
        elif ref.startswith("refs/heads/"):
            name = ref[len("refs/heads/") :]
        if commit is not None and (not isinstance(commit, str) or not _COMMIT.fullmatch(commit)):
            raise InvalidInput(f"{str(commit)[:80]!r} is not a commit id", "commit")
        if commit is not None and not commit.strip("0"):
            commit = None  # all zeros: the ref was deleted
        files = None if changed_files is None else frozenset(changed_files)
        return cls(urls, kind, name, commit, files)


def normalise_repo_url(url: str) -> str:
    """A repository URL for comparing: ``host/path`` without scheme, user, port, trailing
    ``.git`` or ``/``, case-folded (forges treat owner and repository names so)."""
    text = url.strip()
    if "://" in text:
        try:
            parts = urlsplit(text)
        except ValueError:  # e.g. a broken IPv6 host: it matches nothing
            return text.casefold()
        host, path = parts.hostname or "", parts.path
    else:
        scp = _SCP_LIKE.fullmatch(text)
        host, path = (scp.group(1), scp.group(2)) if scp else ("", text)
    path = path.strip("/")
    path = path.removesuffix(".git").rstrip("/")
    return f"{host}/{path}".casefold()


def tag_names_package(tag: str, package: str) -> bool:
    """Whether ``tag`` is ``package-VERSION`` or ``package-VERSION-RELEASE`` (``_`` may
    separate too); version and release must each contain a digit (Copr's rule)."""
    for separator in ("-", "_"):
        parts = tag.split(separator)
        for _ in range(2):
            if len(parts) < 2 or not any(ch.isdigit() for ch in parts[-1]):
                break
            parts.pop()
            if package in ("-".join(parts), "_".join(parts)):
                return True
    return False


# --- who may call ----------------------------------------------------------------------


def generate_secret(session: Session, actor: User | None, project: Project) -> str:
    """A new webhook secret for the project; the previous one stops working."""
    require(session, actor, Action.edit, project)
    project.webhook_secret = new_webhook_secret()
    session.flush()
    return project.webhook_secret


def hooked_project(session: Session, project_id: int, secret: str) -> Project:
    """The project a webhook URL names, if the URL's secret is the project's."""
    project = session.scalar(
        select(Project)
        .where(Project.id == project_id)
        .options(selectinload(Project.chroots).selectinload(ProjectChroot.mock_chroot))
    )
    if project is None:
        raise NotFound(f"Project {project_id} does not exist.")
    if not project.webhook_secret or not hmac.compare_digest(
        secret.encode("utf-8", "surrogateescape"), project.webhook_secret.encode()
    ):
        raise Forbidden("This webhook URL's secret is not the project's webhook secret.")
    return project


def check_signature(project: Project, body: bytes, signature: str | None) -> None:
    """``signature`` must be the hex HMAC-SHA256 of ``body`` keyed with the project's secret."""
    assert project.webhook_secret
    expected = hmac.new(project.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    given = (signature or "").strip().lower().encode("utf-8", "surrogateescape")
    if not given or not hmac.compare_digest(expected.encode(), given):
        raise Forbidden(
            "The request is not signed with the project's webhook secret "
            "(set it as the webhook's secret in the forge)."
        )


def check_token(project: Project, token: str | None) -> None:
    """``token`` must be the project's secret (GitLab's ``X-Gitlab-Token``)."""
    assert project.webhook_secret
    given = (token or "").encode("utf-8", "surrogateescape")
    if not given or not hmac.compare_digest(project.webhook_secret.encode(), given):
        raise Forbidden(
            "The request does not carry the project's webhook secret as its token "
            "(set it as the webhook's secret token in the forge)."
        )


# --- what a push builds ----------------------------------------------------------------


def _touches(package: Package, changed: frozenset[str] | None) -> bool:
    """A branch push touches the package unless the forge lists the changed files and none
    is in the package's subdirectory (or, listing none, the push changed nothing)."""
    if changed is None:
        return True
    subdir = str(package.source_json.get("subdirectory") or "").strip("/")
    if not subdir:
        return bool(changed)
    return any(path == subdir or path.startswith(subdir + "/") for path in changed)


def packages_for_push(
    session: Session, project: Project, push: Push, package_name: str | None = None
) -> list[Package]:
    """The packages of ``project`` the push rebuilds (see the module's docstring); with
    ``package_name`` (a webhook URL naming a package) only that one is considered."""
    if push.commit is None:
        return []  # a deleted branch or tag builds nothing
    stmt = select(Package).where(
        Package.project_id == project.id,
        Package.webhook_rebuild.is_(True),
        Package.source_type.in_(("scm", "distgit")),
    )
    if package_name is not None:
        stmt = stmt.where(Package.name == check_package_name(package_name))
    pushed = {normalise_repo_url(url) for url in push.repo_urls}
    chosen = []
    for package in session.scalars(stmt.order_by(Package.id)):
        url = clone_url_of(package.source_type, package.source_json)
        if url is None or normalise_repo_url(url) not in pushed:
            continue
        if push.kind == "tag":
            if package.name != package_name and not tag_names_package(push.name, package.name):
                continue
        else:
            committish = str(package.source_json.get("committish") or "")
            if committish and committish not in (push.name, f"refs/heads/{push.name}"):
                continue
            if not _touches(package, push.changed_files):
                continue
        set_committed_value(package, "project", project)
        chosen.append(package)
    return chosen


def rebuild_on_push(
    session: Session,
    project: Project,
    push: Push,
    settings: SourceSettings,
    *,
    results_url: str,
    package_name: str | None = None,
) -> list[Build]:
    """Queue a background build of every package the push rebuilds, at the pushed commit
    (a tag push: at the tag), submitted together (``core/ordering.py``). A package whose
    build cannot be queued (e.g. its denylist leaves no chroot) is skipped and logged; the
    others still build."""
    committish = push.name if push.kind == "tag" else push.commit
    built: list[Build] = []
    for package in packages_for_push(session, project, push, package_name):
        try:
            with session.begin_nested():
                build = queue_package_build(
                    session,
                    package,
                    BuildOptions(background=True),
                    {"committish": committish},
                    settings,
                    results_url=results_url,
                    # One push's builds are one submission: ordered by their dependencies.
                    together_with=built[0] if built else None,
                )
        except InvalidInput as exc:
            log.warning("webhook of %s: not building %s: %s", project.full_name, package.name, exc)
            continue
        built.append(build)
    return built


def rebuild_package(
    session: Session, project: Project, package_name: str, *, results_url: str
) -> Build:
    """Rebuild one package from its default source, whatever was pushed (the custom
    webhook, which CI jobs call)."""
    package = get_package(session, project, package_name)
    if package.source_type == UNSET:
        raise InvalidInput(f"package {package.name} has no default source to build")
    return queue_package_build(
        session, package, BuildOptions(background=True), results_url=results_url
    )
