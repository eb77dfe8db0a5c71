"""Pure ASGI middleware: a request id on every response, and the request body size limit.

Pure ASGI (not BaseHTTPMiddleware) so neither adds a task or copies the body. The checks
themselves are plain functions, shared with the fast lane (``api/fastlane.py``), which
does these same jobs inline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.clienttext import decimal
from modelport.errors import PayloadTooLargeError

__all__ = [
    "CACHE_HEADER",
    "BodyLimitMiddleware",
    "RequestIdMiddleware",
    "check_declared_size",
    "check_received_size",
    "client_address",
    "request_id_from",
    "request_id_of",
    "sending_request_id",
    "set_request_id",
]

_SCOPE_KEY = "modelport.request_id"
_HEADER = b"x-request-id"


#: Says whether a prediction came from the response cache: "hit" or "miss".
CACHE_HEADER = "x-modelport-cache"


def request_id_of(scope: Scope) -> str:
    return str(scope.get(_SCOPE_KEY, "-"))


def client_address(scope: Scope) -> str | None:
    """The client's IP address (the peer of the connection), for the prediction log."""
    client = scope.get("client")
    return str(client[0]) if client else None


def check_declared_size(declared: bytes | None, limit: int, setting: str) -> None:
    """PayloadTooLargeError (413) when a Content-Length header says the body is over
    ``limit`` bytes; a number too long to read is. Anything else the HTTP server judges,
    and the body is counted as it arrives anyway (:func:`check_received_size`)."""
    if declared is None or not declared.isdigit():
        return
    number = decimal(declared)
    if number is None or number > limit:
        raise PayloadTooLargeError(limit, setting)


def check_received_size(received: int, limit: int, setting: str) -> None:
    """PayloadTooLargeError (413) once the body read so far is over ``limit`` bytes."""
    if received > limit:
        raise PayloadTooLargeError(limit, setting)


def request_id_from(given: bytes | None) -> bytes:
    """The client's X-Request-ID if it is sane, else a new random one (32 hex digits)."""
    if given is not None and 0 < len(given) <= 128 and given.isascii():
        return given
    # os.urandom rather than uuid4: the same 128 random bits without building a UUID.
    return os.urandom(16).hex().encode("ascii")


def sending_request_id(send: Send, raw_id: bytes) -> Send:
    """``send`` that puts ``X-Request-ID: raw_id`` on the response (replacing any)."""

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", []) if h[0].lower() != _HEADER]
            headers.append((_HEADER, raw_id))
            message["headers"] = headers
        await send(message)

    return send_with_id


def set_request_id(scope: Scope, raw_id: bytes) -> None:
    scope[_SCOPE_KEY] = raw_id.decode("latin-1")


class RequestIdMiddleware:
    """Takes the client's X-Request-ID (if sane) or makes one; echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_id = request_id_from(dict(scope["headers"]).get(_HEADER))
        set_request_id(scope, raw_id)
        await self.app(scope, receive, sending_request_id(send, raw_id))


class BodyLimitMiddleware:
    """Refuses bodies over ``limit`` bytes with 413, by header or while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        reject: Callable[[PayloadTooLargeError, str], Any],
        uploads: tuple[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        #: (path prefix, limit): model uploads may be far larger than a request body.
        self.uploads = uploads
        # Builds the 413 response; given by the app so api/errors.py stays the one mapper.
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit, "max_body_size"
        if self.uploads is not None and scope["path"].startswith(self.uploads[0]):
            limit, setting = self.uploads[1], "max_upload_size"
        try:
            check_declared_size(dict(scope["headers"]).get(b"content-length"), limit, setting)
        except PayloadTooLargeError as exc:
            await self.reject(exc, scope["path"])(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                check_received_size(received, limit, setting)
            return message

        await self.app(scope, limited_receive, send)
