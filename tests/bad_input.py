"""What the three dialects' bad-input tables share (``tests/api_v3``, ``tests/api_legacy``
and ``tests/api_v2``, each ``test_bad_input.py``): a running app on a throw-away database
with the accounts every table uses, the credentials each bad-login actor sends, and one
stage reused from case to case until a case fails.

Arranging a stage costs more than a case, and a case that passes has changed nothing, so
consecutive cases share one; a case that fails leaves its stage ``dirty`` and the next
case gets a fresh one.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from fastapi.testclient import TestClient
from sqlalchemy import update

from coprd.app import create_app
from coprd.config import Settings
from coprd.core import chroots, groups, tokens, users
from coprd.db.engine import make_session_factory, write_session
from coprd.db.models import ApiToken
from tests.conftest import Account, clean_engine

INACTIVE = "epel-9-aarch64"  # deactivated on every stage
LONG = "a" * 300


class Stage:
    """A running app on a database with alice, bob, an admin, a user whose token expired
    and a disabled one, the group ``devs`` and :data:`INACTIVE` deactivated; each dialect's
    stage adds its objects in :meth:`arrange`, through its own API where it can."""

    def __init__(self, template: str, directory: Path) -> None:
        self.directory = directory
        self.engine = clean_engine(template, directory)
        settings = Settings(
            data_dir=directory,
            database_url=self.engine.url.render_as_string(hide_password=False),
            url="http://coprd.test",
            # The cases send bad credentials one after another from one address; how many
            # such a stage takes is throttling's own tests' subject, not these.
            auth_failures_per_account=0,
            auth_failures_per_address=0,
        )
        self.client = TestClient(create_app(settings, self.engine), raise_server_exceptions=False)
        self.client.__enter__()  # one event loop for every request, not one per request
        self.dirty = False
        # What no API can arrange: accounts, a group, an expired token, a chroot's state.
        with write_session(make_session_factory(self.engine)) as session:
            self.accounts = {
                name: Account(user, tokens.issue_token(session, user, 30))
                for name, user in (
                    ("alice", users.create_user(session, "alice")),
                    ("bob", users.create_user(session, "bob")),
                    ("admin", users.create_user(session, "root", is_admin=True)),
                    ("expired", users.create_user(session, "carol")),
                    ("disabled", users.create_user(session, "dave")),
                )
            }
            session.execute(
                update(ApiToken)
                .where(ApiToken.login == self.accounts["expired"].token.login)
                .values(expires_on=dt.date(2020, 1, 1))
            )
            users.disable_user(session, "dave")
            groups.create_group(session, "devs")
            chroots.set_mock_chroot_active(session, INACTIVE, False)
        self.arrange()
        # bob's token used once: a fresh last_used_on is not written again by a case.
        assert self.client.get("/api_3/auth-check", headers=self.headers("bob")).status_code == 200

    def arrange(self) -> None:
        """Make the objects the dialect's cases refer to."""
        raise NotImplementedError

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.engine.dispose()

    def headers(self, who: str) -> dict[str, str | bytes]:
        """The Authorization header ``who`` stands for: an account's, or a bad login."""
        if who in self.accounts:
            return dict(self.accounts[who].headers)
        token = self.accounts["alice"].token

        def basic(pair: str | bytes) -> dict[str, str | bytes]:
            raw = pair.encode() if isinstance(pair, str) else pair
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

        match who:
            case "anon":
                return {}
            case "none-none":  # what python-copr 1.63 sends without a config
                return basic("None:None")
            case "wrong":
                return basic(f"{token.login}:not-the-token")
            case "garbage":
                return {"Authorization": "Basic !!not base64!!"}
            case "bearer":
                return {"Authorization": f"Bearer {token.token}"}
            case "no-colon":
                return basic(token.login)
            case "empty-login":
                return basic(f":{token.token}")
            case "nul-login":
                return basic(f"{token.login}\x00:{token.token}")
            case "long-login":
                return basic(f"{LONG * 10}:{token.token}")
            case "non-ascii":
                return {"Authorization": b"Basic \xe9t\xe9"}
            case "not-utf8":
                return basic(b"\xff\xfe:" + token.token.encode())
        raise AssertionError(f"unknown actor {who!r}")


S = TypeVar("S", bound=Stage)


def stages() -> Iterator[list[S]]:
    """The body of a module-scoped ``_stages`` fixture: the stages made, closed at the end."""
    made: list[S] = []
    yield made
    for stage in made:
        stage.close()


def next_stage(made: list[S], make: Callable[[], S]) -> S:
    """The body of a ``stage`` fixture: the last stage if its cases all passed, else a new
    one from ``make``; dirty until the case says it passed."""
    if not made or made[-1].dirty:
        if made:
            made.pop().close()
        made.append(make())
    made[-1].dirty = True
    return made[-1]
