"""Dependencies of APIv3 routes: the acting user (shared with the other dialects)."""

from __future__ import annotations

from coprd.auth import CurrentUser, OptionalUser, get_optional_user, get_user

__all__ = ["CurrentUser", "OptionalUser", "get_optional_user", "get_user"]
