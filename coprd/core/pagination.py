"""Pagination of list queries, as every dialect's lists offer it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from coprd.core.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 10_000
# Far past any list, and within the integer every database takes for OFFSET.
MAX_OFFSET = 2**31 - 1
ORDER_TYPES = ("ASC", "DESC")
"""What ``order_type`` may be, in any case; empty or absent: ASC."""


@dataclass(frozen=True)
class Page:
    limit: int | None = None
    offset: int = 0
    order: str = "id"
    order_type: Literal["ASC", "DESC"] = "ASC"


def make_page(
    limit: int | None = None,
    offset: int | None = None,
    order: str | None = None,
    order_type: str | None = None,
) -> Page:
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"must be between 0 and {MAX_LIMIT}", "limit")
    if offset is not None and not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"must be between 0 and {MAX_OFFSET}", "offset")
    kind = (order_type or "ASC").upper()
    if kind not in ORDER_TYPES:
        raise InvalidInput("must be ASC or DESC", "order_type")
    return Page(limit, offset or 0, order or "id", "DESC" if kind == "DESC" else "ASC")


def fetch_page(
    session: Session,
    stmt: Select[T],
    page: Page,
    orders: Mapping[str, ColumnElement[Any] | Any],
    tiebreak: Any,
) -> Sequence[T]:
    """Run ``stmt`` ordered and cut as ``page`` says; ``orders`` maps allowed order names."""
    column = orders.get(page.order)
    if column is None:
        allowed = ", ".join(sorted(orders))
        raise InvalidInput(f"cannot order by {page.order!r}; use one of: {allowed}", "order")
    keys = [column] if column is tiebreak else [column, tiebreak]
    descending = page.order_type == "DESC"
    stmt = stmt.order_by(*(key.desc() if descending else key.asc() for key in keys))
    if page.offset:
        stmt = stmt.offset(page.offset)
    if page.limit is not None:
        stmt = stmt.limit(page.limit)
    return session.scalars(stmt).all()
