"""``GET /metrics``: every collector of ``modelport.metrics`` for Prometheus.

Prometheus text by default, OpenMetrics when the scraper's ``Accept`` asks for it. Under
the access policy this is an API path: open, unless ``api_token`` is set. The route is
added only when metrics are on (``--no-metrics`` leaves it out: 404).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelport.metrics import Metrics

__all__ = ["metrics_router"]


def metrics_router(metrics: Metrics) -> APIRouter:
    router = APIRouter(tags=["metrics"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics (text format; OpenMetrics on Accept)",
        responses={
            200: {
                "content": {
                    "text/plain": {"schema": {"type": "string", "format": "Prometheus text"}}
                }
            }
        },
    )
    async def scrape(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return router
