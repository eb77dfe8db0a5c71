"""Admission: the most requests one worker handles at once (``max_concurrent_requests``).

Past the limit a request is answered at once with 429 ``queue_full`` and ``Retry-After``,
before any of its body is read, so that under overload the requests already admitted keep
their latency and the rest learn fast that they should come back. Without it requests pile
up as coroutines waiting for the inference threads, each waiting longer than the last, and
every answer is late. Health checks, metrics and the management API are never counted nor
refused: an orchestrator must see a busy server as alive, and an operator must reach it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport.accesswriter import AccessWriter
from modelport.api.middleware import client_address, request_id_from, sending_request_id
from modelport.errors import ModelportError, QueueFullError

__all__ = ["EXEMPT_PREFIXES", "Admission"]

#: Paths never refused: liveness and readiness, metrics, the management API.
EXEMPT_PREFIXES = ("/health/", "/v2/health/", "/metrics", "/v1/admin/", "/ping")
#: Seconds a refused client is told to wait: requests here last milliseconds.
RETRY_AFTER_S = 1


class Admission:
    """Counts the requests in flight in this worker (one event loop: no lock needed)."""

    def __init__(
        self,
        limit: int,
        reject: Callable[[ModelportError, str], Response],
        access_log: AccessWriter | None = None,
        on_refused: Callable[[], None] | None = None,
    ) -> None:
        self.limit = limit
        self.in_flight = 0
        #: Requests refused since the start (read by the metrics fold).
        self.refused = 0
        self._reject = reject
        self._access_log = access_log
        self._on_refused = on_refused

    def exempt(self, path: str) -> bool:
        return path.startswith(EXEMPT_PREFIXES)

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run ``app`` for this request, or answer 429 when the worker is full."""
        path = str(scope.get("path", ""))
        if self.limit <= 0 or scope["type"] != "http" or self.exempt(path):
            await app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            error = QueueFullError(
                f"the server is handling {self.limit} requests already (setting "
                "max_concurrent_requests); retry shortly",
                retry_after_s=RETRY_AFTER_S,
            )
            self.refused += 1
            if self._on_refused is not None:
                self._on_refused()
            await self._refuse(error, path, scope, receive, send)
            return
        self.in_flight += 1
        try:
            await app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(
        self, error: ModelportError, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The 429, with the request's id and its access line like any other answer (the
        middleware that does both for admitted requests is inside this)."""
        started = time.perf_counter()
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        raw_id = request_id_from(given)
        response = self._reject(error, path)
        await response(scope, receive, sending_request_id(send, raw_id))
        if self._access_log is not None:
            self._access_log.write(
                raw_id.decode("latin-1"),
                str(scope.get("method", "")),
                path,
                response.status_code,
                time.perf_counter() - started,
                client_address(scope),
                None,
                None,
                None,
                None,
            )
