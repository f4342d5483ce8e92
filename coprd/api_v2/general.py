"""The APIv2 root: where the client finds every collection."""

from __future__ import annotations

from fastapi import APIRouter

from coprd.api_v2.schemas import V2RootOut

router = APIRouter(tags=["api_2"])


@router.get("", response_model=V2RootOut, summary="Links to the collections")
def root() -> V2RootOut:
    return V2RootOut.make()
