"""Call one route function and turn what it returns into a :class:`RouteAnswer`.

A function returns a JSON-able value (200), ``(value, status)`` or
``(value, status, headers)`` as in Flask, a ``str`` (plain text) or a :class:`Reply`.
It refuses a request by raising ``modelport.errors.InvalidRequestError`` (400) or any
other ``ModelportError``; any other exception is a bug, answered 500 by the API layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from modelport.errors import DatabaseUnavailableError, InvalidRequestError, PredictionTimeoutError
from modelport.routes.handle import ServerHandle
from modelport.routes.request import RouteRequest
from modelport.routes.schema import NO_JSON, validate_json
from modelport.routes.table import BoundRoute

__all__ = ["Reply", "RouteAnswer", "run_route"]


@dataclass(frozen=True, slots=True)
class Reply:
    """A full answer: ``content`` is JSON-encoded, unless it is ``str`` (text) or
    ``bytes`` (sent as they are, with ``media_type``)."""

    content: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str | None = None


@dataclass(frozen=True, slots=True)
class RouteAnswer:
    status: int
    #: "json" (content is encoded in the route's JSON style), "text" or "bytes".
    kind: str
    content: Any
    headers: dict[str, str]
    media_type: str | None = None


async def run_route(
    route: BoundRoute, request: RouteRequest, server: ServerHandle, timeout_s: float
) -> RouteAnswer:
    """Validate the body (when the route has a schema), call the function, normalize."""
    if route.validator is not None:
        document = request.json
        if document is None:
            raise InvalidRequestError(NO_JSON)
        validate_json(route.validator, document)
    arguments = (request, server)[: route.arity]
    try:
        if route.is_async:
            result = await asyncio.wait_for(route.function(*arguments), timeout_s)
        else:
            # A thread, as Flask and Tornado users expect to write blocking code; it cannot
            # be stopped at the timeout, but the client gets its 504 on time.
            result = await asyncio.wait_for(
                asyncio.to_thread(route.function, *arguments), timeout_s
            )
    except TimeoutError:
        raise PredictionTimeoutError(
            f"route {route.label} did not answer within {timeout_s:g} s (setting request_timeout)"
        ) from None
    except (OperationalError, InterfaceError) as exc:
        # As the store's own guard (db/tx.py): the database did not answer.
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise DatabaseUnavailableError(f"the database is unavailable: {reason}") from exc
    return to_answer(result)


def to_answer(result: Any) -> RouteAnswer:
    """What a route function returned -> status, kind, content, headers."""
    if isinstance(result, Reply):
        return _answer(result.content, result.status, dict(result.headers), result.media_type)
    if isinstance(result, tuple):
        if len(result) == 2:
            return _answer(result[0], result[1], {}, None)
        if len(result) == 3 and isinstance(result[2], Mapping):
            return _answer(result[0], result[1], dict(result[2]), None)
        raise TypeError(
            "a route returned a tuple that is not (value, status) or (value, status, headers)"
        )
    return _answer(result, 200, {}, None)


def _answer(
    content: Any, status: Any, headers: dict[str, str], media_type: str | None
) -> RouteAnswer:
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise TypeError(f"a route returned status {status!r}; use an int from 100 to 599")
    if isinstance(content, str):
        return RouteAnswer(status, "text", content, headers, media_type)
    if isinstance(content, bytes | bytearray):
        return RouteAnswer(status, "bytes", bytes(content), headers, media_type)
    return RouteAnswer(status, "json", content, headers, media_type)
