"""MLflow's scoring protocol, as ``mlflow models serve`` speaks it.

``POST /invocations`` serves the model named by the setting ``default_model`` (or the only
model); ``POST /v1/models/{name}/invocations`` serves any model. Bodies are JSON with one
of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (MLflow's
``params`` are accepted and ignored, as MLflow does for models without params), or CSV
with a header row (``Content-Type: text/csv``). Answers ``{"predictions": [...]}``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from modelport import __version__
from modelport.api.middleware import CACHE_HEADER, client_address, request_id_of
from modelport.api.responses import OrjsonResponse
from modelport.api.schemas import MLFLOW_REQUEST_BODY, ErrorBody, MlflowResponse
from modelport.api.state import inference_of, registry_of, settings_of
from modelport.clienttext import decimal
from modelport.errors import InvalidRequestError, ModelNotReadyError
from modelport.inference import PredictRequest
from modelport.payloads import Payload, Split
from modelport.protocols.envelopes import decode_predict_body

__all__ = ["router"]

router = APIRouter(tags=["MLflow scoring protocol"])

_DOC: dict[str, Any] = {
    "openapi_extra": {"requestBody": MLFLOW_REQUEST_BODY},
    "responses": {
        200: {"model": MlflowResponse},
        **{code: {"model": ErrorBody} for code in (400, 404, 413, 503, 504)},
    },
}


@router.get("/ping", summary="200 once every model has been tried, else 503")
async def ping(request: Request) -> Response:
    if not registry_of(request).startup_complete:
        raise ModelNotReadyError("models are still loading")
    return Response(b"\n", media_type="application/json")


@router.get(
    "/version",
    summary="The server's version, as plain text",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def version() -> Response:
    return PlainTextResponse(__version__)


@router.post("/invocations", summary="Predict with the default model", **_DOC)
async def invocations(request: Request) -> Response:
    """Predict with the model named by the setting ``default_model``, or the only one."""
    return await _invoke(request, _default_model(request))


@router.post("/v1/models/{name}/invocations", summary="Predict (MLflow format)", **_DOC)
async def model_invocations(name: str, request: Request) -> Response:
    return await _invoke(request, name)


def _default_model(request: Request) -> str:
    chosen = settings_of(request).default_model
    if chosen is not None:
        return chosen
    registry = registry_of(request)
    names = [model.name for model in registry.models()]
    if len(names) == 1:
        return names[0]
    if not names and not registry.startup_complete:
        raise ModelNotReadyError("models are still loading")
    raise InvalidRequestError(
        f"POST /invocations serves one model, and this server has {len(names)} "
        f"({', '.join(names) or 'none'}): set the setting default_model (--default-model, "
        "env MODELPORT_DEFAULT_MODEL) or post to /v1/models/{name}/invocations"
    )


async def _invoke(request: Request, name: str) -> Response:
    body = await request.body()
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "text/csv":
        payload = _csv_payload(body)
    else:
        payload, _params = decode_predict_body(body, parameters_key="params")
    result = await inference_of(request).predict(
        PredictRequest(
            name,
            payload,
            protocol="mlflow",
            request_id=request_id_of(request.scope),
            client=client_address(request.scope),
        )
    )
    headers = {CACHE_HEADER: result.cache} if result.cache is not None else None
    return OrjsonResponse({"predictions": result.outputs.predictions}, headers=headers)


def _csv_payload(body: bytes) -> Payload:
    """A CSV table with a header row; cells become numbers when they read as one."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequestError("the CSV body is not UTF-8 text") from None
    try:
        table = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:  # a bare carriage return in a cell, a cell past the csv limit
        raise InvalidRequestError(f"the CSV body is not valid CSV: {exc}") from None
    if len(table) < 2:
        raise InvalidRequestError("the CSV body needs a header row and at least one data row")
    header, *rows = table
    return Split(header, [[_cell(cell) for cell in row] for row in rows])


def _cell(cell: str) -> Any:
    text = cell.strip()
    if not text:
        return None
    number = decimal(text, signed=True)  # longer integers are read as floats below
    if number is not None:
        return number
    try:
        return float(text)
    except ValueError:
        return cell
