"""Preparing a coprd instance: its data directory, schema, default chroots, first admin."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from coprd import datadir
from coprd.config import Settings
from coprd.core.chroots import seed_mock_chroots
from coprd.core.tokens import copr_cli_config, issue_token
from coprd.core.users import create_user
from coprd.db.engine import make_engine, make_session_factory, write_session
from coprd.db.migrate import upgrade
from coprd.db.models import User

ADMIN_NAME = "admin"
ADMIN_CONFIG = "copr-cli-admin.conf"


@dataclass(frozen=True)
class FirstAdmin:
    name: str
    password: str
    config_path: Path


def prepare(settings: Settings) -> Engine:
    """Create the data directory (or tighten the modes of an existing one's secrets), bring
    the schema to head and seed an empty chroot table."""
    datadir.make_data_dir(settings.data_dir)
    datadir.tighten(settings)
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    with write_session(make_session_factory(engine)) as session:
        seed_mock_chroots(session)
    return engine


def create_first_admin(settings: Settings, session: Session) -> FirstAdmin | None:
    """On a database without users: an admin account and its ready copr-cli config."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    admin = create_user(session, ADMIN_NAME, password=password, is_admin=True)
    issued = issue_token(session, admin, settings.token_days)
    path = settings.data_dir / ADMIN_CONFIG
    datadir.write_private(path, copr_cli_config(issued, settings.public_url))
    return FirstAdmin(ADMIN_NAME, password, path)


LOCAL_BUILDER_TOKEN = "builder-local.token"


def local_builder_token(settings: Settings, session: Session) -> Path:
    """The token file of the agents ``coprd serve --builders N`` starts on this machine.

    Reused while it is valid; otherwise a new builder is registered. Tokens are stored
    hashed, so a lost file means a new builder, never a recovered secret.
    """
    from coprd.core.builders import authenticate_builder, create_builder
    from coprd.core.errors import NotAuthenticated

    path = settings.data_dir / LOCAL_BUILDER_TOKEN
    if path.is_file():
        try:
            authenticate_builder(session, path.read_text().strip())
            return path
        except NotAuthenticated:
            pass
    _, token = create_builder(session, f"local-{secrets.token_hex(3)}")
    datadir.write_private(path, token + "\n")
    return path
