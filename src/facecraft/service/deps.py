"""Request dependencies: the runtime, the caller's API key, the public base URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from facecraft.errors import AuthError
from facecraft.service.keys import lookup_key
from facecraft.service.runtime import Runtime

__all__ = [
    "RuntimeDep", "OwnerDep", "BaseUrlDep", "LimitQuery", "PageQuery", "get_runtime", "require_key",
    "base_url",
]

api_key_header = APIKeyHeader(
    name="x-api-key", auto_error=False, description="an API key from `facecraft keys create`"
)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require_key(rt: RuntimeDep, key: Annotated[str | None, Security(api_key_header)] = None) -> str:
    """The id of the caller's active API key; 401 ``{"message": "Invalid access token"}`` otherwise."""
    if not key:
        raise AuthError("Invalid access token")
    with rt.db.session() as session:
        row = lookup_key(session, key)
        if row is None:
            raise AuthError("Invalid access token")
        return row.id


OwnerDep = Annotated[str, Depends(require_key)]


def base_url(request: Request, rt: RuntimeDep) -> str:
    return (rt.settings.public_url or str(request.base_url)).rstrip("/")


BaseUrlDep = Annotated[str, Depends(base_url)]

# Paging of every list route (``?limit&page``): pages count from 1; ``page=0``, which Tavus clients send
# for the first page, is the first page too.
LimitQuery = Annotated[int, Query(ge=1, le=100)]
PageQuery = Annotated[int, Query(ge=0, le=1_000_000, description="1 is the first page (0 is taken as 1)")]
