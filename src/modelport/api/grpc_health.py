"""gRPC health checking (``grpc.health.v1.Health``) in step with the registry.

gRPC's own servicer (grpcio-health-checking) answers Check and Watch; this one keeps its
statuses following the registry, once a second and before every call: the server as a
whole (``""`` and the V2 service's name) serves once every model found at start-up has
been tried, like ``/health/ready``; a model, by its name, serves while one of its
versions is ready. Per-model answers say whether a model exists, so with an API token
set they need it, like ``ModelReady``.

Imported only by ``grpc_standard`` (it needs grpcio-health-checking).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2

from modelport.access import authorize_api
from modelport.api.auth import bearer_token
from modelport.api.errors import grpc_status, public_message
from modelport.api.proto import grpc_predict_v2_pb2 as pb
from modelport.config import Settings
from modelport.errors import ModelportError
from modelport.registry import ModelRegistry

__all__ = ["ModelHealthServicer"]

#: The names that mean the server as a whole: open, like /health/ready.
SERVER_WIDE = ("", pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
#: How often the statuses follow the registry (loads, reloads, removals) for watchers.
FOLLOW_INTERVAL_S = 1.0


class ModelHealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    """gRPC's health servicer, kept in step with one registry."""

    def __init__(self, registry: ModelRegistry, settings: Settings) -> None:
        super().__init__()
        self.registry = registry
        self.settings = settings
        self._models: set[str] = set()
        self._follower: asyncio.Task[None] | None = None

    async def _sync(self) -> None:
        ready = SERVING if self.registry.startup_complete else NOT_SERVING
        for service in SERVER_WIDE:
            await self.set(service, ready)
        models = {model.name: model for model in self.registry.models()}
        for name, model in models.items():
            await self.set(name, SERVING if model.newest_ready() is not None else NOT_SERVING)
        for gone in self._models - models.keys():
            await self.set(gone, NOT_SERVING)
        self._models |= models.keys()

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL_S)
            await self._sync()

    async def _ready_to_answer(self, request: Any, context: Any) -> None:
        # Started by the first call, inside the server's event loop (the servicer is
        # built before it runs); the reference keeps the task from being collected.
        if self._follower is None:
            self._follower = asyncio.get_running_loop().create_task(
                self._follow(), name="modelport-grpc-health"
            )
        await self._sync()
        if request.service in SERVER_WIDE:
            return
        value = dict(context.invocation_metadata() or ()).get("authorization")
        try:
            authorize_api(self.settings, bearer_token(value if isinstance(value, str) else None))
        except ModelportError as exc:
            code = getattr(grpc.StatusCode, grpc_status(exc))
            await context.abort(code, public_message(exc, "gRPC health"))

    async def Check(self, request: Any, context: Any) -> Any:
        await self._ready_to_answer(request, context)
        return await super().Check(request, context)

    async def Watch(self, request: Any, context: Any) -> None:
        await self._ready_to_answer(request, context)
        await super().Watch(request, context)
