"""Request bodies over ``max_body_bytes`` get 413 before they are read whole.

A declared ``Content-Length`` over the limit is refused before a byte of the body is
read; a chunked body is counted as it arrives and cut off once past the limit. The 413
goes through the service's error handlers, so it has the service's error body.
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body per HTTP request."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        seen = int(declared) if declared.isdigit() else 0

        async def counted() -> Message:
            nonlocal seen
            if seen > self.max_bytes:  # declared too long: not a byte is read
                raise self._too_large()
            message = await receive()
            if not declared:
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, counted, send)

    def _too_large(self) -> HTTPException:
        # An HTTPException: FastAPI's body reading lets it through to the error handlers.
        detail = f"the body is over {self.max_bytes} bytes"
        return HTTPException(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, detail)
