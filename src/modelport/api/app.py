"""The app factory: builds one FastAPI app around one Settings object; no globals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport import __version__
from modelport.access import Access, access_for
from modelport.api import admin, health, mlflow, native, predictions, v2
from modelport.api.auth import AccessMiddleware
from modelport.api.cors import CorsMiddleware
from modelport.api.docs import install_docs
from modelport.api.errors import error_response, install_error_handlers
from modelport.api.fastlane import FastLane, is_fast_lane_request
from modelport.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from modelport.api.responses import OrjsonResponse
from modelport.api.routes import install_custom_routes
from modelport.cache import ServingCache
from modelport.config import Settings, load_settings
from modelport.errors import ModelportError
from modelport.inference import InferenceService
from modelport.kvstore import make_store
from modelport.management import ModelManager
from modelport.predlog import PredictionLog
from modelport.registry import ModelRegistry
from modelport.repository.watch import RepositoryWatcher, snapshot_repository
from modelport.routes import load_routes
from modelport.sync import ChangeFeed

__all__ = ["create_app", "create_app_from_env"]

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """A ready-to-serve ASGI app; models load in the background once it starts."""
    registry = ModelRegistry(settings.model_dir)
    inference = InferenceService.from_settings(registry, settings)
    manager = ModelManager(settings, registry)
    feed = ChangeFeed(
        manager.engine,
        manager.follow,
        settings.sync_interval,
        settings.redis_url,
        ready=manager.ensure_db,
    )
    manager.on_change = feed.notify
    # Custom routes: read and imported now, so the app's route table is complete before
    # it serves (they change at the next start, not on a model reload).
    store = make_store(settings.redis_url)
    route_table = load_routes(settings.model_dir)
    # The response cache and the prediction log hang off the one inference path.
    cache = ServingCache.from_settings(settings)
    inference.cache = cache
    registry.on_change = cache.forget_soon
    prediction_log = PredictionLog(manager.engine, settings, ready=manager.ensure_db)
    inference.log = prediction_log

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One process: load in the background, so /health/live answers at once while big
        # models load and /health/ready says 503 until every model has been tried.
        # Several workers share one port, and a worker that answered before loading would
        # turn clients away while its siblings are ready: each loads before it accepts.
        background: list[asyncio.Task[Any]] = []
        loading = asyncio.create_task(
            _start(settings, manager, feed, background), name="modelport-load-models"
        )
        # Garbage-collector pauses were the p99 tail in the benchmark. Each request makes a
        # few hundred short-lived objects, so collect the young generation less often than
        # every 700 allocations; and once loaded, the long-lived models are frozen so that
        # full collections stop walking them. Here, not in the CLI, so every worker gets it.
        gc.set_threshold(100_000, 50, 100)
        loading.add_done_callback(lambda _: gc.freeze())
        prediction_log.start()
        if settings.workers > 1:
            await loading
        grpc_server = await _start_grpc(settings, registry, inference, manager)
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=min(5.0, settings.request_timeout))
            for task in [loading, *background]:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            inference.close()
            await prediction_log.close()  # writes what is buffered, bounded in time
            await cache.close()
            manager.close()
            store.close()

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
    app.state.manager = manager
    app.include_router(health.router)
    app.include_router(native.router)
    app.include_router(mlflow.router)
    app.include_router(v2.router)
    app.include_router(admin.router)
    app.include_router(predictions.router)
    install_docs(app)
    custom = install_custom_routes(app, route_table, settings, inference, manager, store)
    app.admin_routes = frozenset((r.method, r.path) for r in custom.routes if r.admin)
    app.api_token_required = settings.api_token is not None
    app.state.store = store
    app.state.route_problems = route_table.problems
    app.state.error_shape_for = custom.shape_for
    install_error_handlers(app)

    def reject(exc: ModelportError, path: str) -> Response:
        # Errors answered before routing (413, 401) take a custom route's shape too.
        return error_response(exc, path, custom.shape_for(path))

    # Added last = outermost: every response, 413s included, carries the request id.
    app.add_middleware(AccessMiddleware, settings=settings, reject=reject)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_size,
        reject=reject,
        uploads=("/v1/admin/", settings.max_upload_size),
    )
    app.add_middleware(RequestIdMiddleware)
    cors = bool(settings.cors_origins) or custom.any_cors()
    if cors:  # outermost: errors from any layer reach a browser client readable
        app.add_middleware(
            CorsMiddleware, origins=settings.cors_origins, route_cors=custom.cors_for
        )
    app.fast_lane = FastLane(inference, settings)
    if cors:
        app.fast_lane = CorsMiddleware(app.fast_lane, origins=settings.cors_origins)
    return app


async def _start(
    settings: Settings,
    manager: ModelManager,
    feed: ChangeFeed,
    background: list[asyncio.Task[Any]],
) -> None:
    """Load the models, then follow other processes' changes and (optionally) the folder."""
    # Where the feed starts is read before the scan, so a change made while this process
    # loads is replayed rather than missed.
    await feed.begin()
    watcher = RepositoryWatcher(settings.model_dir, manager.files_changed, settings.watch_interval)
    if settings.watch:
        watcher.start_from(await asyncio.to_thread(snapshot_repository, settings.model_dir))
    await manager.start()
    background.append(asyncio.create_task(feed.run(), name="modelport-change-feed"))
    if settings.watch:
        log.info("watching %s for new and changed models", settings.model_dir)
        background.append(asyncio.create_task(watcher.run(), name="modelport-watch"))


class ModelportApp(FastAPI):
    """FastAPI, plus the fast lane that serves native predictions without its routing."""

    fast_lane: ASGIApp | None = None
    #: (METHOD, path) of the custom routes declared admin: true.
    admin_routes: frozenset[tuple[str, str]] = frozenset()
    #: Whether predictions need the API token (then the docs say so too).
    api_token_required = False

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
        if self.fast_lane is not None and is_fast_lane_request(scope):
            await self.fast_lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _start_grpc(
    settings: Settings,
    registry: ModelRegistry,
    inference: InferenceService,
    manager: ModelManager,
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
    return await start_grpc_server(settings, registry, inference, manager)


def create_app_from_env() -> FastAPI:
    """Factory for worker processes: settings come from the MODELPORT_* environment."""
    return create_app(load_settings())
