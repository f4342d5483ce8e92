"""Copr settings this server does not carry out, and the one rule for them.

Copr's clients send every project setting on each ``create``/``modify`` (python-copr sends
``appstream=False``; copr-cli also ``fedora_review=false``), so asking for a setting's
default is always accepted; turning one of these on is refused with the reason, in every
dialect and on the web form, rather than stored and ignored. The reasons are what users
read (the API's error, the form, the README's table of options).
"""

from __future__ import annotations

from collections.abc import Mapping

from coprd.core.errors import InvalidInput

__all__ = ["UNSUPPORTED", "refuse_unsupported"]

UNSUPPORTED: Mapping[str, str] = {
    "appstream": "AppStream metadata is not generated for the repositories "
    "(this server does not run appstream-builder)",
    "fedora_review": "fedora-review is not run after builds",
}
"""Setting name → why it cannot be turned on here."""


def refuse_unsupported(settings: Mapping[str, object]) -> None:
    """Raise InvalidInput if ``settings`` turns on a setting of :data:`UNSUPPORTED`."""
    for name, reason in UNSUPPORTED.items():
        if settings.get(name) is True:
            raise InvalidInput(f"{name} is not supported by this server: {reason}.")
