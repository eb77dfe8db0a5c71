"""The app factory: builds one FastAPI app around one Settings object; no globals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from modelport import __version__
from modelport.api import health, native
from modelport.api.docs import install_docs
from modelport.api.errors import error_response, install_error_handlers
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
        # Loading in the background lets /health/live answer at once while big models load;
        # /health/ready says 503 until every model has been tried.
        loading = asyncio.create_task(registry.load_all(), name="modelport-load-models")
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            inference.close()

    app = FastAPI(
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
    install_docs(app)
    install_error_handlers(app)
    # Added last = outermost: every response, 413s included, carries the request id.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_size, reject=error_response)
    app.add_middleware(RequestIdMiddleware)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for worker processes: settings come from the MODELPORT_* environment."""
    return create_app(load_settings())
