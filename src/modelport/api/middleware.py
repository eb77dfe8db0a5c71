"""Pure ASGI middleware: a request id on every response, and the request body size limit.

Pure ASGI (not BaseHTTPMiddleware) so neither adds a task or copies the body. The checks
themselves are plain functions, shared with the fast lane (``api/fastlane.py``), which
does these same jobs inline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport import accesslog
from modelport.accesswriter import AccessWriter
from modelport.clienttext import decimal
from modelport.errors import PayloadTooLargeError
from modelport.tracing import Tracing

__all__ = [
    "CACHE_HEADER",
    "ROUTE_KEY_HEADER",
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
_TRACEPARENT = b"traceparent"
_TRACEPARENT_FORM = re.compile(rb"[0-9a-f]{2}-[0-9a-fA-F]{32}-[0-9a-fA-F]{16}-[0-9a-fA-F]{2}")


#: Says whether a prediction came from the response cache: "hit" or "miss".
CACHE_HEADER = "x-modelport-cache"
#: Keeps a client on one side of a model's traffic split: the same key, the same target.
ROUTE_KEY_HEADER = "x-modelport-route-key"


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


def request_id_from(given: bytes | None, traceparent: bytes | None = None) -> bytes:
    """The client's X-Request-ID if it is sane, else the trace id of a W3C ``traceparent``
    (``00-<32 hex trace id>-<16 hex>-<2 hex>``), else a new random one (32 hex digits)."""
    if given is not None and 0 < len(given) <= 128 and given.isascii():
        return given
    if traceparent is not None and _TRACEPARENT_FORM.fullmatch(traceparent.strip()):
        trace_id = traceparent.strip()[3:35].lower()
        if trace_id != b"0" * 32:  # all zeros is an invalid trace id
            return trace_id
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


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def set_request_id(scope: Scope, raw_id: bytes) -> None:
    scope[_SCOPE_KEY] = raw_id.decode("latin-1")


class RequestIdMiddleware:
    """Takes the client's X-Request-ID (if sane; else the trace id of a W3C traceparent)
    or makes one, and echoes it back; every log line of the request carries it, and the
    access line (when ``access_log``) follows the answer."""

    def __init__(
        self,
        app: ASGIApp,
        access_log: AccessWriter | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_id = request_id_from(headers.get(_HEADER), headers.get(_TRACEPARENT))
        set_request_id(scope, raw_id)
        token = accesslog.begin(
            raw_id.decode("latin-1"),
            self.tracing,
            scope["method"],
            scope["path"],
            _text(headers.get(_TRACEPARENT)),
        )
        status: int | str = "-"
        sender = sending_request_id(send, raw_id)

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await sender(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            accesslog.finish(
                token,
                self.access_log,
                scope["method"],
                scope["path"],
                status,
                client_address(scope),
            )


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
