"""Errors the domain raises. Each dialect maps them to its own envelope in one handler.

::

    CoprdError                 anything the core refuses
    ├── InvalidInput           the request itself is wrong (a field, a name, a value)
    ├── NotAuthenticated       no, or no valid, credentials where they are needed
    ├── Forbidden              the actor may not do this to this object
    ├── NotFound               the object named does not exist
    ├── Conflict               the object would clash with one that exists
    ├── TooLarge               an upload is larger than this server accepts
    └── TooManyAttempts        too many failed authentications: wait ``retry_after`` seconds

The core never raises HTTP errors; it does not know which dialect called it.
"""

from __future__ import annotations


class CoprdError(Exception):
    """Base of every domain error; ``str(err)`` is the message shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CoprdError):
    """The input breaks a rule; ``field`` names the offending field when one does."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class NotAuthenticated(CoprdError):
    pass


class Forbidden(CoprdError):
    pass


class NotFound(CoprdError):
    pass


class Conflict(CoprdError):
    pass


class TooLarge(CoprdError):
    pass


class TooManyAttempts(CoprdError):
    """Refused unchecked after too many failed authentications (``core/throttling.py``);
    ``retry_after`` says in how many seconds an attempt will be checked again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
