"""The native API (KServe V1 compatible): list models, metadata, predict."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from modelport.api.middleware import (
    CACHE_HEADER,
    ROUTE_KEY_HEADER,
    client_address,
    request_id_of,
)
from modelport.api.responses import OrjsonResponse
from modelport.api.schemas import PREDICT_REQUEST_BODY, ErrorBody, PredictResponse
from modelport.api.state import inference_of, registry_of
from modelport.clienttext import decimal
from modelport.contracts import ModelList, ModelMetadata, ModelSummary, VersionMetadata
from modelport.protocols.native import predict_answer
from modelport.registry import ServedModel

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["models"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 404, 413, 422, 503, 504)
}


def _model_info(model: ServedModel) -> ModelSummary:
    newest = model.newest_ready()
    return {
        "name": model.name,
        "state": model.state,
        "ready": newest is not None,
        "description": model.description,
        "latest_version": newest.version if newest else None,
        # A served model has an error too when its files changed and failed to load:
        # what was loaded before keeps serving, and this says why nothing new is.
        "error": model.public_error if newest else model.failure_reason(public=True),
        "versions": [model.versions[v].summary() for v in sorted(model.versions)],
    }


@router.get("/models", summary="List every model", responses={200: {"model": ModelList}})
async def list_models(request: Request) -> Response:
    models = registry_of(request).models()
    return OrjsonResponse({"models": [_model_info(m) for m in models]})


def _refuse_predict_url(last: str) -> None:
    """``GET /v1/models/NAME:predict`` matches the metadata routes: 405, as promised."""
    if last.endswith(":predict"):
        raise StarletteHTTPException(
            405,
            "GET is not allowed on a predict URL: send POST with a JSON body such as "
            '{"instances": [[5.1, 3.5, 1.4, 0.2]]}',
            headers={"Allow": "POST"},
        )


@router.get(
    "/models/{name}",
    summary="A model: versions, state and signature",
    responses={200: {"model": ModelMetadata}, **_ERRORS},
)
async def model_metadata(name: str, request: Request) -> Response:
    _refuse_predict_url(name)
    registry = registry_of(request)
    model = registry.get(name)
    newest = model.newest_ready()
    signature = newest.signature.to_dict() if newest and newest.signature else None
    info: ModelMetadata = {
        **_model_info(model),
        "signature": signature,
        "default": registry.default_of(model.name),
    }
    return OrjsonResponse(info)


@router.get(
    "/models/{name}/versions/{version}",
    summary="One version: state, runtime and signature",
    responses={200: {"model": VersionMetadata}, **_ERRORS},
)
async def version_metadata(name: str, version: str, request: Request) -> Response:
    _refuse_predict_url(version)
    registry = registry_of(request)
    model = registry.get(name)
    # A failed version is described too (resolve would refuse it); anything else, an
    # alias, 'latest' or a bad number, is resolve's to answer.
    number = decimal(version)
    found = model.versions.get(number) if number is not None else None
    if found is None:
        found = registry.resolve(name, version)
    return OrjsonResponse(found.describe())


_PREDICT_DOC = {
    "summary": "Predict",
    "openapi_extra": {"requestBody": PREDICT_REQUEST_BODY},
    "responses": {200: {"model": PredictResponse}, **_ERRORS},
}


@router.post("/models/{name}:predict", **_PREDICT_DOC)  # type: ignore[arg-type]
async def predict(name: str, request: Request) -> Response:
    """Predict with the newest ready version of the model."""
    return await _predict(request, name, None)


@router.post("/models/{name}/versions/{version}:predict", **_PREDICT_DOC)  # type: ignore[arg-type]
async def predict_version(name: str, version: str, request: Request) -> Response:
    """Predict with one version (a number, or 'latest')."""
    return await _predict(request, name, version)


async def _predict(request: Request, name: str, version: str | None) -> Response:
    answer, cache = await predict_answer(
        inference_of(request),
        name,
        version,
        await request.body(),
        request.query_params.get("probabilities"),
        request_id_of(request.scope),
        client_address(request.scope),
        request.headers.get(ROUTE_KEY_HEADER),
    )
    if cache is None:
        return OrjsonResponse(answer)
    return OrjsonResponse(answer, headers={CACHE_HEADER: cache})
