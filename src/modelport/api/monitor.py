"""``GET /v1/models/{name}/monitor``: drift and data quality of a model's inputs and
outputs, its newest logged rows against its reference profile."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from modelport.api.responses import OrjsonResponse
from modelport.api.schemas import ErrorBody
from modelport.contracts import MonitorReport
from modelport.monitor.service import MonitorService

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["models"])


@router.get(
    "/models/{name}/monitor",
    summary="Drift and data quality per feature: PSI, Kolmogorov-Smirnov, chi-square, "
    "missing, out-of-range and unseen rates, each ok / warn / alert (the same in every "
    "worker)",
    responses={200: {"model": MonitorReport}, 404: {"model": ErrorBody}},
)
async def monitor(
    name: str,
    request: Request,
    version: str | None = Query(
        None, description="A version number or alias (default: the one that answers)"
    ),
) -> Response:
    service: MonitorService = request.app.state.services.monitor
    return OrjsonResponse(await service.report(name, version or None))
