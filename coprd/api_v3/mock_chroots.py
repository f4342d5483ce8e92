"""``mock-chroots/list``: the active chroots, as ``{name: comment}``."""

from __future__ import annotations

from fastapi import APIRouter

from coprd.core.chroots import list_mock_chroots
from coprd.http import DB

router = APIRouter(tags=["mock chroots"])


@router.get(
    "/mock-chroots/list",
    response_model=dict[str, str],
    summary="Active chroots with their comments",
)
def mock_chroot_list(db: DB) -> dict[str, str]:
    return {mc.name: mc.comment for mc in list_mock_chroots(db, active_only=True)}
