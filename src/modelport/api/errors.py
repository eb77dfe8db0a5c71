"""The one place where errors become HTTP responses: ``{"error": code, "message": ...}``.

Covers modelport's own errors, the framework's validation and routing errors, and a
catch-all 500 that logs the traceback under the request id so the server keeps serving.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.api.middleware import request_id_of
from modelport.api.responses import OrjsonResponse
from modelport.errors import ModelportError

__all__ = ["UnexpectedErrorMiddleware", "error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def _respond(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return OrjsonResponse({"error": code, "message": message}, status_code=status, headers=headers)


def error_response(exc: ModelportError) -> Response:
    """The JSON response for one of modelport's own errors."""
    return _respond(exc.status_code, exc.code, exc.message, exc.headers())


async def _modelport_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelportError)
    if exc.status_code >= 500:
        log.warning(
            "%s %s -> %d %s", request.method, request.url.path, exc.status_code, exc.message
        )
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    )
    return _respond(422, "invalid_request", problems or "invalid request")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no endpoint {request.method} {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return _respond(exc.status_code, code, message, dict(exc.headers or {}))


class UnexpectedErrorMiddleware:
    """Turns any unexpected exception into a JSON 500 and keeps the connection usable.

    Starlette's own catch-all re-raises after answering, which makes the server drop the
    keep-alive connection; this one logs the traceback under the request id and stops.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            request_id = request_id_of(scope)
            log.error(
                "unhandled error in %s %s (request id %s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
                exc_info=exc,
            )
            if started:  # half a response is out: only closing the connection is honest
                raise
            response = _respond(
                500,
                "internal_error",
                f"internal server error; quote request id {request_id} when reporting it",
            )
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; call before adding other middleware (this one is innermost)."""
    app.add_exception_handler(ModelportError, _modelport_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(UnexpectedErrorMiddleware)
