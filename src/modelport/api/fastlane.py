"""The native predict endpoints served straight from ASGI, in one function.

Profiling the server under load (``make bench-profile``) showed most of each request's
time in layers around one decode, one core call and one encode: FastAPI's routing and
dependency solving first; then, once those were bypassed, four nested middleware
(request id, body limit, access policy, catch-all), each wrapping ``receive``/``send`` in a
closure, and a Starlette response object. The fast lane answers
``POST /v1/models/{name}[/versions/{v}]:predict`` doing those same four jobs inline, with
the same helpers and error mapper as the middleware, and the very same predict code as
the routed endpoints (``protocols.native.predict_answer``), which stay declared for OpenAPI and
answer if the lane is bypassed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.types import Message, Receive, Scope, Send

from modelport.access import host_check_for
from modelport.api.auth import check_api_request
from modelport.api.errors import error_response, unexpected_error_response
from modelport.api.middleware import (
    CACHE_HEADER,
    check_declared_size,
    check_received_size,
    client_address,
    request_id_from,
    sending_request_id,
    set_request_id,
)
from modelport.api.responses import dumps
from modelport.config import Settings
from modelport.errors import ModelportError
from modelport.inference import InferenceService
from modelport.protocols.native import predict_answer

__all__ = ["FastLane", "is_fast_lane_request"]

# Names and versions never hold '/' (names are validated; versions are numbers/aliases).
_PREDICT = re.compile(r"^/v1/models/([^/]+?)(?:/versions/([^/]+))?:predict$")
_JSON = (b"content-type", b"application/json")
_CACHE = CACHE_HEADER.encode("latin-1")


def is_fast_lane_request(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and _PREDICT.match(scope["path"]) is not None
    )


class FastLane:
    """ASGI app for the native predict endpoints (only called for matching requests).

    Does what the app's middleware does for every other path, in the same order and
    with the same functions: a request id on every answer, the body size limit (by
    header, then while reading), the Host allow-list and the API token when one is set,
    and a JSON 500 for anything unexpected.
    """

    def __init__(self, inference: InferenceService, settings: Settings) -> None:
        self.inference = inference
        self.settings = settings
        self.limit = settings.max_body_size
        self.hosts = host_check_for(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given_id = declared = authorization = host = None
        for key, value in scope["headers"]:  # the last of repeated headers wins
            if key == b"x-request-id":
                given_id = value
            elif key == b"content-length":
                declared = value
            elif key == b"authorization":
                authorization = value
            elif key == b"host":
                host = value
        raw_id = request_id_from(given_id)
        set_request_id(scope, raw_id)
        path: str = scope["path"]
        try:
            # The middleware's order: BodyLimitMiddleware (by header) is outside
            # AccessMiddleware (the Host allow-list, then the API token).
            check_declared_size(declared, self.limit, "max_body_size")
            check_api_request(self.hosts, self.settings, host, authorization)
            content, cache = await self._predict(scope, receive, path, raw_id)
        except ModelportError as exc:
            await error_response(exc, path)(scope, receive, sending_request_id(send, raw_id))
            return
        except Exception as exc:  # noqa: BLE001  the catch-all 500, as the middleware's
            response = unexpected_error_response(exc, scope)
            await response(scope, receive, sending_request_id(send, raw_id))
            return
        headers = [_JSON, (b"content-length", b"%d" % len(content)), (b"x-request-id", raw_id)]
        if cache is not None:
            headers.append((_CACHE, cache.encode("latin-1")))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _predict(
        self, scope: Scope, receive: Receive, path: str, raw_id: bytes
    ) -> tuple[bytes, str | None]:
        match = _PREDICT.match(path)
        if match is None:  # the dispatcher sends only matching requests: a bug if not
            raise RuntimeError(f"the fast lane got a path it does not serve: {path!r}")
        query_string: bytes = scope["query_string"]
        query = (
            parse_qs(query_string.decode("latin-1")).get("probabilities") if query_string else None
        )
        answer, cache = await predict_answer(
            self.inference,
            match.group(1),
            match.group(2),
            await _body(receive, self.limit),
            query[-1] if query else None,
            raw_id.decode("latin-1"),
            client_address(scope),
        )
        return dumps(answer), cache


async def _body(receive: Receive, limit: int) -> bytes:
    """The whole request body; 413 as soon as it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        received += len(chunk)
        check_received_size(received, limit, "max_body_size")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
