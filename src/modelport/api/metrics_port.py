"""``GET /metrics`` on a port of its own (``metrics_port``), for scrapers kept apart from
API clients.

Each worker serves it with uvicorn on a socket bound with ``SO_REUSEPORT``, so with
``--workers N`` the workers share the port as they share the API's, and whichever one
answers sums every worker's values (prometheus-client's multiprocess mode). The same
access rule as on the API port: the Host allow-list, and the API token when one is set.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.types import Receive, Scope, Send

from modelport.access import host_check_for
from modelport.api.auth import check_api_request
from modelport.api.errors import error_response
from modelport.config import Settings
from modelport.errors import ModelportError, NotFoundError
from modelport.metrics import Metrics

__all__ = ["MetricsPort"]


class MetricsPort:
    """The ASGI app of the metrics port, and the uvicorn server that runs it."""

    def __init__(self, metrics: Metrics, settings: Settings) -> None:
        self.metrics = metrics
        self.settings = settings
        self.hosts = host_check_for(settings)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        headers = dict(scope["headers"])
        try:
            if path != "/metrics" or scope["method"] not in ("GET", "HEAD"):
                raise NotFoundError(f"this port serves only GET /metrics, not {path!r}")
            check_api_request(
                self.hosts, self.settings, headers.get(b"host"), headers.get(b"authorization")
            )
        except ModelportError as exc:
            await error_response(exc, path)(scope, receive, send)
            return
        accept = headers.get(b"accept")
        body, content_type = self.metrics.render(
            None if accept is None else accept.decode("latin-1")
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode("latin-1")),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def start(self) -> None:
        settings = self.settings
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((settings.host, settings.metrics_port))
        config = uvicorn.Config(
            self, lifespan="off", access_log=False, log_config=None, server_header=False
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(
            self._server.serve(sockets=[sock]), name="modelport-metrics-port"
        )

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
