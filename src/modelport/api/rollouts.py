"""The rollout endpoints under /v1/admin: a model's traffic split and shadow version, and
the comparison of the shadow's answers with the served ones.

Each authorizes (``require_admin``), then calls one RolloutActions method; the change is
audited and reaches every other worker and server as alias moves do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from modelport.api.admin import ADMIN_ERRORS, json_object
from modelport.api.auth import require_admin
from modelport.api.responses import OrjsonResponse
from modelport.api.state import database_of, inference_of, manager_of, registry_of
from modelport.compare import compare_shadow
from modelport.contracts import CompareReport, ModelRollout
from modelport.errors import InvalidRequestError

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["rollouts"])


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.put(
    "/models/{name}/traffic",
    summary='Split the default traffic: {"traffic": {"production": 90, "candidate": 10}}',
    responses={200: {"model": ModelRollout}, **ADMIN_ERRORS},
    openapi_extra=_body(
        {
            "type": "object",
            "required": ["traffic"],
            "properties": {
                "traffic": {
                    "type": "object",
                    "description": "Aliases or version numbers -> percents summing to 100; "
                    "{} ends the split",
                    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
                }
            },
        }
    ),
)
async def set_traffic(name: str, request: Request) -> Response:
    actor = await require_admin(request)
    document = await json_object(request, '{"traffic": {"production": 90, "candidate": 10}}')
    _only(document, {"traffic"}, required={"traffic"})
    rollouts = manager_of(request).rollouts
    return OrjsonResponse(await rollouts.set_traffic(name, document["traffic"], actor))


@router.put(
    "/models/{name}/shadow",
    summary='Copy requests to a shadow version: {"version": "candidate", "sample_rate": 1}',
    responses={200: {"model": ModelRollout}, **ADMIN_ERRORS},
    openapi_extra=_body(
        {
            "type": "object",
            "required": ["version"],
            "properties": {
                "version": {
                    "type": ["string", "integer", "null"],
                    "description": "An alias or version number; null ends the shadow",
                },
                "sample_rate": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 1,
                    "description": "The share of requests copied (default 1)",
                },
            },
        }
    ),
)
async def set_shadow(name: str, request: Request) -> Response:
    actor = await require_admin(request)
    document = await json_object(request, '{"version": "candidate", "sample_rate": 1}')
    _only(document, {"version", "sample_rate"}, required={"version"})
    target = document["version"]
    if isinstance(target, int) and not isinstance(target, bool):
        target = str(target)
    if target is not None and not isinstance(target, str):
        raise InvalidRequestError('"version" must be an alias, a version number or null')
    rate = document.get("sample_rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise InvalidRequestError('"sample_rate" must be a number above 0 and at most 1')
    rollouts = manager_of(request).rollouts
    return OrjsonResponse(await rollouts.set_shadow(name, target, float(rate), actor))


@router.get(
    "/models/{name}/compare",
    summary="The shadow's answers beside the served ones: agreement, confusion, mean "
    "absolute difference",
    responses={200: {"model": CompareReport}, **ADMIN_ERRORS},
)
async def compare(
    name: str,
    request: Request,
    since: float = Query(3600, gt=0, le=366 * 86400, description="Seconds of log to read"),
) -> Response:
    await require_admin(request)
    model = registry_of(request).get(name)
    inference = inference_of(request)
    if inference.log is not None:
        await inference.log.flush()  # this worker's newest rows count too
    return OrjsonResponse(await compare_shadow(database_of(request), model.name, since))


def _only(document: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    missing = sorted(required - set(document))
    unknown = sorted(set(document) - allowed)
    if missing or unknown:
        raise InvalidRequestError(
            ("missing " + ", ".join(missing) if missing else "unknown keys: " + ", ".join(unknown))
            + f"; the body takes {', '.join(sorted(allowed))}"
        )
