"""Throttling failed authentication: the rule, with time passed in."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coprd.config import Settings
from coprd.core import throttling
from coprd.core.errors import TooManyAttempts
from coprd.core.throttling import Limits
from coprd.db.models import AuthFailure

T0 = dt.datetime(2026, 12, 1, 12, 0, 0)
LIMITS = Limits(
    per_account=3,
    per_address=5,
    window=dt.timedelta(hours=1),
    delay=dt.timedelta(seconds=60),
    max_delay=dt.timedelta(seconds=300),
)
ALICE = throttling.password_attempt("alice", "192.0.2.1")
BOB = throttling.password_attempt("bob", "192.0.2.1")
ALICE_ELSEWHERE = throttling.password_attempt("alice", "198.51.100.9")


def s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def fail(db: Session, attempt: throttling.Attempt, times: int, at: dt.datetime = T0) -> None:
    for _ in range(times):
        throttling.record_failure(db, attempt, now=at)


def wait_of(db: Session, attempt: throttling.Attempt, at: dt.datetime) -> int | None:
    """The Retry-After of a refusal at ``at``; None if the attempt would be checked."""
    try:
        throttling.check(db, LIMITS, attempt, now=at)
    except TooManyAttempts as exc:
        return exc.retry_after
    return None


def test_the_defaults_are_the_documented_ones() -> None:
    limits = Limits.of(Settings())
    assert (limits.per_account, limits.per_address) == (10, 50)
    assert limits.window == dt.timedelta(hours=1)
    assert (limits.delay, limits.max_delay) == (dt.timedelta(minutes=1), dt.timedelta(minutes=15))


def test_below_the_threshold_every_attempt_is_checked(db: Session) -> None:
    fail(db, ALICE, 2)
    assert throttling.check(db, LIMITS, ALICE, now=s(1)) == 2
    assert throttling.check(db, LIMITS, BOB, now=s(1)) == 0


def test_at_the_threshold_the_account_waits_a_delay_that_doubles_up_to_its_ceiling(
    db: Session,
) -> None:
    fail(db, ALICE, 3)
    assert wait_of(db, ALICE, s(0)) == 60
    assert wait_of(db, ALICE, s(59.5)) == 1
    assert wait_of(db, ALICE, s(60)) is None  # the delay is over: checked again
    fail(db, ALICE, 1, at=s(60))
    assert wait_of(db, ALICE, s(60)) == 120
    fail(db, ALICE, 1, at=s(180))
    assert wait_of(db, ALICE, s(180)) == 240
    fail(db, ALICE, 1, at=s(420))
    assert wait_of(db, ALICE, s(420)) == 300  # the ceiling, not 480
    fail(db, ALICE, 30, at=s(720))
    assert wait_of(db, ALICE, s(720)) == 300


def test_the_message_says_when(db: Session) -> None:
    fail(db, ALICE, 3)
    with pytest.raises(TooManyAttempts, match="try again in 60 seconds"):
        throttling.check(db, LIMITS, ALICE, now=T0)
    fail(db, ALICE, 3)
    with pytest.raises(TooManyAttempts, match="try again in 5 minutes"):
        throttling.check(db, LIMITS, ALICE, now=T0)


def test_failures_age_out_of_the_window(db: Session) -> None:
    fail(db, ALICE, 3)
    fail(db, ALICE, 1, at=s(1800))
    # At T0 + 1 h the first three are out of the window: one failure left.
    assert throttling.check(db, LIMITS, ALICE, now=s(3600)) == 1
    assert throttling.sweep(db, LIMITS, now=s(3600)) == 6  # their address rows too
    assert db.scalar(select(func.count()).select_from(AuthFailure)) == 2


def test_another_account_from_the_same_address_is_still_checked(db: Session) -> None:
    fail(db, ALICE, 4)  # past alice's threshold, below the address's
    assert wait_of(db, ALICE, s(1)) is not None
    assert wait_of(db, BOB, s(1)) is None
    # The address's own limit: five failures, whichever accounts they named.
    fail(db, BOB, 1)
    assert wait_of(db, BOB, s(1)) == 59
    # Alice from another address waits for her account; bob from there does not wait.
    assert wait_of(db, ALICE_ELSEWHERE, s(1)) is not None
    assert wait_of(db, throttling.password_attempt("bob", "198.51.100.9"), s(1)) is None


def test_a_success_forgives_the_account_not_the_address(db: Session) -> None:
    fail(db, ALICE, 2)
    throttling.forgive(db, ALICE)
    assert throttling.check(db, LIMITS, ALICE, now=s(1)) == 0
    fail(db, BOB, 3)  # the address has 5 now: 2 of alice's, 3 of bob's
    assert wait_of(db, throttling.password_attempt("carol", "192.0.2.1"), s(1)) == 59


def test_kinds_of_credentials_count_apart(db: Session) -> None:
    token = throttling.token_attempt("alice", "192.0.2.1")
    assert token.account != ALICE.account and token.address == ALICE.address
    agent = throttling.agent_attempt("192.0.2.1")
    assert agent.account is None and agent.address != ALICE.address
    fail(db, token, 5)
    assert wait_of(db, ALICE, s(1)) is not None  # the address, shared by users' kinds
    assert wait_of(db, agent, s(1)) is None  # builder agents' addresses count apart


def test_a_threshold_of_zero_turns_that_limit_off(db: Session) -> None:
    off = Limits(0, 0, LIMITS.window, LIMITS.delay, LIMITS.max_delay)
    fail(db, ALICE, 100)
    assert throttling.check(db, off, ALICE, now=s(1)) == 0


def test_made_up_names_are_counted_within_the_column(db: Session) -> None:
    long = throttling.token_attempt("x" * 1000, "192.0.2.1")
    odd = throttling.password_attempt("a\x00b", "192.0.2.1")
    assert long.account is not None and len(long.account) <= 200
    assert odd.account is not None and "\x00" not in odd.account
    fail(db, long, 3)
    assert wait_of(db, long, s(1)) == 59
    assert throttling.password_attempt("", "192.0.2.1").account is None
