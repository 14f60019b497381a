"""Who a request acts for: the user its credential names, and nobody else.

The user id never comes from a path or a body (the flaw of endpoints that trust a
``user_id`` the caller supplies: anyone could read anyone's memories). It comes from:

- ``api_key``: ``Authorization: Bearer <key>``, looked up in ``MEMCORE_HTTP__API_KEYS``
  with every key compared in constant time;
- ``trusted_header``: a header set by the gateway in front (which authenticated the
  user and strips the header from what clients send);
- ``none``: the one ``dev_user``, on a loopback address only (development).
"""

# No `from __future__ import annotations`: FastAPI must see the closures' Security(...)
# objects, which string annotations could not name.
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from memcore import validate_user_id
from memcore.security.credentials import user_for
from memcore_http.settings import HttpSettings

__all__ = ["Authenticator", "authenticator", "caller"]

Authenticator = Callable[..., Awaitable[None]]


def _refuse(detail: str, scheme: str = "Bearer") -> HTTPException:
    return HTTPException(HTTPStatus.UNAUTHORIZED, detail, headers={"WWW-Authenticate": scheme})


def authenticator(settings: HttpSettings) -> Authenticator:
    """The dependency that puts the caller's user id on ``request.state``, or answers 401."""
    if settings.auth == "api_key":
        bearer = HTTPBearer(auto_error=False, description="An API key of MEMCORE_HTTP__API_KEYS.")

        async def by_api_key(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        ) -> None:
            if credentials is None:
                raise _refuse("an API key is required: Authorization: Bearer <key>")
            user_id = user_for(credentials.credentials, settings.api_keys)
            if user_id is None:
                raise _refuse("unknown API key")
            request.state.user_id = user_id

        return by_api_key
    if settings.auth == "trusted_header":
        name = settings.trusted_header or ""
        header = APIKeyHeader(name=name, auto_error=False, description="Set by your gateway.")

        async def by_header(
            request: Request, value: Annotated[str | None, Security(header)]
        ) -> None:
            if not value:
                raise _refuse(f"the {name} header is required", scheme=name)
            request.state.user_id = validate_user_id(value)

        return by_header

    async def dev_user(request: Request) -> None:
        request.state.user_id = settings.dev_user

    return dev_user


async def caller(request: Request) -> str:
    """The authenticated user id (the router's authenticator ran first)."""
    user_id: str = request.state.user_id
    return user_id
