"""``GET /v1/models/{name}/live``: one model's counters as JSON, for the UI's live charts."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from modelport.api.responses import OrjsonResponse
from modelport.api.schemas import ErrorBody
from modelport.api.state import registry_of
from modelport.contracts import LiveNumbers
from modelport.errors import NotFoundError
from modelport.metrics import Metrics
from modelport.metrics_live import live_numbers

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["models"])


@router.get(
    "/models/{name}/live",
    summary="The model's predictions, errors, latency, rows per call and cache lookups so "
    "far (all workers; the numbers of GET /metrics)",
    responses={200: {"model": LiveNumbers}, 404: {"model": ErrorBody}},
)
async def live(name: str, request: Request) -> Response:
    registry_of(request).get(name)  # 404 naming the served models
    metrics: Metrics | None = request.app.state.services.metrics
    if metrics is None:
        raise NotFoundError(
            "live numbers come from the metrics, which this server turned off (--no-metrics)"
        )
    return OrjsonResponse(live_numbers(metrics, name))
