"""The native predict endpoints served without the framework's routing.

Profiling the server under load showed about a third of each request's time in FastAPI's
own layers (routing, dependency solving, its middleware) for what is one decode, one core
call and one encode. The fast lane answers ``POST /v1/models/{name}[/versions/{v}]:predict``
straight from ASGI, behind the same request-id, body-limit and catch-all middleware, with
the very same code as the routed endpoints (``native.predict_response``), which stay
declared for OpenAPI and answer if the lane is bypassed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.types import Message, Receive, Scope, Send

from modelport.api.errors import error_response
from modelport.api.middleware import client_address, request_id_of
from modelport.api.native import predict_response
from modelport.errors import ModelportError
from modelport.inference import InferenceService

__all__ = ["FastLane", "is_fast_lane_request"]

# Names and versions never hold '/' (names are validated; versions are numbers/aliases).
_PREDICT = re.compile(r"^/v1/models/([^/]+?)(?:/versions/([^/]+))?:predict$")


def is_fast_lane_request(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and _PREDICT.match(scope["path"]) is not None
    )


class FastLane:
    """ASGI app for the native predict endpoints (only called for matching requests)."""

    def __init__(self, inference: InferenceService) -> None:
        self.inference = inference

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PREDICT.match(scope["path"])
        assert match is not None  # the dispatcher only sends matching requests
        name, version = match.group(1), match.group(2)
        query = parse_qs(scope["query_string"].decode("latin-1")).get("probabilities")
        try:
            response = await predict_response(
                self.inference,
                name,
                version,
                await _body(receive),
                query[-1] if query else None,
                request_id_of(scope),
                client_address(scope),
            )
        except ModelportError as exc:
            response = error_response(exc, scope["path"])
        await response(scope, receive, send)


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
