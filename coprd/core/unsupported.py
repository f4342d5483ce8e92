"""Copr settings this server does not carry out, and the one rule for them.

Copr's clients send every project setting on each ``create``/``modify`` (python-copr sends
``appstream=False``; copr-cli also ``fedora_review=false``), so a setting's default is
always accepted; asking for what this server cannot do is refused with the reason, in
every dialect and on the web form, rather than stored and ignored. The reasons are what
users read (the API's error, the form, the README's table of options).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from coprd.core.errors import InvalidInput

__all__ = ["UNSUPPORTED", "Unsupported", "refuse_unsupported", "unsupported_schema"]


@dataclass(frozen=True)
class Unsupported:
    """Setting ``name`` may not be ``value`` here, because of ``reason``."""

    name: str
    value: object
    reason: str

    @property
    def shown(self) -> str:
        """How the form names the refused choice: ``appstream``, ``storage = pulp``."""
        return self.name if self.value is True else f"{self.name} = {self.value}"


UNSUPPORTED: Mapping[str, Unsupported] = {
    item.name: item
    for item in (
        Unsupported(
            "appstream",
            True,
            "AppStream metadata is not generated for the repositories "
            "(this server does not run appstream-builder)",
        ),
        Unsupported("fedora_review", True, "fedora-review is not run after builds"),
        Unsupported(
            "storage",
            "pulp",
            "results are kept in this server's own results store; there is no Pulp",
        ),
    )
}
"""Setting name → the value this server refuses for it, and why."""


def refuse_unsupported(fields: BaseModel) -> None:
    """Raise InvalidInput if ``fields`` (a project's or a build's input) asks for a value
    of :data:`UNSUPPORTED`; a setting the input does not have is not asked for."""
    for name, item in UNSUPPORTED.items():
        if getattr(fields, name, None) == item.value:
            raise InvalidInput(f"{item.shown} is not supported by this server: {item.reason}.")


def unsupported_schema(name: str) -> dict[str, object]:
    """What the JSON schema of setting ``name`` adds: it may not be the refused value."""
    return {"not": {"const": UNSUPPORTED[name].value}}
