"""The APIv3 root, credential check and token renewal."""

from __future__ import annotations

from fastapi import APIRouter, Request

from coprd.api_v3.deps import CurrentUser
from coprd.api_v3.schemas import ApiTokenOut, UserOut, Version
from coprd.core.tokens import renew_token
from coprd.http import DB, AppSettings

router = APIRouter(tags=["general"])


@router.get("", response_model=Version, summary="API version")
def home(settings: AppSettings) -> Version:
    return Version(documentation=f"{settings.public_url}/api_3/docs")


@router.get("/auth-check", response_model=UserOut, summary="Who the credentials belong to")
def auth_check(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, name=user.name, admin=user.is_admin)


@router.post("/api-token", response_model=ApiTokenOut, summary="Replace the token used")
def api_token(request: Request, db: DB, user: CurrentUser, settings: AppSettings) -> ApiTokenOut:
    issued = renew_token(db, user, request.state.api_login, settings.token_days)
    return ApiTokenOut(
        name=user.name,
        api_login=issued.login,
        api_token=issued.token,
        expiration=issued.expires_on.isoformat(),
    )
