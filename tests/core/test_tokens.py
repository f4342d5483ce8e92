"""API tokens: hashed at rest, expiring, tied to active accounts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core import tokens, users
from coprd.core.errors import InvalidInput, NotAuthenticated
from coprd.db.models import ApiToken


def test_secret_is_stored_only_as_a_hash(db: Session) -> None:
    issued = tokens.issue_token(db, users.create_user(db, "alice"))
    row = db.scalar(select(ApiToken).where(ApiToken.login == issued.login))
    assert row is not None
    assert issued.token not in row.secret_hash
    assert tokens.authenticate_token(db, issued.login, issued.token)[0].name == "alice"


def test_wrong_secret_and_unknown_login_are_refused(db: Session) -> None:
    issued = tokens.issue_token(db, users.create_user(db, "alice"))
    with pytest.raises(NotAuthenticated):
        tokens.authenticate_token(db, issued.login, issued.token + "x")
    with pytest.raises(NotAuthenticated):
        tokens.authenticate_token(db, "nobody", issued.token)


def test_expired_token_is_refused(db: Session) -> None:
    issued = tokens.issue_token(db, users.create_user(db, "alice"), days=1)
    row = db.scalar(select(ApiToken).where(ApiToken.login == issued.login))
    assert row is not None
    row.expires_on = dt.date.today() - dt.timedelta(days=1)
    with pytest.raises(NotAuthenticated, match="expired"):
        tokens.authenticate_token(db, issued.login, issued.token)


def test_default_validity_is_180_days(db: Session) -> None:
    issued = tokens.issue_token(db, users.create_user(db, "alice"))
    assert (issued.expires_on - dt.date.today()).days in (180, 181)
    with pytest.raises(InvalidInput):
        tokens.issue_token(db, users.create_user(db, "bob"), days=0)


def test_config_block_allows_plain_http_only_when_told() -> None:
    issued = tokens.IssuedToken("alice", "L", "T", dt.date(2027, 5, 1))
    block = tokens.copr_cli_config(issued, "http://127.0.0.1:8080")
    assert block.splitlines() == [
        "[copr-cli]",
        "login = L",
        "username = alice",
        "token = T",
        "copr_url = http://127.0.0.1:8080",
        "encrypted = False",
        "# expiration date: 2027-05-01",
    ]
    assert "encrypted" not in tokens.copr_cli_config(issued, "https://copr.example.com")


def test_passwords_use_a_real_hasher(db: Session) -> None:
    user = users.create_user(db, "alice", password="correct horse")
    assert user.password_hash and user.password_hash.startswith("$argon2")
    assert users.check_password(user, "correct horse")
    assert not users.check_password(user, "wrong")
