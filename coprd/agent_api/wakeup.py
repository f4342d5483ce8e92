"""Waking agents that wait for work: claims are long polls.

An idle agent's claim may wait up to ``wait_s`` seconds for a task instead of coming back
empty at once (``ClaimIn.wait_s``). A committed transaction that made a build task pending
(a new build, a source step that released its chroots, a lease that expired) wakes this
process's waiting claims at once, so a new build starts within milliseconds rather than
at the agent's next poll. Waiting claims also look again every ``RECHECK_S``: that covers
work committed by another server process on the same database, and tasks that become
claimable without a task row changing (a build they waited for has ended).

A claim that finds nothing waits on the signal's current event, taken *before* it looked:
work committed while it looked has already set that event, so nothing is missed.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from coprd.db.models import BuildState, BuildTask

__all__ = ["RECHECK_S", "WorkSignal"]

RECHECK_S = 2.0
_PENDING_MADE = "coprd_pending_made"


class WorkSignal:
    """Set when claimable work may have appeared; safe to notify from any thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the waiting claims run on (the server's)."""
        self._loop = loop

    def current(self) -> asyncio.Event:
        """The event a claim about to look for work will wait on if it finds none."""
        return self._event

    def notify(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        woken, self._event = self._event, asyncio.Event()
        woken.set()

    @staticmethod
    async def wait(woken: asyncio.Event, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), timeout_s)

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Notify after every commit that made a build task pending."""

        @event.listens_for(factory, "after_flush")
        def _flushed(session: Session, _context: object) -> None:
            for obj in (*session.new, *session.dirty):
                if _made_pending(session, obj):
                    session.info[_PENDING_MADE] = True
                    return

        @event.listens_for(factory, "after_commit")
        def _committed(session: Session) -> None:
            if session.info.pop(_PENDING_MADE, False):
                self.notify()

        @event.listens_for(factory, "after_rollback")
        def _rolled_back(session: Session) -> None:
            session.info.pop(_PENDING_MADE, None)


def _made_pending(session: Session, obj: object) -> bool:
    if not isinstance(obj, BuildTask) or obj.state != BuildState.pending:
        return False
    return obj in session.new or bool(inspect(obj).attrs.state.history.added)
