"""GET /v1/admin/status: the server at a glance for operators (``modelport status``).

Health, models, worker count, whether the database answers and how the response cache
is kept; a management endpoint (token required), since it names the database backend.
"""

from __future__ import annotations

import os
from typing import Literal

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response
from typing_extensions import TypedDict

from modelport import __version__
from modelport.api.admin import ADMIN_ERRORS
from modelport.api.auth import require_admin
from modelport.api.responses import OrjsonResponse
from modelport.api.state import database_of, manager_of, registry_of, settings_of
from modelport.errors import ModelportError

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["management"])


class ModelStatus(TypedDict):
    name: str
    state: str
    latest_version: int | None


class DatabaseStatus(TypedDict):
    backend: str
    ready: bool
    error: str | None


class CacheStatus(TypedDict):
    enabled: bool
    shared: bool


class ServerStatus(TypedDict):
    """GET /v1/admin/status."""

    modelport: str
    health: Literal["ready", "starting"]
    workers: int
    pid: int
    models: list[ModelStatus]
    database: DatabaseStatus
    cache: CacheStatus


@router.get(
    "/status",
    summary="The server at a glance: health, models, workers, database and cache",
    responses={200: {"model": ServerStatus}, **ADMIN_ERRORS},
)
async def server_status(request: Request) -> Response:
    await require_admin(request)
    registry = registry_of(request)
    settings = settings_of(request)
    database = database_of(request)
    error = None
    try:
        # A real read (the newest audit entry), so a database gone since start shows.
        await manager_of(request).audit_entries(None, 1)
    except ModelportError as exc:
        error = exc.message
    models: list[ModelStatus] = []
    for model in registry.models():
        newest = model.newest_ready()
        models.append(
            {
                "name": model.name,
                "state": model.state,
                "latest_version": newest.version if newest else None,
            }
        )
    answer: ServerStatus = {
        "modelport": __version__,
        "health": "ready" if registry.startup_complete else "starting",
        "workers": settings.workers,
        "pid": os.getpid(),
        "models": sorted(models, key=lambda m: m["name"]),
        "database": {
            "backend": database.engine.dialect.name,
            "ready": error is None,
            "error": error,
        },
        "cache": {"enabled": settings.cache, "shared": settings.redis_url is not None},
    }
    return OrjsonResponse(answer)
