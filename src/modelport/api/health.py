"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelport.api.responses import OrjsonResponse
from modelport.api.state import registry_of
from modelport.contracts import Live, Ready

__all__ = ["router"]

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="200 while the process runs", responses={200: {"model": Live}})
async def live() -> Response:
    return OrjsonResponse({"status": "live"})


@router.get(
    "/ready",
    summary="200 once every model has been tried at start-up, else 503",
    responses={200: {"model": Ready}},
)
async def ready(request: Request) -> Response:
    registry = registry_of(request)
    models = {m.name: m.state for m in registry.models()}
    if not registry.startup_complete:
        return OrjsonResponse(
            {"error": "not_ready", "message": "models are still loading", "models": models},
            status_code=503,
        )
    return OrjsonResponse({"status": "ready", "models": models})
