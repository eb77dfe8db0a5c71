"""The one place where errors become responses: ``{"error": code, "message": ...}``.

Covers modelport's own errors, the framework's validation and routing errors, and a
catch-all 500 that logs the traceback under the request id so the server keeps serving.
Clients get an error's public text (:func:`public_message`: no database host, no
driver's words) held to :data:`MAX_MESSAGE_CHARS`; the whole message goes to the log.
Two protocols have their own shape, chosen by path: the Open Inference Protocol (``/v2``)
answers ``{"error": message}`` with 400 for any bad request, and MLflow's scoring routes
add MLflow's ``error_code``. A custom route may declare its own shape, a template such as
``{"status": 1, "error": "{message}"}`` (:class:`ErrorShape`). gRPC status names come
from here too (:func:`grpc_status`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.api.jsonstyle import encode_json, json_media_type
from modelport.api.middleware import request_id_of
from modelport.api.responses import OrjsonResponse
from modelport.errors import (
    ConflictError,
    DatabaseUnavailableError,
    ForbiddenError,
    InvalidRequestError,
    ModelLoadError,
    ModelNotReadyError,
    ModelportError,
    NotFoundError,
    PayloadTooLargeError,
    PredictionTimeoutError,
    QueueFullError,
    StorageFullError,
    UnauthorizedError,
    clip,
    shown,
)

__all__ = [
    "MAX_MESSAGE_CHARS",
    "ErrorShape",
    "UnexpectedErrorMiddleware",
    "error_response",
    "grpc_status",
    "install_error_handlers",
    "internal_error_message",
    "internal_error_response",
    "public_message",
    "shaped_error_response",
    "unexpected_error_response",
    "v2_status",
]

log = logging.getLogger(__name__)

#: The longest message an answer carries. The messages that quote a client's value clip
#: it already; this bounds the rest (a library's words quoting the input, long lists).
MAX_MESSAGE_CHARS = 2000
#: The longest error message written to the log.
_MAX_LOGGED_CHARS = 4000

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


_MLFLOW_CODES = {400: "BAD_REQUEST", 404: "RESOURCE_DOES_NOT_EXIST", 503: "TEMPORARILY_UNAVAILABLE"}
_MLFLOW_PATHS = frozenset({"/invocations", "/ping", "/version"})

#: gRPC status names (grpc.StatusCode members) by error class, most specific first.
_GRPC_STATUS: tuple[tuple[type[ModelportError], str], ...] = (
    (InvalidRequestError, "INVALID_ARGUMENT"),
    (ModelLoadError, "INVALID_ARGUMENT"),
    (NotFoundError, "NOT_FOUND"),
    (ModelNotReadyError, "UNAVAILABLE"),
    (QueueFullError, "RESOURCE_EXHAUSTED"),
    (PayloadTooLargeError, "RESOURCE_EXHAUSTED"),
    (StorageFullError, "RESOURCE_EXHAUSTED"),
    (PredictionTimeoutError, "DEADLINE_EXCEEDED"),
    (UnauthorizedError, "UNAUTHENTICATED"),
    (ForbiddenError, "PERMISSION_DENIED"),
    (ConflictError, "FAILED_PRECONDITION"),
    (DatabaseUnavailableError, "UNAVAILABLE"),
)


def v2_status(exc: ModelportError) -> int:
    """HTTP status under the Open Inference Protocol: every bad request is 400 (422s
    included), and so is a model that fails to load, as Triton answers."""
    if isinstance(exc, InvalidRequestError | ModelLoadError):
        return 400
    return exc.status_code


def grpc_status(exc: ModelportError) -> str:
    """The name of the ``grpc.StatusCode`` for an error (no grpc import here)."""
    return next((name for kind, name in _GRPC_STATUS if isinstance(exc, kind)), "INTERNAL")


@dataclass(frozen=True, slots=True)
class ErrorShape:
    """A custom route's error body: a template (None: modelport's own shape) and the
    JSON style the route writes."""

    template: Any = None
    style: str = "compact"


#: Looks up the custom route's error shape for a path (and method, when known).
ShapeLookup = Callable[[str, str | None], ErrorShape | None]
_FIELD = re.compile(r"\{(\w+)\}")


def public_message(exc: ModelportError, where: str) -> str:
    """What the client is told of ``exc``. The whole message goes to the log when the
    error is the server's (5xx) or the client is told less; ``where`` names the request
    there (quote what the client wrote with ``shown``, so it cannot forge a log line)."""
    if exc.status_code >= 500 or exc.public != exc.message:
        log.warning("%s -> %d %s", where, exc.status_code, shown(exc.message, _MAX_LOGGED_CHARS))
    return clip(exc.public, MAX_MESSAGE_CHARS)


def internal_error_message(request_id: str) -> str:
    return f"internal server error; quote request id {request_id} when reporting it"


def _render(template: Any, fields: dict[str, Any]) -> Any:
    """Fill ``{name}`` fields; a string that is one field alone takes its value as is
    (so ``"{status}"`` gives the number 400, not the text "400")."""
    if isinstance(template, str):
        whole = _FIELD.fullmatch(template)
        if whole is not None and whole.group(1) in fields:
            return fields[whole.group(1)]
        return _FIELD.sub(lambda m: str(fields.get(m.group(1), m.group(0))), template)
    if isinstance(template, dict):
        return {key: _render(value, fields) for key, value in template.items()}
    if isinstance(template, list):
        return [_render(value, fields) for value in template]
    return template


def shaped_error_response(
    status: int,
    code: str,
    message: str,
    shape: ErrorShape,
    context: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Response:
    """An error in a custom route's own shape and JSON style. ``context`` gives the
    request's ``url``, ``path``, ``method`` and ``request_id``."""
    fields = {**context, "status": status, "code": code, "message": message}
    body: Any = (
        {"error": code, "message": message}
        if shape.template is None
        else _render(shape.template, fields)
    )
    encoded = encode_json(body, shape.style)
    request_id = str(context.get("request_id", ""))
    if status >= 500 and isinstance(body, dict) and request_id.encode() not in encoded:
        # A 500 always tells the id that finds its traceback in the log.
        encoded = encode_json({**body, "request_id": request_id}, shape.style)
    return Response(
        encoded, status_code=status, headers=headers, media_type=json_media_type(shape.style)
    )


def _shape_for(request: Request) -> ErrorShape | None:
    lookup: ShapeLookup | None = getattr(request.app.state, "error_shape_for", None)
    return lookup(request.url.path, request.method) if lookup is not None else None


def _context(request: Request) -> dict[str, Any]:
    return {
        "url": str(request.url),
        "path": request.url.path,
        "method": request.method,
        "request_id": request_id_of(request.scope),
    }


def _protocol(path: str) -> str:
    if path == "/v2" or path.startswith("/v2/"):
        return "v2"
    if path in _MLFLOW_PATHS or (path.startswith("/v1/models/") and path.endswith("/invocations")):
        return "mlflow"
    return "native"


def _respond(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    path: str = "",
) -> Response:
    protocol = _protocol(path)
    if protocol == "v2":
        body: dict[str, str] = {"error": message}
    elif protocol == "mlflow":
        body = {
            "error": code,
            "error_code": _MLFLOW_CODES.get(status, "INTERNAL_ERROR"),
            "message": message,
        }
    else:
        body = {"error": code, "message": message}
    return OrjsonResponse(body, status_code=status, headers=headers)


def internal_error_response(request_id: str, path: str) -> Response:
    """The 500 for an unexpected exception: nothing internal, only the request id."""
    return _respond(500, "internal_error", internal_error_message(request_id), path=path)


def unexpected_error_response(exc: BaseException, scope: Scope) -> Response:
    """The 500 for an exception nobody expected, its traceback logged under the request
    id: the catch-all of the middleware stack and of the fast lane."""
    request_id = request_id_of(scope)
    log.error(
        "unhandled error in %s %r (request id %s)",
        scope.get("method"),
        scope.get("path"),
        request_id,
        exc_info=exc,
    )
    return internal_error_response(request_id, str(scope.get("path", "")))


def error_response(
    exc: ModelportError,
    path: str = "",
    shape: ErrorShape | None = None,
    context: dict[str, Any] | None = None,
) -> Response:
    """The JSON response for one of modelport's own errors, in the shape of the protocol
    that ``path`` belongs to (or the custom route's ``shape``). ``context`` gives the
    request's ``url``, ``path``, ``method`` and ``request_id`` when known."""
    method = str(context["method"]) if context else ""
    message = public_message(exc, f"{method} {shown(path)}".lstrip())
    if shape is not None:
        context = context or {"url": path, "path": path, "method": "", "request_id": "-"}
        return shaped_error_response(
            exc.status_code, exc.code, message, shape, context, exc.headers()
        )
    protocol = _protocol(path)
    status = exc.status_code
    if protocol == "v2":
        status = v2_status(exc)
    elif protocol == "mlflow" and isinstance(exc, InvalidRequestError):
        status = 400  # mlflow models serve answers 400 for input that does not fit
    return _respond(status, exc.code, message, exc.headers(), path)


async def _modelport_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ModelportError):  # registered for ModelportError only
        raise exc
    return error_response(exc, request.url.path, _shape_for(request), _context(request))


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # registered for it only
        raise exc
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    )
    message = clip(problems, MAX_MESSAGE_CHARS) or "invalid request"
    return _respond(422, "invalid_request", message, path=request.url.path)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # registered for it only
        raise exc
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    path = clip(request.url.path, MAX_MESSAGE_CHARS // 4)
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no endpoint {request.method} {path}; see /docs for the API"
    elif exc.status_code == 405 and exc.detail == "Method Not Allowed":
        message = f"{request.method} is not allowed on {path}"
    else:
        message = clip(str(exc.detail), MAX_MESSAGE_CHARS)
    shape = _shape_for(request)
    if shape is not None:
        return shaped_error_response(
            exc.status_code, code, message, shape, _context(request), dict(exc.headers or {})
        )
    return _respond(exc.status_code, code, message, dict(exc.headers or {}), request.url.path)


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
        except ClientDisconnect:
            # The client left (or was cut off by a read deadline) mid-body: nobody to
            # answer, and not a server error — a traceback per disconnect would let any
            # client flood the log.
            log.debug("client disconnected during %s %r", scope["method"], scope["path"])
            return
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            # SystemExit and KeyboardInterrupt too: in a request they come from a model's
            # code (sys.exit() while its file is imported on upload), since the server
            # takes its own signals in handlers; any other BaseException (a cancellation)
            # goes on.
            response = unexpected_error_response(exc, scope)
            if started:  # half a response is out: only closing the connection is honest
                raise
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; call before adding other middleware (this one is innermost)."""
    app.add_exception_handler(ModelportError, _modelport_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(UnexpectedErrorMiddleware)
