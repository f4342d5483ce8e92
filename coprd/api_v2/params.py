"""What APIv2 lists and bodies share: paging as upstream did it, input checked into core types."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ValidationError

from coprd.core.errors import InvalidInput
from coprd.core.pagination import Page, make_page
from coprd.http import validation_message

M = TypeVar("M", bound=BaseModel)

# Upstream's APIv2: 100 items unless asked for fewer, never more.
MAX_LIMIT = 100


def page_params(
    limit: Annotated[int | None, Query(description="at most 100 (the default)")] = None,
    offset: Annotated[int | None, Query(description="items to skip")] = None,
) -> Page:
    limit = MAX_LIMIT if limit is None else min(max(limit, 1), MAX_LIMIT)
    return make_page(limit, offset)


def _newest_first(page: Annotated[Page, Depends(page_params)]) -> Page:
    return make_page(page.limit, page.offset, "id", "DESC")


Pagination = Annotated[Page, Depends(page_params)]
NewestFirst = Annotated[Page, Depends(_newest_first)]


def checked(model: type[M], data: Any) -> M:
    """``data`` as ``model`` (a core input type or a v2 body), or InvalidInput saying why."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None
