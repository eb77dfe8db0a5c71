"""The app factory: builds one FastAPI app around one Settings object; no globals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport import __version__
from modelport.api import health, mlflow, native, v2
from modelport.api.docs import install_docs
from modelport.api.errors import (
    UnexpectedErrorMiddleware,
    error_response,
    install_error_handlers,
)
from modelport.api.fastlane import FastLane, is_fast_lane_request
from modelport.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from modelport.api.responses import OrjsonResponse
from modelport.config import Settings, load_settings
from modelport.inference import InferenceService
from modelport.registry import ModelRegistry

__all__ = ["create_app", "create_app_from_env"]

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """A ready-to-serve ASGI app; models load in the background once it starts."""
    registry = ModelRegistry(settings.model_dir)
    inference = InferenceService.from_settings(registry, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One process: load in the background, so /health/live answers at once while big
        # models load and /health/ready says 503 until every model has been tried.
        # Several workers share one port, and a worker that answered before loading would
        # turn clients away while its siblings are ready: each loads before it accepts.
        loading = asyncio.create_task(registry.load_all(), name="modelport-load-models")
        # Garbage-collector pauses were the p99 tail in the benchmark. Each request makes a
        # few hundred short-lived objects, so collect the young generation less often than
        # every 700 allocations; and once loaded, the long-lived models are frozen so that
        # full collections stop walking them. Here, not in the CLI, so every worker gets it.
        gc.set_threshold(100_000, 50, 100)
        loading.add_done_callback(lambda _: gc.freeze())
        if settings.workers > 1:
            await loading
        grpc_server = await _start_grpc(settings, registry, inference)
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=min(5.0, settings.request_timeout))
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            inference.close()

    app = ModelportApp(
        title="modelport",
        version=__version__,
        description="Trained machine-learning models behind a fast, safe, standard HTTP API.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        default_response_class=OrjsonResponse,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.inference = inference
    app.include_router(health.router)
    app.include_router(native.router)
    app.include_router(mlflow.router)
    app.include_router(v2.router)
    install_docs(app)
    install_error_handlers(app)
    # Added last = outermost: every response, 413s included, carries the request id.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_size, reject=error_response)
    app.add_middleware(RequestIdMiddleware)
    app.fast_lane = RequestIdMiddleware(
        BodyLimitMiddleware(
            UnexpectedErrorMiddleware(FastLane(inference)),
            limit=settings.max_body_size,
            reject=error_response,
        )
    )
    return app


class ModelportApp(FastAPI):
    """FastAPI, plus the fast lane that serves native predictions without its routing."""

    fast_lane: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_lane is not None and is_fast_lane_request(scope):
            await self.fast_lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _start_grpc(
    settings: Settings, registry: ModelRegistry, inference: InferenceService
) -> Any | None:
    """The Open Inference Protocol gRPC server, or None when off or grpcio is missing."""
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
    except Exception as exc:  # e.g. grpcio or protobuf older than the generated code
        log.warning(
            "gRPC is off: %s; pip install --upgrade 'modelport[grpc]' (--grpc-port 0 "
            "silences this)",
            exc,
        )
        return None
    return await start_grpc_server(settings, registry, inference)


def create_app_from_env() -> FastAPI:
    """Factory for worker processes: settings come from the MODELPORT_* environment."""
    return create_app(load_settings())
