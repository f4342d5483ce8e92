"""The fields of a project's settings form, shared by "new project" and "settings": how
the form's text fields, checkboxes and selects become the core's input (a dict for
``NewProject`` / ``ProjectFields``), and the values the form shows.

Nothing is checked here: the core's input types refuse what is wrong, with the message
shown next to the form.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from coprd.core import chroots
from coprd.core.projects import MAX_TEXT
from coprd.db.models import Project, User
from coprd.web.pages.forms import field, flag, values

__all__ = [
    "BOOTSTRAP_MODES",
    "FLAGS",
    "ISOLATIONS",
    "active_chroot_names",
    "chosen_chroots",
    "fields_of",
    "flags_for",
    "form_values",
    "new_project_values",
    "project_values",
]

TEXTS = ("description", "instructions")
SHORT_TEXTS = ("homepage", "contact", "bootstrap_image")
LISTS = ("additional_repos", "runtime_dependencies", "packit_forge_projects_allowed")
FLAGS = {
    "enable_net": "Builds may use the network",
    "unlisted_on_hp": "Leave the project off the home page",
    "auto_prune": "Remove old builds from the repositories automatically",
    "follow_fedora_branching": "Enable new Fedora branches when they are made",
    "devel_mode": "Devel mode: builds go into each chroot's devel/ repository only; "
    "the repositories users install from change when you regenerate them",
    "multilib": "Multilib repositories (i386 packages in x86_64 repositories)",
    "module_hotfixes": "module_hotfixes=1 in the repository files",
}
# Shown to site admins only, as on Copr: only they may turn the pruner off.
ADMIN_FLAGS = frozenset({"auto_prune"})
BOOTSTRAP_MODES = ("default", "on", "off", "image")
ISOLATIONS = ("default", "simple", "nspawn")
NUMBERS = ("repo_priority",)
MAX_SHORT = 4096


def _blank_is_none(value: str) -> str | None:
    return value.strip() or None


def flags_for(viewer: User | None) -> dict[str, str]:
    """The checkboxes a settings form offers this viewer."""
    admin = viewer is not None and viewer.is_admin
    return {name: label for name, label in FLAGS.items() if admin or name not in ADMIN_FLAGS}


def fields_of(form: FormData, viewer: User | None) -> dict[str, Any]:
    """The project settings a settings form carries, as the core's input takes them.

    Every field the form shows is sent, so an unchecked box means "off" and an empty text
    means "empty"; an empty number means "keep" (repo priority) or "never" (deletion). A
    box the form did not offer this viewer (``flags_for``) means "keep".
    """
    data: dict[str, Any] = {name: field(form, name, max_length=MAX_TEXT + 1) for name in TEXTS}
    for name in SHORT_TEXTS:
        data[name] = field(form, name, max_length=MAX_SHORT).strip()
    for name in LISTS:
        data[name] = field(form, name, max_length=MAX_TEXT + 1)
    for name in flags_for(viewer):
        data[name] = flag(form, name)
    for name in ("bootstrap", "isolation"):
        data[name] = _blank_is_none(field(form, name, max_length=100))
    for name in NUMBERS:
        data[name] = _blank_is_none(field(form, name, max_length=100))
    data["delete_after_days"] = _blank_is_none(field(form, "delete_after_days")) or -1
    return data


def chosen_chroots(form: FormData) -> list[str]:
    return values(form, "chroots", max_length=200)


def form_values(form: FormData) -> dict[str, Any]:
    """What a refused form shows again: what was sent."""
    shown: dict[str, Any] = {
        name: field(form, name, max_length=MAX_TEXT + 1)
        for name in (*TEXTS, *SHORT_TEXTS, *LISTS, *NUMBERS, "delete_after_days", "name")
    }
    shown.update({name: flag(form, name) for name in FLAGS})
    shown["bootstrap"] = field(form, "bootstrap", max_length=100) or "default"
    shown["isolation"] = field(form, "isolation", max_length=100) or "default"
    shown["chroots"] = set(chosen_chroots(form))
    return shown


def _default(column: str) -> Any:
    default = Project.__table__.columns[column].default
    if default is None or callable(default.arg):
        return ""
    return default.arg


def new_project_values() -> dict[str, Any]:
    """What the new-project form shows first: the core's defaults, no chroot chosen."""
    shown: dict[str, Any] = {
        name: "" for name in (*TEXTS, *SHORT_TEXTS, *LISTS, *NUMBERS, "delete_after_days", "name")
    }
    shown.update({name: bool(_default(name)) for name in FLAGS})
    shown["bootstrap"] = _default("bootstrap")
    shown["isolation"] = _default("isolation")
    shown["chroots"] = set()
    return shown


def project_values(project: Project) -> dict[str, Any]:
    """What the settings form shows: the project as it is."""
    shown: dict[str, Any] = {name: getattr(project, name) or "" for name in (*TEXTS, *SHORT_TEXTS)}
    shown.update({name: "\n".join(getattr(project, name)) for name in LISTS})
    shown.update({name: bool(getattr(project, name)) for name in FLAGS})
    shown["bootstrap"] = project.bootstrap
    shown["isolation"] = project.isolation
    shown["repo_priority"] = "" if project.repo_priority is None else str(project.repo_priority)
    shown["delete_after_days"] = (
        "" if project.delete_after_days is None else str(project.delete_after_days)
    )
    shown["name"] = project.name
    shown["chroots"] = {pc.mock_chroot.name for pc in project.chroots}
    return shown


def active_chroot_names(db: Session, project: Project | None = None) -> list[str]:
    """The chroots a settings form offers: every active one, and those the project has."""
    names = {c.name for c in chroots.list_mock_chroots(db, active_only=True)}
    if project is not None:
        names |= {pc.mock_chroot.name for pc in project.chroots}
    return sorted(names)
