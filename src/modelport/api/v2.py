"""Open Inference Protocol (KServe V2) over REST, with the binary tensor data and model
repository extensions.

An infer body is JSON, optionally followed by raw tensor bytes: then the header
``Inference-Header-Content-Length`` gives the size of the JSON part, and each binary input
says its size in ``parameters.binary_data_size``. Outputs asked for with
``parameters.binary_data`` (or every output, with the request parameter
``binary_data_output``) come back the same way. Request bodies may be compressed
(``Content-Encoding: gzip`` or ``deflate``). Errors are ``{"error": "..."}``
(api/errors.py): 400 for a bad request, 404 for an unknown model or version.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from modelport.api.auth import require_admin
from modelport.api.middleware import CACHE_HEADER, client_address, request_id_of
from modelport.api.responses import OrjsonResponse, dumps
from modelport.api.schemas import V2_ERRORS, V2_INFER_REQUEST_BODY, V2InferResponse
from modelport.api.state import inference_of, manager_of, registry_of, settings_of
from modelport.clienttext import bounded_int
from modelport.contracts import (
    V2Live,
    V2ModelMetadata,
    V2ModelReady,
    V2Ready,
    V2RepositoryEntry,
    V2ServerMetadata,
)
from modelport.errors import InvalidRequestError, PayloadTooLargeError, shown
from modelport.protocols import v2_dataplane as dataplane
from modelport.protocols.v2_codec import (
    tensor_from_json,
    tensor_from_raw,
    tensor_to_json,
    tensor_to_raw,
)
from modelport.types import NDArray

__all__ = ["router"]

router = APIRouter(prefix="/v2", tags=["Open Inference Protocol (V2)"])

HEADER_LENGTH = "Inference-Header-Content-Length"


def _ok(model: Any) -> dict[int | str, dict[str, Any]]:
    """The documented 200 answer; the body is still encoded by orjson, never validated."""
    return {200: {"model": model}}


#: A model that is not ready answers 400 with the ready shape and its reason.
_READY_DOC: dict[int | str, dict[str, Any]] = {
    **V2_ERRORS,
    **_ok(V2ModelReady),
    400: {"model": V2ModelReady},
}


@router.get("/health/live", summary="200 while the process runs", responses=_ok(V2Live))
async def live() -> Response:
    return OrjsonResponse({"live": True})


@router.get(
    "/health/ready",
    summary="200 once every model has been tried, else 400",
    responses={**_ok(V2Ready), 400: {"model": V2Ready}},
)
async def ready(request: Request) -> Response:
    if not registry_of(request).startup_complete:
        return OrjsonResponse({"ready": False, "error": "models are still loading"}, 400)
    return OrjsonResponse({"ready": True})


@router.get(
    "", summary="Server metadata: name, version, extensions", responses=_ok(V2ServerMetadata)
)
async def server_metadata() -> Response:
    return OrjsonResponse(dataplane.server_metadata())


@router.get(
    "/models/{name}", summary="Model metadata", responses={**_ok(V2ModelMetadata), **V2_ERRORS}
)
async def model_metadata(name: str, request: Request) -> Response:
    return OrjsonResponse(dataplane.model_metadata(registry_of(request), name, None))


@router.get(
    "/models/{name}/versions/{version}",
    summary="Version metadata",
    responses={**_ok(V2ModelMetadata), **V2_ERRORS},
)
async def version_metadata(name: str, version: str, request: Request) -> Response:
    return OrjsonResponse(dataplane.model_metadata(registry_of(request), name, version))


@router.get("/models/{name}/ready", summary="200 when the model is ready", responses=_READY_DOC)
async def model_ready(name: str, request: Request) -> Response:
    return _ready(request, name, None)


@router.get(
    "/models/{name}/versions/{version}/ready",
    summary="200 when the version is ready",
    responses=_READY_DOC,
)
async def version_ready(name: str, version: str, request: Request) -> Response:
    return _ready(request, name, version)


def _ready(request: Request, name: str, version: str | None) -> Response:
    if dataplane.model_ready(registry_of(request), name, version):
        return OrjsonResponse({"name": name, "ready": True})
    return OrjsonResponse(
        {"name": name, "ready": False, "error": f"model '{name}' is not ready"}, 400
    )


_INFER_DOC: dict[str, Any] = {
    "summary": "Infer",
    "openapi_extra": {"requestBody": V2_INFER_REQUEST_BODY},
    "responses": {200: {"model": V2InferResponse}, **V2_ERRORS},
}


@router.post("/models/{name}/infer", **_INFER_DOC)
async def infer(name: str, request: Request) -> Response:
    """Infer with the newest ready version."""
    return await _infer(request, name, None)


@router.post("/models/{name}/versions/{version}/infer", **_INFER_DOC)
async def infer_version(name: str, version: str, request: Request) -> Response:
    """Infer with one version."""
    return await _infer(request, name, version)


@dataclass(frozen=True, slots=True)
class _InferRequest:
    id: str | None
    tensors: dict[str, NDArray]
    #: Requested output names and whether each comes back as binary data.
    outputs: dict[str, bool]
    binary_default: bool


async def _infer(request: Request, name: str, version: str | None) -> Response:
    received = _decompressed(request, await request.body())
    decoded = _decode(received, request.headers.get(HEADER_LENGTH))
    caller = dataplane.Caller(
        "v2-rest", request_id_of(request.scope), client_address(request.scope)
    )
    outcome = await dataplane.infer(
        inference_of(request),
        name,
        version,
        decoded.tensors,
        list(decoded.outputs) or None,
        caller,
    )
    body: dict[str, Any] = {
        "model_name": outcome.model_name,
        "model_version": outcome.model_version,
    }
    if decoded.id is not None:
        body["id"] = decoded.id
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for tensor in outcome.outputs:
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": tensor.shape,
        }
        if decoded.outputs.get(tensor.name, decoded.binary_default):
            raw = tensor_to_raw(tensor.array, tensor.datatype)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = tensor_to_json(tensor.array, tensor.datatype)
        outputs.append(entry)
    body["outputs"] = outputs
    header = dumps(body)
    cached = {CACHE_HEADER: outcome.cache} if outcome.cache is not None else {}
    if not chunks:
        return Response(header, media_type="application/json", headers=cached)
    return Response(
        b"".join([header, *chunks]),
        media_type="application/octet-stream",
        headers={HEADER_LENGTH: str(len(header)), **cached},
    )


def _decompressed(request: Request, body: bytes) -> bytes:
    """Undo ``Content-Encoding: gzip`` / ``deflate`` (tritonclient's request compression);
    the decompressed size is held to max_body_size too."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidRequestError(
            f"Content-Encoding {shown(encoding)} is not supported: use gzip or deflate"
        )
    limit = settings_of(request).max_body_size
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidRequestError(f"the body is not valid {encoding} data: {exc}") from None
    if len(data) > limit:
        raise PayloadTooLargeError(limit)
    return data


def _decode(body: bytes, header_length: str | None) -> _InferRequest:
    binary = b""
    if header_length is not None:
        json_size = bounded_int(
            header_length, HEADER_LENGTH, 0, len(body), "the size of the body's JSON part"
        )
        body, binary = body[:json_size], body[json_size:]
    document = _json_object(body, header_length is not None)
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidRequestError(
            "the request has no inputs: send "
            '{"inputs": [{"name": ..., "datatype": ..., "shape": [...], "data": [...]}]}'
        )
    tensors: dict[str, NDArray] = {}
    offset = 0
    for index, spec in enumerate(inputs):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise InvalidRequestError(f"inputs[{index}] must be an object with a string 'name'")
        name = spec["name"]
        if name in tensors:
            raise InvalidRequestError(f"input {shown(name)} appears twice")
        size: Any = _parameters(spec, f"input {shown(name)}").get("binary_data_size")
        if size is None:
            if "data" not in spec:
                raise InvalidRequestError(f"input {shown(name)} has no 'data' (nor binary data)")
            tensors[name] = tensor_from_json(
                name, spec.get("datatype"), spec.get("shape"), spec["data"]
            )
            continue
        if type(size) is not int or size < 0 or offset + size > len(binary):
            raise InvalidRequestError(
                f"input {shown(name)}: binary_data_size {shown(size)} runs past the "
                f"{len(binary)} bytes of binary data after the JSON (check {HEADER_LENGTH})"
            )
        raw = binary[offset : offset + size]
        offset += size
        tensors[name] = tensor_from_raw(name, spec.get("datatype"), spec.get("shape"), raw)
    if offset != len(binary):
        raise InvalidRequestError(
            f"{len(binary) - offset} bytes after the JSON belong to no input: the inputs' "
            f"binary_data_size add up to {offset} (check {HEADER_LENGTH})"
        )
    binary_default = _flag(_parameters(document, "the request").get("binary_data_output"))
    return _InferRequest(
        _request_id(document.get("id")),
        tensors,
        _requested_outputs(document.get("outputs"), binary_default),
        binary_default,
    )


def _json_object(body: bytes, has_header: bool) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        hint = f" (check {HEADER_LENGTH})" if has_header else ""
        raise InvalidRequestError(f"the inference request is not valid JSON{hint}: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidRequestError("the inference request must be a JSON object")
    return document


def _parameters(holder: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = holder.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidRequestError(f"{where}: parameters must be an object")
    return parameters


def _flag(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raise InvalidRequestError(f"binary data flags must be true or false, got {shown(value)}")


def _request_id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequestError(f"id must be a string, got {shown(value)}")


def _requested_outputs(outputs: Any, binary_default: bool) -> dict[str, bool]:
    if outputs is None:
        return {}
    if not isinstance(outputs, list):
        raise InvalidRequestError('outputs must be a list of {"name": ...} objects')
    wanted: dict[str, bool] = {}
    for index, spec in enumerate(outputs):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise InvalidRequestError(f"outputs[{index}] must be an object with a string 'name'")
        parameters = _parameters(spec, f"output {shown(spec['name'])}")
        if parameters.get("classification"):
            raise InvalidRequestError(
                "the classification extension is not supported: ask for 'predict_proba'"
            )
        binary = parameters.get("binary_data")
        wanted[spec["name"]] = binary_default if binary is None else _flag(binary)
    if len(wanted) != len(outputs):
        raise InvalidRequestError("an output is asked for twice")
    return wanted


# -- model repository extension -----------------------------------------------------------


@router.post(
    "/repository/index",
    summary="Every model and version, with its state",
    responses={200: {"model": list[V2RepositoryEntry]}},
)
async def repository_index(request: Request) -> Response:
    document = await _optional_json(request)
    ready_only = document.get("ready", False)
    if not isinstance(ready_only, bool):
        raise InvalidRequestError("ready must be true or false")
    return OrjsonResponse(await dataplane.repository_index(registry_of(request), ready_only))


@router.post(
    "/repository/models/{name}/load",
    summary="Load or reload a model from the model folder",
    responses=V2_ERRORS,
)
async def load(name: str, request: Request) -> Response:
    actor = await require_admin(request)
    dataplane.check_load_parameters(_parameters(await _optional_json(request), "load"))
    await manager_of(request).load(name, actor)
    return OrjsonResponse({})


@router.post(
    "/repository/models/{name}/unload", summary="Stop serving a model", responses=V2_ERRORS
)
async def unload(name: str, request: Request) -> Response:
    actor = await require_admin(request)
    _parameters(await _optional_json(request), "unload")
    await manager_of(request).unload(name, actor)
    return OrjsonResponse({})


async def _optional_json(request: Request) -> dict[str, Any]:
    body = await request.body()
    return _json_object(body, False) if body.strip() else {}
