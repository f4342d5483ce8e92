"""A project's repositories as a whole: rebuilding their metadata on request.

What goes into which repository when a build ends is the publisher's (``publish/``);
this module decides who may ask for the whole project's metadata to be rebuilt
(``copr-cli regenerate-repos``, the web's "Regenerate" button) and asks for it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from coprd.core.permissions import Action, require
from coprd.core.results import want_regenerated
from coprd.db.models import Project, User

__all__ = ["regenerate_all", "regenerate_repos"]


def regenerate_repos(session: Session, actor: User | None, project: Project) -> list[str]:
    """Rebuild every enabled chroot's repository metadata from what is on disk once this
    transaction commits: the main metadata (which in devel mode takes in every build
    published since) and, in devel mode, the devel one. Those who may edit the project
    may ask, as on Copr. Returns the chroots."""
    require(session, actor, Action.edit, project)
    return regenerate_all(session, project)


def regenerate_all(session: Session, project: Project) -> list[str]:
    """:func:`regenerate_repos`, asking no one: for the operator's ``coprd`` command."""
    chroots = sorted(pc.mock_chroot.name for pc in project.chroots)
    for chroot in chroots:
        want_regenerated(
            session, (project.owner_name, project.name), chroot, devel=project.devel_mode
        )
    return chroots
