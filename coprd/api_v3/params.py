"""Query parameters shared by APIv3 list endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from coprd.core.pagination import Page, make_page


async def page_params(
    limit: Annotated[int | None, Query(description="Page size")] = None,
    offset: Annotated[int | None, Query(description="Items to skip")] = None,
    order: Annotated[str | None, Query(description="Attribute to order by (default id)")] = None,
    order_type: Annotated[str | None, Query(description="ASC or DESC")] = None,
) -> Page:
    return make_page(limit, offset, order, order_type)


Pagination = Annotated[Page, Depends(page_params)]
