"""Throttling of failed authentication: web passwords, API tokens and builder tokens.

A failed attempt is a row of ``auth_failures`` for each subject it concerns: the account
it named (``password:alice`` for a web login, ``token:<login>`` for an API token) and the
client's address (``address:192.0.2.7``, an IPv6 client by its /64; builder agents'
addresses apart, as ``agent-address:…``, so that failing users do not stop the builds).
The rows are in the database, so every frontend replica counts the same failures.

**The rule.** Over a sliding window (``auth_failure_window_seconds``), a subject with N
failures, N at or past its threshold (``auth_failures_per_account``, ``…_per_address``),
is refused until its last failure plus a delay that starts at ``auth_delay_seconds`` and
doubles with each failure past the threshold, up to ``auth_max_delay_seconds``. A refused
attempt (:class:`~coprd.core.errors.TooManyAttempts`, 429 with Retry-After) is neither
checked nor counted: it changes nothing, a right password included, so its answer says
nothing about the guess. Once the delay is over, the next attempt is checked; a right one
forgives the account's failures (not the address's), a wrong one counts.

**No lasting lockout.** The delay has a ceiling and the failures age out of the window, so
an attacker who stops is forgotten, and one who goes on is checked once per ceiling at
most; an address's failures are its own, so one address's guessing makes no other address
wait; and an address's threshold is above an account's, so an address whose guesses at one
account are refused can still log in to the others.

Every function takes ``now`` for tests; :func:`sweep` deletes the failures the window no
longer counts, and :func:`sweep_forever` does so every :data:`SWEEP_INTERVAL_S`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import threading
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from coprd.config import Settings
from coprd.core.errors import TooManyAttempts
from coprd.db.engine import write_session
from coprd.db.models import AuthFailure, utcnow

__all__ = [
    "Attempt",
    "Limits",
    "agent_attempt",
    "check",
    "forgive",
    "password_attempt",
    "record_failure",
    "sweep",
    "sweep_forever",
    "token_attempt",
]

log = logging.getLogger("coprd.throttling")

SWEEP_INTERVAL_S = 600.0
_MAX_SUBJECT = 200


@dataclass(frozen=True)
class Limits:
    """The settings of the rule; a threshold of 0 turns that kind of limit off."""

    per_account: int
    per_address: int
    window: dt.timedelta
    delay: dt.timedelta
    max_delay: dt.timedelta

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            per_account=settings.auth_failures_per_account,
            per_address=settings.auth_failures_per_address,
            window=dt.timedelta(seconds=settings.auth_failure_window_seconds),
            delay=dt.timedelta(seconds=settings.auth_delay_seconds),
            max_delay=dt.timedelta(seconds=settings.auth_max_delay_seconds),
        )


@dataclass(frozen=True)
class Attempt:
    """The subjects one authentication attempt is counted against: the account it named
    (None when it named none, e.g. a malformed header) and the client's address."""

    account: str | None
    address: str


def _subject(kind: str, value: str) -> str:
    subject = f"{kind}:{value}"
    if len(subject) <= _MAX_SUBJECT and "\x00" not in subject:
        return subject
    # A long (or odd) name a client made up is still counted, under its digest.
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:sha256:{digest}"


def password_attempt(name: str, address: str) -> Attempt:
    """A web login as ``name`` (an empty name counts against the address only)."""
    return Attempt(_subject("password", name) if name else None, _subject("address", address))


def token_attempt(login: str | None, address: str) -> Attempt:
    """An API token with the public ``login`` (None: credentials too malformed to name one)."""
    return Attempt(_subject("token", login) if login else None, _subject("address", address))


def agent_attempt(address: str) -> Attempt:
    """A builder token: builder tokens name no account, so only the address counts."""
    return Attempt(None, _subject("agent-address", address))


def _thresholds(limits: Limits, attempt: Attempt) -> dict[str, int]:
    subjects = {attempt.address: limits.per_address}
    if attempt.account is not None:
        subjects[attempt.account] = limits.per_account
    return {subject: n for subject, n in subjects.items() if n > 0}


def check(
    session: Session, limits: Limits, attempt: Attempt, now: dt.datetime | None = None
) -> int:
    """Refuse the attempt (:class:`TooManyAttempts`) while any of its subjects waits out
    its delay; otherwise return the account's failures in the window (0 without one), so
    that a success knows whether there is anything to :func:`forgive`. Only reads."""
    now = now or utcnow()
    thresholds = _thresholds(limits, attempt)
    if not thresholds:
        return 0
    rows = session.execute(
        select(AuthFailure.subject, func.count(), func.max(AuthFailure.failed_on))
        .where(
            AuthFailure.subject.in_(list(thresholds)),
            AuthFailure.failed_on > now - limits.window,
        )
        .group_by(AuthFailure.subject)
    ).all()
    wait = dt.timedelta(0)
    account_failures = 0
    for subject, count, last in rows:
        if subject == attempt.account:
            account_failures = count
        past = count - thresholds[subject]
        if past < 0:
            continue
        # The exponent is bounded: a timedelta has a largest value.
        delay = min(limits.max_delay, limits.delay * 2 ** min(past, 32))
        wait = max(wait, last + delay - now)
    if wait > dt.timedelta(0):
        seconds = max(1, math.ceil(wait.total_seconds()))
        raise TooManyAttempts(
            f"Too many failed attempts to authenticate; try again in {_say(seconds)}.",
            retry_after=seconds,
        )
    return account_failures


def _say(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def record_failure(session: Session, attempt: Attempt, now: dt.datetime | None = None) -> None:
    """Count a failed attempt against each of its subjects."""
    now = now or utcnow()
    subjects = [attempt.address] if attempt.account is None else [attempt.account, attempt.address]
    session.add_all(AuthFailure(subject=subject, failed_on=now) for subject in subjects)
    session.flush()


def forgive(session: Session, attempt: Attempt) -> None:
    """Forget the failures of the attempt's account (after it authenticated); the
    address's stay counted."""
    if attempt.account is not None:
        session.execute(delete(AuthFailure).where(AuthFailure.subject == attempt.account))


def sweep(session: Session, limits: Limits, now: dt.datetime | None = None) -> int:
    """Delete the failures older than the window; returns how many went."""
    cutoff = (now or utcnow()) - limits.window
    result = session.execute(delete(AuthFailure).where(AuthFailure.failed_on <= cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def sweep_forever(
    factory: sessionmaker[Session],
    limits: Limits,
    stop: threading.Event,
    interval_s: float = SWEEP_INTERVAL_S,
) -> None:
    """:func:`sweep` every ``interval_s`` until ``stop`` is set."""
    while not stop.wait(interval_s):
        try:
            with write_session(factory) as session:
                swept = sweep(session, limits)
            if swept:
                log.info("forgot %d failed authentication(s) older than the window", swept)
        except Exception:
            log.exception("the failed-authentication sweep failed; retrying in %.0f s", interval_s)
