"""A project's settings for one chroot in the legacy API: its buildroot packages."""

from __future__ import annotations

from fastapi import APIRouter

from coprd.api_legacy import forms
from coprd.api_legacy.forms import Form
from coprd.api_legacy.schemas import ChrootOut
from coprd.auth import CurrentUser
from coprd.core.project_chroots import ChrootFields, edit_project_chroot, get_project_chroot
from coprd.core.projects import get_project
from coprd.http import DB

router = APIRouter(tags=["legacy"])

# Legacy field → the core's. 1.63 always sends buildroot_pkgs; "" empties the list.
CHROOT_FIELDS = {"buildroot_pkgs": "additional_packages", "repos": "additional_repos"}


@router.get(
    "/{username}/{projectname}/detail/{chrootname}",
    response_model=ChrootOut,
    summary="A project's settings for a chroot",
)
def chroot_detail(db: DB, username: str, projectname: str, chrootname: str) -> ChrootOut:
    project = get_project(db, username, projectname)
    return ChrootOut.of(get_project_chroot(project, chrootname))


@router.post(
    "/{username}/{projectname}/modify/{chrootname}",
    response_model=ChrootOut,
    summary="Change a project's settings for a chroot",
    openapi_extra=forms.body_doc(CHROOT_FIELDS, model=ChrootFields, names=CHROOT_FIELDS),
)
def modify_chroot(
    db: DB, user: CurrentUser, username: str, projectname: str, chrootname: str, fields: Form
) -> ChrootOut:
    forms.reject_unknown(fields, CHROOT_FIELDS)
    changes = forms.validated(ChrootFields, forms.renamed(fields, CHROOT_FIELDS), CHROOT_FIELDS)
    project = get_project(db, username, projectname)
    return ChrootOut.of(edit_project_chroot(db, user, project, chrootname, changes))
