"""Open Inference Protocol (KServe V2) over REST, with the binary tensor data and model
repository extensions.

An infer body is JSON, optionally followed by raw tensor bytes: then the header
``Inference-Header-Content-Length`` gives the size of the JSON part, and each binary input
says its size in ``parameters.binary_data_size``. Outputs asked for with
``parameters.binary_data`` (or every output, with the request parameter
``binary_data_output``) come back the same way. Request bodies may be compressed
(``Content-Encoding: gzip`` or ``deflate``). The infer itself is
``protocols.v2_rest.infer_answer``, shared with the fast lane. Errors are ``{"error": "..."}``
(api/errors.py): 400 for a bad request, 404 for an unknown model or version.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelport.api.auth import require_admin
from modelport.api.middleware import (
    CACHE_HEADER,
    ROUTE_KEY_HEADER,
    client_address,
    request_id_of,
)
from modelport.api.responses import OrjsonResponse
from modelport.api.schemas import V2_ERRORS, V2_INFER_REQUEST_BODY, V2InferResponse
from modelport.api.state import inference_of, manager_of, registry_of, settings_of
from modelport.contracts import (
    V2Live,
    V2ModelMetadata,
    V2ModelReady,
    V2Ready,
    V2RepositoryEntry,
    V2ServerMetadata,
)
from modelport.errors import InvalidRequestError
from modelport.protocols import v2_dataplane as dataplane
from modelport.protocols import v2_rest
from modelport.protocols.v2_rest import HEADER_LENGTH

__all__ = ["router"]

router = APIRouter(prefix="/v2", tags=["Open Inference Protocol (V2)"])


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


async def _infer(request: Request, name: str, version: str | None) -> Response:
    headers = request.headers
    answer = await v2_rest.infer_answer(
        inference_of(request),
        name,
        version,
        await request.body(),
        headers.get(HEADER_LENGTH),
        headers.get("content-encoding"),
        settings_of(request).max_body_size,
        dataplane.Caller(
            "v2-rest",
            request_id_of(request.scope),
            client_address(request.scope),
            headers.get(ROUTE_KEY_HEADER),
        ),
    )
    cached = {CACHE_HEADER: answer.cache} if answer.cache is not None else {}
    if answer.json_size is None:
        return Response(answer.content, media_type="application/json", headers=cached)
    return Response(
        answer.content,
        media_type="application/octet-stream",
        headers={HEADER_LENGTH: str(answer.json_size), **cached},
    )


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
    dataplane.check_load_parameters(v2_rest.parameters_of(await _optional_json(request), "load"))
    await manager_of(request).load(name, actor)
    return OrjsonResponse({})


@router.post(
    "/repository/models/{name}/unload", summary="Stop serving a model", responses=V2_ERRORS
)
async def unload(name: str, request: Request) -> Response:
    actor = await require_admin(request)
    v2_rest.parameters_of(await _optional_json(request), "unload")
    await manager_of(request).unload(name, actor)
    return OrjsonResponse({})


async def _optional_json(request: Request) -> dict[str, Any]:
    body = await request.body()
    return v2_rest.json_object(body, False) if body.strip() else {}
