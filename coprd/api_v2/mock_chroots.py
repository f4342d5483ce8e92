"""``/api_2/mock_chroots``: the chroots this service offers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from coprd.api_v2 import links
from coprd.api_v2.schemas import V2MockChrootList, V2MockChrootOut, link_map
from coprd.core.chroots import get_mock_chroot, list_mock_chroots
from coprd.http import DB, parse_bool

router = APIRouter(prefix="/mock_chroots", tags=["api_2 mock chroots"])


@router.get("", response_model=V2MockChrootList, summary="Chroots, all or only active ones")
def list_chroots(
    request: Request,
    db: DB,
    active_only: Annotated[str | None, Query(description="True or False (default)")] = None,
) -> V2MockChrootList:
    found = list_mock_chroots(db, active_only=parse_bool(active_only, "active_only"))
    return V2MockChrootList(
        links=link_map(self=links.requested(request)),
        chroots=[V2MockChrootOut.of(c) for c in found],
    )


@router.get("/{name}", response_model=V2MockChrootOut, summary="One chroot")
def get_chroot(db: DB, name: str) -> V2MockChrootOut:
    return V2MockChrootOut.of(get_mock_chroot(db, name))
