"""The app factory: one FastAPI app around the parts one Settings object builds
(``modelport.services``); no globals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport import __version__
from modelport.access import Access, access_for
from modelport.api import (
    admin,
    health,
    live,
    mlflow,
    monitor,
    native,
    predictions,
    rollouts,
    status,
    v2,
)
from modelport.api.admission import Admission
from modelport.api.auth import AccessMiddleware
from modelport.api.cors import CorsMiddleware
from modelport.api.custom_routes import install_custom_routes
from modelport.api.docs import install_docs
from modelport.api.errors import error_response, install_error_handlers
from modelport.api.fastlane import FastLane, is_fast_lane_request
from modelport.api.metrics import metrics_router
from modelport.api.metrics_port import MetricsPort
from modelport.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from modelport.api.recycling import Recycler
from modelport.api.responses import OrjsonResponse
from modelport.api.ui import install_ui
from modelport.config import Settings, load_settings
from modelport.errors import ModelportError
from modelport.services import Services, build_services

__all__ = ["ModelportApp", "create_app", "create_app_from_env"]

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> ModelportApp:
    """A ready-to-serve ASGI app; models load in the background once it starts."""
    return ModelportApp(build_services(settings))


def _lifespan(
    services: Services, recycler: Recycler | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    settings = services.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One process: load in the background, so /health/live answers at once while big
        # models load and /health/ready says 503 until every model has been tried.
        # Several workers share one port, and a worker that answered before loading would
        # turn clients away while its siblings are ready: each loads before it accepts
        # (so does a recycled worker's successor, even of --workers 1).
        background: list[asyncio.Task[Any]] = []
        loading = asyncio.create_task(services.start(background), name="modelport-load-models")
        # Garbage-collector pauses were the p99 tail in the benchmark. Each request makes a
        # few hundred short-lived objects, so collect the young generation less often than
        # every 700 allocations; and once loaded, the long-lived models are frozen so that
        # full collections stop walking them. Here, not in the CLI, so every worker gets it.
        gc.set_threshold(100_000, 50, 100)
        loading.add_done_callback(lambda _: gc.freeze())
        services.prediction_log.start()
        if settings.shares_port:
            await loading
        if recycler is not None:
            background.append(
                asyncio.create_task(recycler.watch_memory(), name="modelport-memory-watch")
            )
        grpc_server = await _start_grpc(services)
        metrics_port = None
        if services.metrics is not None and settings.metrics_port:
            metrics_port = MetricsPort(services.metrics, settings)
            await metrics_port.start()
        try:
            yield
        finally:
            if metrics_port is not None:
                await metrics_port.stop()
            if grpc_server is not None:
                await grpc_server.stop(grace=min(5.0, settings.request_timeout))
            for task in [loading, *background]:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.close()

    return lifespan


class ModelportApp(FastAPI):
    """FastAPI around one server's parts, plus the fast lane that serves native
    predictions without its routing. Everything is set up here, at construction."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        #: Counts requests and watches memory when workers are recycled (else None).
        self.recycler = Recycler.from_environment(settings)
        super().__init__(
            title="modelport",
            version=__version__,
            description="Trained machine-learning models behind a fast, safe, standard HTTP API.",
            lifespan=_lifespan(services, self.recycler),
            docs_url=None,
            redoc_url=None,
            default_response_class=OrjsonResponse,
        )
        self.services = services
        self.state.services = services
        self.state.settings = settings
        self.state.registry = services.registry
        self.state.inference = services.inference
        self.state.manager = services.manager
        self.state.database = services.database
        self.state.store = services.store
        self.state.route_problems = services.route_table.problems
        for router in ROUTERS:
            self.include_router(router)
        if services.metrics is not None and settings.metrics_port == 0:
            self.include_router(metrics_router(services.metrics))
        install_docs(self)
        custom = install_custom_routes(
            self,
            services.route_table,
            settings,
            services.inference,
            services.manager,
            services.store,
        )
        install_ui(self, root_taken=any(r.path == "/" and r.method == "GET" for r in custom.routes))
        #: (METHOD, path) of the custom routes declared admin: true.
        self.admin_routes = frozenset((r.method, r.path) for r in custom.routes if r.admin)
        #: Whether predictions need the API token (then the docs say so too).
        self.api_token_required = settings.api_token is not None
        self.state.error_shape_for = custom.shape_for
        install_error_handlers(self)

        def reject(exc: ModelportError, path: str) -> Response:
            # Errors answered before routing (413, 401) take a custom route's shape too.
            return error_response(exc, path, custom.shape_for(path))

        #: The most requests this worker handles at once (429 past it, at once).
        self.admission = Admission(
            settings.max_concurrent_requests,
            reject,
            services.access_log,
            services.inference.overload.refused,
        )
        if services.metrics is not None:
            services.metrics.admission.watch(lambda: self.admission.refused)
        # Added last = outermost: every response, 413s included, carries the request id.
        self.add_middleware(AccessMiddleware, settings=settings, reject=reject)
        self.add_middleware(
            BodyLimitMiddleware,
            limit=settings.max_body_size,
            reject=reject,
            uploads=("/v1/admin/", settings.max_upload_size),
        )
        self.add_middleware(
            RequestIdMiddleware, access_log=services.access_log, tracing=services.tracing
        )
        cors = bool(settings.cors_origins) or custom.any_cors()
        if cors:  # outermost: errors from any layer reach a browser client readable
            self.add_middleware(
                CorsMiddleware, origins=settings.cors_origins, route_cors=custom.cors_for
            )
        fast_lane: ASGIApp = FastLane(
            services.inference, settings, services.tracing, services.access_log
        )
        if cors:
            fast_lane = CorsMiddleware(fast_lane, origins=settings.cors_origins)
        self.fast_lane = fast_lane

    def openapi(self) -> dict[str, Any]:
        """The generated document, plus who may call each operation (the docs page's
        Authorize button then sends the token)."""
        if self.openapi_schema is not None:
            return self.openapi_schema
        schema = super().openapi()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                access = access_for(path)
                admin = access is Access.ADMIN or (method.upper(), path) in self.admin_routes
                if admin or (access is Access.API and self.api_token_required):
                    operation["security"] = [{"bearer": []}]
        return schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.recycler is not None and scope["type"] == "http":
            send = self.recycler.on_request(send)
        # Outside everything else, so that a refused request costs next to nothing.
        await self.admission(self._dispatch, scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_fast_lane_request(scope):
            await self.fast_lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


#: The built-in endpoints, by protocol.
ROUTERS = (
    health.router,
    native.router,
    live.router,
    mlflow.router,
    v2.router,
    admin.router,
    rollouts.router,
    monitor.router,
    status.router,
    predictions.router,
)


async def _start_grpc(services: Services) -> Any | None:
    """The Open Inference Protocol gRPC server, or None when off or grpcio is missing."""
    settings = services.settings
    if settings.grpc_port == 0:
        return None
    try:
        from modelport.api.grpc_server import start_grpc_server
    except ImportError as exc:
        log.warning(
            "gRPC is off: %s is not installed; pip install 'modelport[grpc]' to serve the "
            "Open Inference Protocol over gRPC on port %d (--grpc-port 0 silences this)",
            exc.name or "grpcio",
            settings.grpc_port,
        )
        return None
    # Any failure to start gRPC must leave HTTP serving: e.g. grpcio or protobuf older
    # than the generated code raise their own kinds of errors.
    except Exception as exc:  # noqa: BLE001
        log.warning(
            "gRPC is off: %s; pip install --upgrade 'modelport[grpc]' (--grpc-port 0 "
            "silences this)",
            exc,
        )
        return None
    return await start_grpc_server(
        settings, services.registry, services.inference, services.manager, services.access_log
    )


def create_app_from_env() -> FastAPI:
    """Factory for worker processes: settings come from the MODELPORT_* environment."""
    return create_app(load_settings())
