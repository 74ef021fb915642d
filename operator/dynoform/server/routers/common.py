"""What the routes share: the caller dependency, the Range header, and one page of a list."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Response

from dynoform.server import pagination
from dynoform.server.context import Caller, caller

Who = Annotated[Caller, Depends(caller)]
RangeHeader = Annotated[str | None, Header(alias="Range")]
ACCEPTED = {"description": "Accepted: done or under way; the body is `{}`."}


def paginate(
    items: list[pagination.T], header: str | None, fields: tuple[str, ...], response: Response
) -> list[pagination.T]:
    """One page of `items` (pydantic models), with Heroku's 206 and Next-Range when partial."""
    wanted = pagination.parse(header, fields)
    shown, next_range = pagination.page(items, wanted, lambda i, f: str(getattr(i, f)))
    if next_range is not None:
        response.status_code = 206
        response.headers["Next-Range"] = next_range
    response.headers["Accept-Ranges"] = ", ".join(fields)
    return shown
