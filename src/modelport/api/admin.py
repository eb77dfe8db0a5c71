"""The management API under /v1/admin: upload, versions, aliases, reload, load, unload.

Every endpoint first authorizes (``require_admin``: the admin or a database token; no
address is trusted), then calls one ModelManager method. Uploads stream to a hidden file under
MODEL_DIR while the body arrives (the body limit is ``max_upload_size``, enforced by
the middleware as bytes come in), and only then become a version.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Query
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from modelport.api.auth import require_admin
from modelport.api.responses import OrjsonResponse
from modelport.api.schemas import ErrorBody
from modelport.api.state import manager_of, settings_of
from modelport.contracts import (
    AliasDeleted,
    AliasSet,
    AuditLog,
    ModelHistory,
    ModelStateChange,
    ReloadAnswer,
    UploadedVersion,
    VersionDeleted,
)
from modelport.errors import InvalidRequestError
from modelport.management.files import UPLOADS_DIR
from modelport.management.uploads import Upload
from modelport.repository.scan import validate_file_name, validate_model_name
from modelport.repository.writer import disk_full_is_an_error

__all__ = ["ADMIN_ERRORS", "json_object", "router"]

router = APIRouter(prefix="/v1/admin", tags=["management"])

ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad name, file name or body"},
    401: {"model": ErrorBody, "description": "No token sent (a token is configured)"},
    403: {
        "model": ErrorBody,
        "description": "Wrong token, or a request from another web site",
    },
    404: {"model": ErrorBody, "description": "No such model, version or alias"},
    409: {"model": ErrorBody, "description": "Conflict, e.g. deleting an aliased version"},
    413: {"model": ErrorBody, "description": "Upload larger than max_upload_size"},
    503: {"model": ErrorBody, "description": "The database is unavailable"},
}
#: Largest model.yaml or extra code file accepted in a multipart upload.
_SMALL_PART = 1024 * 1024
#: Largest reference sample (a 'reference' part): drift monitoring's baseline.
_REFERENCE_PART = 32 * 1024 * 1024
_REFERENCE_SUFFIXES = (".csv", ".parquet")
_MAX_EXTRA_FILES = 16


@router.post(
    # ":path" so that a name holding '/' (e.g. ../evil) reaches validation and gets 400.
    "/models/{name:path}/versions",
    status_code=201,
    summary="Upload a new version (multipart 'file', or the raw body with ?filename=)",
    responses={
        201: {"model": UploadedVersion},
        **ADMIN_ERRORS,
        422: {"description": "The file did not load or warm up"},
        507: {"model": ErrorBody, "description": "No space left to store it; nothing kept"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "model_yaml": {"type": "string", "format": "binary"},
                            "reference": {
                                "type": "string",
                                "format": "binary",
                                "description": "A reference sample (.csv or .parquet) for "
                                "drift monitoring, stored as reference.csv/.parquet",
                            },
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    }
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def upload_version(
    name: str,
    request: Request,
    filename: str | None = Query(None, description="File name, for a raw-body upload"),
    alias: str | None = Query(None, description="Point this alias at the new version"),
) -> Response:
    actor = await require_admin(request)
    validate_model_name(name)  # before a byte is stored
    manager_of(request).refuse_single_file("upload")
    uploads = settings_of(request).model_dir / UPLOADS_DIR
    with disk_full_is_an_error("the upload", uploads):
        uploads.mkdir(parents=True, exist_ok=True)
    staged = uploads / f"{name}-{secrets.token_hex(8)}.part"
    try:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            upload = await _from_multipart(request, name, staged, alias)
        else:
            if filename is None:
                raise InvalidRequestError(
                    "a raw-body upload needs ?filename=NAME (e.g. model.joblib); or send "
                    "multipart/form-data with a 'file' part"
                )
            validate_file_name(filename)
            await _stream_to(request, staged)
            upload = Upload(name, filename, staged, alias=alias)
        result = await manager_of(request).upload(upload, actor)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
    return OrjsonResponse(result, status_code=201)


async def _stream_to(request: Request, path: Path) -> None:
    failed: OSError | None = None
    with disk_full_is_an_error("the upload", path.parent):
        with path.open("wb") as handle:
            async for chunk in request.stream():
                if failed is not None:
                    # The rest of the body (bounded by the upload limit) is read and let go,
                    # so the client, still sending, gets the answer, not a broken pipe.
                    continue
                try:
                    handle.write(chunk)
                except OSError as exc:  # a full disk, above all
                    failed = exc
        if failed is not None:
            raise failed


async def _from_multipart(request: Request, name: str, staged: Path, alias: str | None) -> Upload:
    form = await request.form(max_files=_MAX_EXTRA_FILES + 3, max_fields=8)
    try:
        artifact = form.get("file")
        if not isinstance(artifact, UploadFile) or not artifact.filename:
            raise InvalidRequestError("a multipart upload needs a 'file' part holding the model")
        filename = validate_file_name(artifact.filename)
        await asyncio.to_thread(_copy_to, artifact.file, staged)
        model_yaml = await _small_part(form.get("model_yaml"), "model_yaml")
        extra: dict[str, bytes] = {}
        for part in form.getlist("files"):
            if not isinstance(part, UploadFile) or not part.filename:
                raise InvalidRequestError("each 'files' part must be a file with a name")
            data = await _small_part(part, "files")
            if data is None:  # not for a file part; said for the type checker's sake
                raise InvalidRequestError("each 'files' part must be a file with a name")
            extra[validate_file_name(part.filename)] = data
        reference = form.get("reference")
        if reference is not None:
            stored, data = await _reference_part(reference)
            if stored in extra:
                raise InvalidRequestError(f"file '{stored}' is given twice")
            extra[stored] = data
        unknown = sorted(set(form.keys()) - {"file", "model_yaml", "files", "reference"})
        if unknown:
            raise InvalidRequestError(
                f"unknown parts {unknown}; an upload has 'file', 'model_yaml', 'files' and "
                "'reference'"
            )
        return Upload(name, filename, staged, model_yaml, extra, alias)
    finally:
        await form.close()


def _copy_to(source: Any, path: Path) -> None:
    with disk_full_is_an_error("the upload", path.parent), path.open("wb") as handle:
        shutil.copyfileobj(source, handle, 1 << 20)


async def _small_part(part: Any, what: str) -> bytes | None:
    if part is None:
        return None
    data = await part.read(_SMALL_PART + 1) if isinstance(part, UploadFile) else part.encode()
    if len(data) > _SMALL_PART:
        raise InvalidRequestError(f"'{what}' is larger than {_SMALL_PART} bytes")
    return bytes(data)


async def _reference_part(part: Any) -> tuple[str, bytes]:
    """(file name in the version folder, bytes) of a 'reference' part."""
    suffix = Path(part.filename or "").suffix.lower() if isinstance(part, UploadFile) else ""
    if suffix not in _REFERENCE_SUFFIXES:
        raise InvalidRequestError(
            "'reference' must be a .csv or .parquet file of sample rows (columns named "
            "after the model's features)"
        )
    data = await part.read(_REFERENCE_PART + 1)
    if len(data) > _REFERENCE_PART:
        raise InvalidRequestError(f"'reference' is larger than {_REFERENCE_PART} bytes")
    return f"reference{suffix}", bytes(data)


@router.get(
    "/models/{name}/versions",
    summary="Version history: number, sha256, size, state, source, who; and aliases",
    responses={200: {"model": ModelHistory}, **ADMIN_ERRORS},
)
async def list_versions(
    name: str, request: Request, include_deleted: bool = Query(False)
) -> Response:
    await require_admin(request)
    return OrjsonResponse(await manager_of(request).versions(name, include_deleted))


@router.get(
    "/audit",
    summary="The audit log, newest first: who did what, when, from where, and how it went",
    responses={200: {"model": AuditLog}, **ADMIN_ERRORS},
)
async def audit_log(
    request: Request,
    model: str | None = Query(None, description="Only the actions on this model"),
    limit: int = Query(50, ge=1, le=1000, description="At most this many entries"),
) -> Response:
    await require_admin(request)
    return OrjsonResponse(await manager_of(request).audit_entries(model, limit))


@router.delete(
    "/models/{name}/versions/{version}",
    summary="Delete a version (409 while an alias points at it)",
    responses={200: {"model": VersionDeleted}, **ADMIN_ERRORS},
)
async def delete_version(name: str, version: int, request: Request) -> Response:
    actor = await require_admin(request)
    return OrjsonResponse(await manager_of(request).delete_version(name, version, actor))


@router.put(
    "/models/{name}/aliases/{alias}",
    summary='Point an alias at a ready version: {"version": N} (rollback = move it back)',
    responses={200: {"model": AliasSet}, **ADMIN_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["version"],
                        "properties": {"version": {"type": "integer", "minimum": 1}},
                    }
                }
            },
        }
    },
)
async def set_alias(name: str, alias: str, request: Request) -> Response:
    actor = await require_admin(request)
    version = _version_of(await json_object(request))
    return OrjsonResponse(await manager_of(request).set_alias(name, alias, version, actor))


@router.delete(
    "/models/{name}/aliases/{alias}",
    summary="Remove an alias",
    responses={200: {"model": AliasDeleted}, **ADMIN_ERRORS},
)
async def delete_alias(name: str, alias: str, request: Request) -> Response:
    actor = await require_admin(request)
    return OrjsonResponse(await manager_of(request).delete_alias(name, alias, actor))


@router.post(
    "/reload",
    summary="Re-scan the model folder: load what changed, drop what is gone",
    responses={200: {"model": ReloadAnswer}, **ADMIN_ERRORS},
)
async def reload_all(request: Request) -> Response:
    actor = await require_admin(request)
    return OrjsonResponse({"models": await manager_of(request).reload(None, actor)})


@router.post(
    "/models/{name}/reload",
    summary="Re-scan one model from the folder",
    responses={200: {"model": ReloadAnswer}, **ADMIN_ERRORS},
)
async def reload_model(name: str, request: Request) -> Response:
    actor = await require_admin(request)
    return OrjsonResponse({"models": await manager_of(request).reload(name, actor)})


@router.post(
    "/models/{name}/load",
    summary="Load (or reload) a model from the folder",
    responses={200: {"model": ModelStateChange}, **ADMIN_ERRORS},
)
async def load_model(name: str, request: Request) -> Response:
    actor = await require_admin(request)
    await manager_of(request).load(name, actor)
    return OrjsonResponse({"name": name, "state": "loaded"})


@router.post(
    "/models/{name}/unload",
    summary="Stop serving a model in every worker (files stay)",
    responses={200: {"model": ModelStateChange}, **ADMIN_ERRORS},
)
async def unload_model(name: str, request: Request) -> Response:
    actor = await require_admin(request)
    await manager_of(request).unload(name, actor)
    return OrjsonResponse({"name": name, "state": "unloaded"})


async def json_object(request: Request, example: str = '{"version": 2}') -> dict[str, Any]:
    """The request's body, which must be a JSON object like ``example``."""
    try:
        document = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidRequestError(f"the body must be a JSON object like {example}")
    return document


def _version_of(document: dict[str, Any]) -> int:
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidRequestError('"version" must be a positive integer, e.g. {"version": 2}')
    unknown = sorted(set(document) - {"version"})
    if unknown:
        raise InvalidRequestError(f'unknown keys {unknown}; the body is {{"version": N}}')
    return version
