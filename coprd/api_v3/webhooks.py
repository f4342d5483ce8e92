"""``webhook/…``: the project's webhook secret, as copr-cli's new-webhook-secret asks for it."""

from __future__ import annotations

from fastapi import APIRouter

from coprd.api_v3.deps import CurrentUser
from coprd.api_v3.schemas import WebhookSecretOut
from coprd.core import projects, webhooks
from coprd.http import DB

router = APIRouter(prefix="/webhook", tags=["webhooks"])


@router.post(
    "/generate/{ownername}/{projectname}",
    response_model=WebhookSecretOut,
    summary="Replace the project's webhook secret",
    description="The previous secret stops working: forges' webhooks need the new one.",
)
def generate(db: DB, user: CurrentUser, ownername: str, projectname: str) -> WebhookSecretOut:
    project = projects.get_project(db, ownername, projectname)
    secret = webhooks.generate_secret(db, user, project)
    return WebhookSecretOut(
        id=project.id,
        name=project.name,
        ownername=project.owner_name,
        full_name=project.full_name,
        webhook_secret=secret,
    )
