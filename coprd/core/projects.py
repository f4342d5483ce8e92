"""Projects: creating, reading, changing and deleting them.

Input arrives as :class:`ProjectFields` (and :class:`NewProject`), the core's input types:
every dialect and the web UI build one of these, and all normalising (splitting a repo
string, mapping ``use_bootstrap_container``, the meaning of ``-1``) happens here, once.
A field left ``None`` means "not given": defaults on create, "keep" on edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, defer, selectinload
from sqlalchemy.sql.elements import ColumnElement

from coprd.core.chroots import resolve_active_chroots
from coprd.core.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from coprd.core.groups import get_group, is_member
from coprd.core.names import check_owner_name, check_project_name, is_id
from coprd.core.packit import strip_schemes
from coprd.core.pagination import Page, fetch_page
from coprd.core.permissions import Action, require
from coprd.core.results import unwant_project, want_repo
from coprd.core.text import CONTROLS, SPACES, Integer, NonEmpty, Rule, Split
from coprd.core.tokens import new_webhook_secret
from coprd.core.unsupported import UNSUPPORTED, refuse_unsupported, unsupported_schema
from coprd.core.users import get_user
from coprd.db.models import MockChroot, Project, ProjectChroot, User

MAX_TEXT = 65_536
MAX_URL = 2048
MAX_LIST = 200
SEPARATORS = SPACES + ","
"""What separates the items of a list sent as one string: whitespace and commas."""
# Texts: no control characters but tab, LF and CR.
_TEXT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f]*"
# A word (package, option, module, repository, forge project) ends up in build configs
# verbatim: no control characters, and no "{", which mock would read as the start of a
# template (the builder refuses it too, ``builder/backends/base.py``; here the user hears
# it when saving, not when a build fails).
_NOT_IN_WORDS = CONTROLS + "{"
_WORD = f"[^{_NOT_IN_WORDS}]*"
# A repository: a network URL or another Copr project (copr://owner/project), a word
# without whitespace.
_REPO_SCHEMES = r"(?:https?|ftp|copr)://"
_REPO_URL = f"{_REPO_SCHEMES}[^{_NOT_IN_WORDS}{SPACES}]*"


def _not_a_word(value: str) -> str | None:
    if "{" in value:
        return "must not contain '{' (build configurations read it as a template)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "must not contain control characters"
    return None


def _word_refused(value: str) -> str:
    return _not_a_word(value) or "is not a word"


def _repo_refused(url: str) -> str:
    return _not_a_word(url) or (
        f"{url[:80]!r} is not a repository URL (http, https, ftp or copr://)"
    )


_TEXT_RULE = Rule(_TEXT, "must not contain control characters")
Word = Annotated[str, Field(max_length=MAX_URL), Rule(_WORD, _word_refused)]
RepoUrl = Annotated[str, Field(max_length=MAX_URL), Rule(_REPO_URL, _repo_refused)]
WordList = Annotated[
    Annotated[list[Word], Field(max_length=MAX_LIST)] | None,
    Split(f"[^{_NOT_IN_WORDS}{SEPARATORS}]+", SEPARATORS, MAX_LIST, MAX_URL),
]
"""Words: a list, or one string of them separated by whitespace or commas."""
RepoList = Annotated[
    Annotated[list[RepoUrl], Field(max_length=MAX_LIST)] | None,
    Split(f"{_REPO_SCHEMES}[^{_NOT_IN_WORDS}{SEPARATORS}]*", SEPARATORS, MAX_LIST, MAX_URL),
]
"""Repository URLs: a list, or one string of them separated by whitespace or commas."""
TextValue = Annotated[str, Field(max_length=MAX_TEXT), _TEXT_RULE]
ShortTextValue = Annotated[str, Field(max_length=MAX_URL), _TEXT_RULE]
Text = TextValue | None
ShortText = ShortTextValue | None


DaysToLive = Annotated[int, Integer(-1, 3650)]
RepoPriority = Annotated[int, Integer(1, 99)]
Bootstrap = Literal["default", "on", "off", "image", "unchanged", "untouched"]
Isolation = Literal["default", "simple", "nspawn", "unchanged"]


def _unsupported(name: str) -> dict[str, Any]:
    """A setting this server refuses a value of: so described, and so documented."""
    item = UNSUPPORTED[name]
    return {
        "description": f"{item.shown} is not supported by this server ({item.reason}) "
        "and is refused.",
        "json_schema_extra": unsupported_schema(name),
    }


def _both(**values: Any) -> dict[str, Any]:
    """The JSON schema of an object whose fields have these (JSON schema) values."""
    return {"properties": values, "required": list(values)}


# The rules between fields of one request, as JSON schema (each checked in the model's
# validators beside it): devel_mode and disable_createrepo are one setting, and bootstrap
# 'image' needs an image, which an empty bootstrap_image removes.
_DISAGREE = {
    "anyOf": [
        _both(devel_mode={"const": True}, disable_createrepo={"const": False}),
        _both(devel_mode={"const": False}, disable_createrepo={"const": True}),
    ]
}
_IMAGE_REMOVED = _both(bootstrap={"const": "image"}, bootstrap_image={"const": ""})
_NEEDS_IMAGE = "bootstrap 'image' needs a bootstrap_image"


def _refuse(*schemas: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A model's ``json_schema_extra``: the request may match none of ``schemas``."""

    def document(schema: dict[str, Any]) -> None:
        schema["allOf"] = [{"not": refused} for refused in schemas]

    return document


class ProjectFields(BaseModel):
    """Every project setting a user may change."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_refuse(_DISAGREE, _IMAGE_REMOVED))

    description: Text = None
    instructions: Text = None
    homepage: ShortText = None
    contact: ShortText = None
    additional_repos: RepoList = None
    unlisted_on_hp: bool | None = None
    enable_net: bool | None = None
    auto_prune: bool | None = None
    bootstrap: Bootstrap | None = None
    bootstrap_image: ShortText = None
    isolation: Isolation | None = None
    use_bootstrap_container: bool | None = Field(
        default=None, description="Obsolete: true means bootstrap on, false off."
    )
    follow_fedora_branching: bool | None = None
    devel_mode: bool | None = None
    delete_after_days: DaysToLive | None = Field(
        default=None, description="Delete the project after N days; -1 never."
    )
    multilib: bool | None = None
    module_hotfixes: bool | None = None
    fedora_review: bool | None = Field(default=None, **_unsupported("fedora_review"))
    appstream: bool | None = Field(default=None, **_unsupported("appstream"))
    disable_createrepo: bool | None = Field(
        default=None, description="The old APIs' name of devel_mode: one setting."
    )
    runtime_dependencies: RepoList = None
    packit_forge_projects_allowed: Annotated[WordList, AfterValidator(strip_schemes)] = None
    repo_priority: RepoPriority | None = None

    @model_validator(mode="after")
    def _normalise(self) -> ProjectFields:
        if self.bootstrap == "image" and self.bootstrap_image == "":
            raise ValueError(_NEEDS_IMAGE)
        if self.bootstrap in ("unchanged", "untouched"):
            self.bootstrap = None
        if self.isolation == "unchanged":
            self.isolation = None
        if self.use_bootstrap_container is not None and self.bootstrap is None:
            self.bootstrap = "on" if self.use_bootstrap_container else "off"
        if self.bootstrap_image and self.bootstrap is None:
            self.bootstrap = "image"
        if self.disable_createrepo is not None:
            if self.devel_mode is not None and self.devel_mode != self.disable_createrepo:
                raise ValueError("devel_mode and disable_createrepo are one setting; they disagree")
            self.devel_mode = self.disable_createrepo
        return self


ChrootNames = Annotated[
    list[Annotated[str, Field(max_length=200)]],
    Field(max_length=MAX_LIST),
    NonEmpty("select at least one chroot"),
]
"""The chroots a project is created with: at least one (the API documents name the
active ones, which are the ones it may enable)."""
# On creation the project has no image yet: bootstrap 'image' needs one in the request. And
# a persistent project is never deleted, so it cannot be given a deadline either.
_IMAGE_MISSING = _both(bootstrap={"const": "image"}, bootstrap_image={"enum": [None, ""]})
_IMAGE_MISSING["required"] = ["bootstrap"]
_PERSISTENT_DEADLINE = _both(
    persistent={"const": True}, delete_after_days={"type": "integer", "not": {"enum": [-1, 0]}}
)
PERSISTENT_DEADLINE = "'delete after' can not be combined with persistent"


class NewProject(ProjectFields):
    """A project to create: a name, its chroots, and settings fixed at creation."""

    model_config = ConfigDict(
        json_schema_extra=_refuse(_DISAGREE, _IMAGE_MISSING, _PERSISTENT_DEADLINE)
    )

    name: str
    chroots: ChrootNames
    persistent: bool | None = None
    storage: Literal["backend", "pulp"] | None = Field(default=None, **_unsupported("storage"))

    @model_validator(mode="after")
    def _check_new(self) -> NewProject:
        if self.bootstrap == "image" and not self.bootstrap_image:
            raise ValueError(_NEEDS_IMAGE)
        if self.persistent and self.delete_after_days not in (None, -1, 0):
            raise ValueError(PERSISTENT_DEADLINE)
        return self


_SETTING_COLUMNS = (
    "description",
    "instructions",
    "homepage",
    "contact",
    "additional_repos",
    "unlisted_on_hp",
    "enable_net",
    "auto_prune",
    "bootstrap",
    "bootstrap_image",
    "isolation",
    "follow_fedora_branching",
    "devel_mode",
    "multilib",
    "module_hotfixes",
    "fedora_review",
    "appstream",
    "runtime_dependencies",
    "packit_forge_projects_allowed",
    "repo_priority",
)


def _apply(project: Project, fields: ProjectFields) -> None:
    refuse_unsupported(fields)
    for column in _SETTING_COLUMNS:
        value = getattr(fields, column)
        if value is not None:
            setattr(project, column, value)
    if fields.delete_after_days is not None:
        project.delete_after_days = (
            None if fields.delete_after_days in (-1, 0) else fields.delete_after_days
        )
    if project.bootstrap == "image" and not project.bootstrap_image:
        # The request's own fields were checked (ProjectFields, NewProject): what is
        # missing is the image the project would keep, so the project's state is refused.
        raise Conflict(f"{_NEEDS_IMAGE}, and the project has none")
    project.search_text = search_text(project.owner_name, project.name, project.description)


def search_text(ownername: str, projectname: str, description: str | None) -> str:
    """What :func:`search_projects` looks in. Lowercased here, not in SQL, because
    SQLite's ``lower()`` knows only ASCII letters."""
    return f"{ownername}/{projectname}\n{description or ''}".lower()


def _with_chroots(stmt: Select[Project]) -> Select[Project]:
    return stmt.options(selectinload(Project.chroots).selectinload(ProjectChroot.mock_chroot))


def _with_chroot_names(stmt: Select[Project]) -> Select[Project]:
    """For pages of projects: of their chroots only what :func:`chroot_names` reads.

    One query for the chroots of the whole page, without their JSON and comps columns,
    which cost more to load than the projects themselves; reading those raises.
    """
    return stmt.options(
        defer(Project.search_text, raiseload=True),
        selectinload(Project.chroots)
        .load_only(ProjectChroot.mock_chroot_id, raiseload=True)
        .joinedload(ProjectChroot.mock_chroot, innerjoin=True)
        .load_only(MockChroot.name, raiseload=True),
    )


def get_project(session: Session, ownername: str, projectname: str) -> Project:
    """The project ``ownername/projectname`` with its chroots loaded."""
    check_owner_name(ownername)
    check_project_name(projectname)
    project = session.scalar(
        _with_chroots(
            select(Project).where(Project.owner_name == ownername, Project.name == projectname)
        )
    )
    if project is None:
        raise NotFound(f"Project {ownername}/{projectname} does not exist.")
    return project


def get_project_by_id(session: Session, project_id: int) -> Project:
    """The project with this id (APIv2 names projects so), with its chroots loaded."""
    project = None
    # Ids past the databases' integer do not exist (SQLite cannot even bind them).
    if is_id(project_id):
        project = session.scalar(_with_chroots(select(Project).where(Project.id == project_id)))
    if project is None:
        raise NotFound(f"Project {project_id} does not exist.")
    return project


PROJECT_ORDERS = {"id": Project.id, "name": Project.name, "ownername": Project.owner_name}


def list_projects(
    session: Session,
    ownername: str | None,
    page: Page,
    *,
    projectname: str | None = None,
    query: str | None = None,
) -> Sequence[Project]:
    """Projects, of one owner, of one name and matching a search ``query`` if given."""
    stmt = select(Project)
    if ownername is not None:
        check_owner_name(ownername)
        stmt = stmt.where(Project.owner_name == ownername)
    if projectname is not None:
        check_project_name(projectname)
        stmt = stmt.where(Project.name == projectname)
    if query is not None:
        stmt = stmt.where(_matches(query))
    return fetch_page(session, _with_chroot_names(stmt), page, PROJECT_ORDERS, Project.id)


MAX_QUERY = 200
"""The longest search text."""
SEARCH_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_QUERY,
    "pattern": "^[^\\x00]*[^\\s\\x00][^\\x00]*$",
}
"""What :func:`_matches` accepts (not only spaces, no NUL), for the API documents."""


def _matches(query: str) -> ColumnElement[bool]:
    query = query.strip()
    if not query:
        raise InvalidInput("must not be empty", "query")
    if len(query) > MAX_QUERY or "\x00" in query:
        raise InvalidInput(f"must be at most {MAX_QUERY} characters, without NUL", "query")
    return Project.search_text.contains(query.lower(), autoescape=True)


def search_projects(session: Session, query: str, page: Page) -> Sequence[Project]:
    """Projects whose owner/name or description contains ``query``, in any case."""
    stmt = select(Project).where(_matches(query))
    return fetch_page(session, _with_chroot_names(stmt), page, PROJECT_ORDERS, Project.id)


def resolve_owner(session: Session, actor: User, ownername: str) -> tuple[User, int | None]:
    """The user a new project belongs to and its group id; checks that ``actor`` may."""
    if ownername.startswith("@"):
        group = get_group(session, ownername[1:])
        if not (actor.is_admin or is_member(session, group.id, actor.id)):
            raise Forbidden(f"user {actor.name!r} is not a member of group {ownername}")
        return actor, group.id
    if ownername != actor.name:
        owner = get_user(session, ownername)
        if not actor.is_admin:
            raise Forbidden(f"user {actor.name!r} may not create projects for {ownername!r}")
        return owner, None
    return actor, None


def create_project(
    session: Session,
    actor: User | None,
    ownername: str,
    new: NewProject,
    *,
    exist_ok: bool = False,
) -> Project:
    """Create ``ownername/new.name`` with its chroots; with ``exist_ok`` return an existing one."""
    if actor is None:
        raise NotAuthenticated("creating a project requires an API token")
    check_owner_name(ownername)
    check_project_name(new.name)
    owner, group_id = resolve_owner(session, actor, ownername)
    existing = session.scalar(
        select(Project.id).where(Project.owner_name == ownername, Project.name == new.name)
    )
    if existing is not None:
        if exist_ok:
            return get_project(session, ownername, new.name)
        raise Conflict(f"You already have a project named '{new.name}' ({ownername}/{new.name}).")
    if not new.chroots:
        raise InvalidInput("select at least one chroot", "chroots")
    mock_chroots = resolve_active_chroots(session, new.chroots)
    if new.storage == "pulp" and not actor.is_admin:
        raise Forbidden("only site admins may choose the storage of a project")

    project = Project(
        name=new.name,
        owner_name=ownername,
        user_id=owner.id,
        group_id=group_id,
        webhook_secret=new_webhook_secret(),  # as on Copr: webhooks work from the start
    )
    require_prune_setting(actor, new)
    _apply(project, new)
    if new.persistent is not None:
        if new.persistent and not actor.is_admin:
            raise Forbidden("Non-admin cannot create persistent project.")
        project.persistent = new.persistent
    check_persistent_settings(project)
    project.storage = new.storage or "backend"
    project.chroots = [ProjectChroot(mock_chroot=mc) for mc in mock_chroots]
    session.add(project)
    session.flush()
    for mc in mock_chroots:
        want_repo(session, (project.owner_name, project.name), mc.name, devel=project.devel_mode)
    return project


def edit_project(
    session: Session,
    actor: User | None,
    project: Project,
    fields: ProjectFields,
    chroots: Sequence[str] | None = None,
) -> Project:
    """Change settings; ``chroots``, when given, replaces the set of enabled chroots."""
    require(session, actor, Action.edit, project)
    assert actor is not None  # require() refused anonymous edits
    require_prune_setting(actor, fields, now_on=project.auto_prune)
    was_devel = project.devel_mode
    _apply(project, fields)
    check_persistent_settings(project)
    if chroots is not None:
        if not chroots:
            raise InvalidInput("a project needs at least one chroot", "chroots")
        set_project_chroots(session, project, resolve_active_chroots(session, chroots))
    if project.devel_mode != was_devel:
        # As Copr does when auto_createrepo changes: on, each chroot gets its devel repo;
        # off, the main metadata catches up with every build published meanwhile.
        for pc in project.chroots:
            want_repo(
                session,
                (project.owner_name, project.name),
                pc.mock_chroot.name,
                devel=project.devel_mode,
            )
    session.flush()
    return project


def set_project_chroots(session: Session, project: Project, wanted: Sequence[MockChroot]) -> None:
    wanted_ids = {mc.id for mc in wanted}
    project.chroots = [pc for pc in project.chroots if pc.mock_chroot_id in wanted_ids]
    have = {pc.mock_chroot_id for pc in project.chroots}
    for mc in wanted:
        if mc.id not in have:
            project.chroots.append(ProjectChroot(mock_chroot=mc))
            want_repo(
                session, (project.owner_name, project.name), mc.name, devel=project.devel_mode
            )


def require_prune_setting(actor: User, fields: ProjectFields, *, now_on: bool = True) -> None:
    """As on Copr, only site admins may turn the pruner off for a project
    (``core/pruning.py``); anyone may leave it as it is (``now_on``), so a web form that
    sends every field works for a project an admin exempted."""
    if fields.auto_prune is False and now_on and not actor.is_admin:
        raise Forbidden("Non-admin cannot disable auto-prunning.")


PERSISTENT_PROJECT = "This project is protected against deletion."


def check_persistent_settings(project: Project) -> None:
    """A persistent project is never deleted, so it cannot be given a deadline either: a
    new project's request is refused as such (:class:`NewProject`), an edit that gives a
    persistent project one conflicts with the project as it is."""
    if project.persistent and project.delete_after is not None:
        raise Conflict(f"{PERSISTENT_DEADLINE}: the project is persistent")


def require_deletable(project: Project) -> None:
    """Refuse to delete a persistent project: as on Copr, by any means and anyone (an
    admin too; ``persistent`` is set once, at creation, and never changes)."""
    if project.persistent:
        raise Forbidden(PERSISTENT_PROJECT)


def delete_project(session: Session, actor: User | None, project: Project) -> None:
    require(session, actor, Action.edit, project)
    require_deletable(project)
    remove_project(session, project)


def remove_project(session: Session, project: Project) -> None:
    """Delete the project, its builds and (after the commit) its results, asking no one:
    for :func:`delete_project` and the cleanup of expired projects."""
    unwant_project(session, project.owner_name, project.name)
    session.delete(project)
    session.flush()


def chroot_names(project: Project) -> list[str]:
    return sorted(pc.mock_chroot.name for pc in project.chroots)


def chroot_repo_urls(project: Project, results_url: str) -> dict[str, str]:
    """Each enabled chroot's repository URL, by chroot name (DESIGN.md's results layout)."""
    base = f"{results_url}/{project.owner_name}/{project.name}"
    return {name: f"{base}/{name}/" for name in chroot_names(project)}


def list_listed_projects(session: Session, page: Page) -> Sequence[Project]:
    """Projects shown on the home page: all but those ``unlisted_on_hp``."""
    stmt = select(Project).where(Project.unlisted_on_hp.is_(False))
    return fetch_page(session, _with_chroot_names(stmt), page, PROJECT_ORDERS, Project.id)
