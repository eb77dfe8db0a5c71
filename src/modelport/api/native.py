"""The native API (KServe V1 compatible): list models, metadata, predict."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from modelport.api.responses import OrjsonResponse
from modelport.api.schemas import PREDICT_REQUEST_BODY, ErrorBody, ModelList, PredictResponse
from modelport.api.state import inference_of, registry_of
from modelport.errors import InvalidRequestError
from modelport.inference import PredictRequest
from modelport.inputs import Columns, Payload, Records, Rows, Split
from modelport.registry import ServedModel

__all__ = ["decode_predict_body", "router"]

router = APIRouter(prefix="/v1", tags=["models"])

_ENVELOPES = ("instances", "inputs", "dataframe_split", "dataframe_records")
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 404, 413, 422, 503, 504)
}


def _model_info(model: ServedModel) -> dict[str, Any]:
    newest = model.newest_ready()
    return {
        "name": model.name,
        "state": model.state,
        "ready": newest is not None,
        "description": model.description,
        "latest_version": newest.version if newest else None,
        "error": None if newest else model.failure_reason(),
        "versions": [model.versions[v].summary() for v in sorted(model.versions)],
    }


@router.get("/models", summary="List every model", responses={200: {"model": ModelList}})
async def list_models(request: Request) -> Response:
    models = registry_of(request).models()
    return OrjsonResponse({"models": [_model_info(m) for m in models]})


@router.get("/models/{name}", summary="A model: versions, state and signature", responses=_ERRORS)
async def model_metadata(name: str, request: Request) -> Response:
    model = registry_of(request).get(name)
    info = _model_info(model)
    newest = model.newest_ready()
    info["signature"] = newest.signature.to_dict() if newest and newest.signature else None
    return OrjsonResponse(info)


@router.get(
    "/models/{name}/versions/{version}",
    summary="One version: state, runtime and signature",
    responses=_ERRORS,
)
async def version_metadata(name: str, version: str, request: Request) -> Response:
    registry = registry_of(request)
    model = registry.get(name)
    number = int(version) if version.isdecimal() else None
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
    payload, parameters = decode_predict_body(await request.body())
    probabilities = _flag(parameters.get("probabilities"), "parameters.probabilities")
    query_flag = request.query_params.get("probabilities")
    if query_flag is not None:
        probabilities = _flag(query_flag, "query parameter probabilities")
    result = await inference_of(request).predict(
        PredictRequest(name, payload, version, probabilities)
    )
    body: dict[str, Any] = {
        "model_name": result.model_name,
        "model_version": result.model_version,
        "predictions": result.outputs.predictions,
    }
    if result.outputs.probabilities is not None:
        body["probabilities"] = result.outputs.probabilities
    return OrjsonResponse(body)


def decode_predict_body(body: bytes) -> tuple[Payload, dict[str, Any]]:
    """Parse a native/V1/MLflow-style JSON body into a payload and its parameters."""
    if not body.strip():
        raise InvalidRequestError(
            'empty body: send JSON such as {"instances": [[5.1, 3.5, 1.4, 0.2]]}'
        )
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidRequestError(f"body must be a JSON object with one of {list(_ENVELOPES)}")
    present = [key for key in _ENVELOPES if key in document]
    if len(present) != 1:
        found = f"found {present}" if present else "found none"
        raise InvalidRequestError(f"body must hold exactly one of {list(_ENVELOPES)}; {found}")
    unknown = sorted(set(document) - {*_ENVELOPES, "parameters"})
    if unknown:
        raise InvalidRequestError(f"unknown key(s) in body: {unknown}")
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidRequestError("parameters must be an object")
    key = present[0]
    return _payload(key, document[key]), parameters


def _payload(key: str, value: Any) -> Payload:
    if key == "dataframe_split":
        if not isinstance(value, dict) or "columns" not in value or "data" not in value:
            raise InvalidRequestError("dataframe_split must be an object with 'columns' and 'data'")
        return Split(value["columns"], value["data"])
    if key == "dataframe_records":
        return Records(value)
    if key == "inputs" and isinstance(value, dict):
        return Columns(value)
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        return Records(value)
    return Rows(value)


def _flag(value: Any, where: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "yes", "false", "0", "no"}:
        return value.lower() in {"true", "1", "yes"}
    raise InvalidRequestError(f"{where} must be true or false, got {value!r}")
