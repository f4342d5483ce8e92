"""Web logins as rows: found by their secret's digest, ended by logout, idleness and age,
and swept once ended."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coprd.core import logins, users
from coprd.db.models import WebSession

T0 = dt.datetime(2026, 12, 1, 12, 0, 0)


def at(**delta: float) -> dt.datetime:
    return T0 + dt.timedelta(**delta)


def rows(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_a_login_is_found_by_its_secret_only(db: Session) -> None:
    alice = users.create_user(db, "alice")
    secret = logins.start_login(db, alice, now=T0)
    found = logins.find_login(db, secret, now=at(minutes=1))
    assert found is not None and found.user.name == "alice" and not found.touch_due
    for wrong in ("", secret + "x", secret[:-1], "\x00", "x" * 1000):
        assert logins.find_login(db, wrong, now=at(minutes=1)) is None
    stored = db.scalars(select(WebSession.secret_hash)).one()
    assert secret not in stored and len(stored) == 64


def test_an_idle_session_ends_and_a_used_one_lasts_until_its_last_day(db: Session) -> None:
    alice = users.create_user(db, "alice")
    idle = logins.start_login(db, alice, now=T0)
    used = logins.start_login(db, alice, now=T0)
    assert logins.find_login(db, idle, now=T0 + logins.IDLE - dt.timedelta(seconds=1))
    assert logins.find_login(db, idle, now=T0 + logins.IDLE) is None
    # Used every day, the other lasts SESSION_DAYS, and not a moment more.
    day = T0
    for _ in range(logins.SESSION_DAYS - 1):
        day += dt.timedelta(days=1)
        found = logins.find_login(db, used, now=day)
        assert found is not None and found.touch_due
        logins.touch_login(db, used, now=day)
    last = T0 + dt.timedelta(days=logins.SESSION_DAYS)
    assert logins.find_login(db, used, now=last - dt.timedelta(seconds=1)) is not None
    assert logins.find_login(db, used, now=last) is None


def test_a_touch_is_due_at_most_every_few_minutes(db: Session) -> None:
    alice = users.create_user(db, "alice")
    secret = logins.start_login(db, alice, now=T0)
    found = logins.find_login(db, secret, now=T0 + logins.TOUCH_EVERY - dt.timedelta(seconds=1))
    assert found is not None and not found.touch_due
    found = logins.find_login(db, secret, now=T0 + logins.TOUCH_EVERY)
    assert found is not None and found.touch_due


def test_logging_out_here_or_everywhere(db: Session) -> None:
    alice = users.create_user(db, "alice")
    bob = users.create_user(db, "bob")
    first, second = (logins.start_login(db, alice, now=T0) for _ in range(2))
    bobs = logins.start_login(db, bob, now=T0)
    logins.end_login(db, first)
    logins.end_login(db, first)  # twice is fine
    assert logins.find_login(db, first, now=T0) is None
    assert logins.find_login(db, second, now=T0) is not None
    assert logins.end_logins_of(db, alice) == 1
    assert logins.find_login(db, second, now=T0) is None
    assert logins.find_login(db, bobs, now=T0) is not None


def test_a_disabled_user_or_a_new_password_ends_the_sessions(db: Session) -> None:
    alice = users.create_user(db, "alice")
    logins.start_login(db, alice, now=T0)
    users.set_password(db, alice, "a new password")
    assert rows(db) == 0
    secret = logins.start_login(db, alice, now=T0)
    alice.is_active = False  # even a row left behind does not log a disabled user in
    assert logins.find_login(db, secret, now=T0) is None
    users.disable_user(db, "alice")
    assert rows(db) == 0


def test_the_sweep_deletes_ended_sessions(db: Session) -> None:
    alice = users.create_user(db, "alice")
    logins.start_login(db, alice, now=T0)
    kept = logins.start_login(db, alice, now=at(days=1))
    assert logins.sweep(db, now=T0 + logins.IDLE) == 1
    assert rows(db) == 1
    assert logins.find_login(db, kept, now=T0 + logins.IDLE) is not None
