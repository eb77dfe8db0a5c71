"""The predict endpoints (native and Open Inference Protocol REST) served straight from
ASGI, in one function.

Profiling the server under load (``make bench-profile``) showed most of each request's
time in layers around one decode, one core call and one encode: FastAPI's routing and
dependency solving first; then, once those were bypassed, four nested middleware
(request id, body limit, access policy, catch-all), each wrapping ``receive``/``send`` in a
closure, and a Starlette response object. The fast lane answers
``POST /v1/models/{name}[/versions/{v}]:predict`` and
``POST /v2/models/{name}[/versions/{v}]/infer`` doing those same four jobs inline, with the
same helpers and error mapper as the middleware, and the very same code as the routed
endpoints (``protocols.native.predict_answer``, ``protocols.v2_rest.infer_answer``), which
stay declared for OpenAPI and answer if the lane is bypassed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.types import Message, Receive, Scope, Send

from modelport import accesslog
from modelport.access import host_check_for
from modelport.accesswriter import AccessWriter
from modelport.api.auth import check_api_request
from modelport.api.errors import error_response, unexpected_error_response
from modelport.api.middleware import (
    CACHE_HEADER,
    ROUTE_KEY_HEADER,
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
from modelport.protocols.v2_dataplane import Caller
from modelport.protocols.v2_rest import infer_answer
from modelport.tracing import Tracing

__all__ = ["FastLane", "is_fast_lane_request"]

# Names and versions never hold '/' (names are validated; versions are numbers/aliases).
_PREDICT = re.compile(r"^/v1/models/([^/]+?)(?:/versions/([^/]+))?:predict$")
_INFER = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?/infer$")
_JSON = (b"content-type", b"application/json")
_BINARY = (b"content-type", b"application/octet-stream")
_CACHE = CACHE_HEADER.encode("latin-1")
_ROUTE_KEY = ROUTE_KEY_HEADER.encode("latin-1")
_HEADER_LENGTH = b"inference-header-content-length"

Headers = list[tuple[bytes, bytes]]


def is_fast_lane_request(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    path: str = scope["path"]
    pattern = _INFER if path.startswith("/v2/") else _PREDICT
    return pattern.match(path) is not None


class FastLane:
    """ASGI app for the predict endpoints (only called for matching requests).

    Does what the app's middleware does for every other path, in the same order and
    with the same functions: a request id on every answer, the body size limit (by
    header, then while reading), the Host allow-list and the API token when one is set,
    and a JSON 500 for anything unexpected.
    """

    def __init__(
        self,
        inference: InferenceService,
        settings: Settings,
        tracing: Tracing | None = None,
        access_log: AccessWriter | None = None,
    ) -> None:
        self.inference = inference
        self.tracing = tracing
        self.settings = settings
        self.limit = settings.max_body_size
        self.hosts = host_check_for(settings)
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given_id, declared, authorization, host, json_size, encoding, trace = _headers(scope)
        raw_id = request_id_from(given_id, trace)
        set_request_id(scope, raw_id)
        path: str = scope["path"]
        token = accesslog.begin(
            raw_id.decode("latin-1"),
            self.tracing,
            "POST",
            path,
            None if trace is None else trace.decode("latin-1"),
        )
        status = 500
        try:
            status = await self._answer(
                scope, receive, send, raw_id, (declared, authorization, host, json_size, encoding)
            )
        finally:
            accesslog.finish(token, self.access_log, "POST", path, status, client_address(scope))

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        raw_id: bytes,
        headers_read: tuple[bytes | None, ...],
    ) -> int:
        """Answer the request; returns the status sent."""
        declared, authorization, host, json_size, encoding = headers_read
        path: str = scope["path"]
        try:
            # The middleware's order: BodyLimitMiddleware (by header) is outside
            # AccessMiddleware (the Host allow-list, then the API token).
            check_declared_size(declared, self.limit, "max_body_size")
            check_api_request(self.hosts, self.settings, host, authorization)
            body = await _body(receive, self.limit)
            if path.startswith("/v2/"):
                content, headers = await self._infer(scope, body, path, raw_id, json_size, encoding)
            else:
                content, headers = await self._predict(scope, body, path, raw_id)
        except ModelportError as exc:
            response = error_response(exc, path)
            await response(scope, receive, sending_request_id(send, raw_id))
            return response.status_code
        except Exception as exc:  # noqa: BLE001  the catch-all 500, as the middleware's
            response = unexpected_error_response(exc, scope)
            await response(scope, receive, sending_request_id(send, raw_id))
            return response.status_code
        headers += ((b"content-length", b"%d" % len(content)), (b"x-request-id", raw_id))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        return 200

    async def _predict(
        self, scope: Scope, body: bytes, path: str, raw_id: bytes
    ) -> tuple[bytes, Headers]:
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
            body,
            query[-1] if query else None,
            raw_id.decode("latin-1"),
            client_address(scope),
            _route_key(scope),
        )
        return dumps(answer), _with_cache([_JSON], cache)

    async def _infer(
        self,
        scope: Scope,
        body: bytes,
        path: str,
        raw_id: bytes,
        json_size: bytes | None,
        encoding: bytes | None,
    ) -> tuple[bytes, Headers]:
        match = _INFER.match(path)
        if match is None:  # the dispatcher sends only matching requests: a bug if not
            raise RuntimeError(f"the fast lane got a path it does not serve: {path!r}")
        answer = await infer_answer(
            self.inference,
            match.group(1),
            match.group(2),
            body,
            None if json_size is None else json_size.decode("latin-1"),
            None if encoding is None else encoding.decode("latin-1"),
            self.limit,
            Caller("v2-rest", raw_id.decode("latin-1"), client_address(scope), _route_key(scope)),
        )
        if answer.json_size is None:
            return answer.content, _with_cache([_JSON], answer.cache)
        headers = [_BINARY, (_HEADER_LENGTH, b"%d" % answer.json_size)]
        return answer.content, _with_cache(headers, answer.cache)


def _headers(scope: Scope) -> tuple[bytes | None, ...]:
    """The request headers the lane reads, in one pass (the last of repeated ones wins):
    x-request-id, content-length, authorization, host, V2's JSON size and encoding, and
    traceparent."""
    given_id = declared = authorization = host = json_size = encoding = trace = None
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            given_id = value
        elif key == b"content-length":
            declared = value
        elif key == b"authorization":
            authorization = value
        elif key == b"host":
            host = value
        elif key == _HEADER_LENGTH:
            json_size = value
        elif key == b"content-encoding":
            encoding = value
        elif key == b"traceparent":
            trace = value
    return given_id, declared, authorization, host, json_size, encoding, trace


def _route_key(scope: Scope) -> str | None:
    """The X-Modelport-Route-Key header (read here, not in ``_headers``: only the predict
    paths take it)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == _ROUTE_KEY:
            return value.decode("latin-1")
    return None


def _with_cache(headers: Headers, cache: str | None) -> Headers:
    if cache is not None:
        headers.append((_CACHE, cache.encode("latin-1")))
    return headers


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
