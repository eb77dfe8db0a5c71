"""The access log, and the request id on every log line a request causes.

The HTTP layer (middleware and the fast lane) and the gRPC server call :func:`begin` when a
request arrives and :func:`finish` when it is answered: one line (logger name
``modelport.access``, written by :class:`~modelport.accesswriter.AccessWriter`, not through
logging, for speed) with the method, path, status, duration and client, and the model,
version, protocol and rows that :func:`note_prediction` (called by the core) filled in.
:class:`RequestIdFilter` puts the request's id on every record logged meanwhile, from any
module. Nothing of a body or a token is ever logged.

Two formats (``log_format``): readable text for a terminal (the access line's message
holds everything, the request id last), or one JSON object per line for log shippers
(:class:`JsonFormatter`), where every record has its request id.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from modelport.accesswriter import AccessWriter, flush_all
from modelport.tracing import Tracing

__all__ = [
    "ACCESS_FIELDS",
    "JsonFormatter",
    "RequestIdFilter",
    "RequestInfo",
    "begin",
    "current",
    "current_id",
    "finish",
    "note_prediction",
]

#: The fields of an access line, in the JSON format (beside time, level, logger, message);
#: modelport.accesswriter writes them.
ACCESS_FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "client",
    "model",
    "version",
    "protocol",
    "rows",
)


@dataclass(slots=True)
class RequestInfo:
    """What the access line says of one request; the core fills in the prediction part."""

    request_id: str
    started: float
    model: str | None = None
    version: int | None = None
    protocol: str | None = None
    rows: int | None = None
    #: The request's trace span when tracing is on (modelport.tracing), else None.
    span: Any = None

    def served(self, model: str, version: int, protocol: str, rows: int) -> None:
        """The request is a prediction of ``model`` ``version`` over ``protocol``."""
        self.model, self.version, self.protocol, self.rows = model, version, protocol, rows


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "modelport_request", default=None
)


def begin(
    request_id: str,
    tracing: Tracing | None = None,
    method: str = "",
    path: str = "",
    traceparent: str | None = None,
) -> contextvars.Token[RequestInfo | None]:
    """A request arrived: the records logged from here on carry its id, and with tracing
    on, its span starts (continuing the client's ``traceparent``)."""
    span = None
    if tracing is not None:
        span = tracing.start_request(
            "modelport.request",
            traceparent,
            {"http.request.method": method, "url.path": path, "modelport.request_id": request_id},
        )
    return _current.set(RequestInfo(request_id, time.perf_counter(), span=span))


def current() -> RequestInfo | None:
    """The request being answered, if any."""
    return _current.get()


def current_id() -> str | None:
    """The id of the request being answered, if any."""
    info = _current.get()
    return None if info is None else info.request_id


def note_prediction(model: str, version: int, protocol: str, rows: int) -> None:
    """The request is a prediction of ``model`` ``version`` (called by the core)."""
    info = _current.get()
    if info is not None:
        info.served(model, version, protocol, rows)


def finish(
    token: contextvars.Token[RequestInfo | None],
    writer: AccessWriter | None,
    method: str,
    path: str,
    status: int | str,
    client: str | None,
) -> None:
    """The request was answered: its access line (to ``writer``, None when the access
    log is off), then its id leaves the context."""
    info = _current.get()
    try:
        if info is not None and info.span is not None:
            _end_span(info, status)
        if writer is not None and info is not None:
            writer.write(
                info.request_id,
                method,
                path,
                status,
                time.perf_counter() - info.started,
                client,
                info.model,
                info.version,
                info.protocol,
                info.rows,
            )
    finally:
        _current.reset(token)


def _end_span(info: RequestInfo, status: int | str) -> None:
    span = info.span
    span.set_attribute("modelport.status", str(status))
    if info.model is not None:
        span.set_attribute("modelport.model", info.model)
        span.set_attribute("modelport.version", str(info.version))
        span.set_attribute("modelport.protocol", str(info.protocol))
    span.end()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record: the current request's, or "-" outside one;
    and writes the access lines waiting first, so the log keeps the order of events."""

    def filter(self, record: logging.LogRecord) -> bool:
        flush_all()
        if not hasattr(record, "request_id"):
            info = _current.get()
            record.request_id = info.request_id if info is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and for an
    access line its fields (:data:`ACCESS_FIELDS`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime(datefmt or "%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
