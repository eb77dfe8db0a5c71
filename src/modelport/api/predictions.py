"""The prediction log over HTTP (admin): page through a model's logged predictions, and
the log's and the response cache's counters.

``GET /v1/models/{name}/predictions?since=&after_id=&limit=&version=`` answers the rows
oldest first, and ``next``: the path of the following page, or null on the last one.
Both endpoints follow the management API's rule (api/auth.py ``require_admin``).
"""

from __future__ import annotations

import os
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from modelport.api.auth import require_admin
from modelport.api.responses import OrjsonResponse
from modelport.api.schemas import ErrorBody
from modelport.api.state import database_of, inference_of, registry_of
from modelport.clienttext import INT64_MAX, bounded_int
from modelport.db.predictions import MAX_LIMIT
from modelport.db.records import PredictionRecord
from modelport.errors import InvalidRequestError, shown
from modelport.predlog_reader import read_page, truncation_fields
from modelport.repository.scan import validate_model_name

__all__ = ["router"]

router = APIRouter(tags=["management"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad model name, since, after_id, limit or version"},
    401: {"model": ErrorBody, "description": "No token sent (a token is configured)"},
    403: {
        "model": ErrorBody,
        "description": "Wrong token, or a request from another web site",
    },
    404: {"model": ErrorBody, "description": "No such model"},
    503: {"model": ErrorBody, "description": "The database is unavailable"},
}
DEFAULT_LIMIT = 100


@router.get(
    "/v1/models/{name}/predictions",
    summary="Page through a model's logged predictions (admin), oldest first",
    responses=_ERRORS,
)
async def list_predictions(
    name: str,
    request: Request,
    since: str | None = Query(
        None,
        description="ISO 8601 time, e.g. 2026-11-22T10:00:00Z (no offset means UTC): rows "
        "logged at or after it",
    ),
    after_id: str | None = Query(
        None, description="With since: rows at exactly `since` only after this id (paging)"
    ),
    limit: str | None = Query(None, description=f"Rows per page, 1 to {MAX_LIMIT} (100)"),
    version: str | None = Query(None, description="Only this version number"),
) -> Response:
    await require_admin(request)
    validate_model_name(name)
    start = _parse_time(since)
    count = _parse_int(limit, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    after = _parse_int(after_id, "after_id", 0)
    number = _parse_int(version, "version", 1)
    if after is not None and start is None:
        raise InvalidRequestError("after_id pages within `since`: give since too")
    rows = await read_page(
        database_of(request),
        name,
        served=registry_of(request).find(name) is not None,
        since=start,
        after_id=after,
        limit=count,
        version=number,
    )
    following = None
    if len(rows) == count:
        last = rows[-1]
        query: dict[str, Any] = {"since": last.at.isoformat(), "after_id": last.id, "limit": count}
        if number is not None:
            query["version"] = number
        following = f"{request.url.path}?{urllib.parse.urlencode(query)}"
    return OrjsonResponse(
        {"model": name, "predictions": [_row_json(row) for row in rows], "next": following}
    )


@router.get(
    "/v1/admin/stats",
    summary="This worker's prediction log and response cache counters (admin)",
    responses={k: v for k, v in _ERRORS.items() if k in (401, 403)},
)
async def stats(request: Request) -> Response:
    await require_admin(request)
    inference = inference_of(request)
    return OrjsonResponse(
        {
            "pid": os.getpid(),
            "prediction_log": inference.log.describe() if inference.log else None,
            "response_cache": inference.cache.describe() if inference.cache else None,
        }
    )


def _parse_time(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequestError(
            f"since must be an ISO 8601 time such as 2026-11-22T10:00:00Z, got {shown(value)}"
            " (a '+' in a query string must be sent as %2B)"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_int(value: str | None, what: str, low: int, high: int = INT64_MAX) -> int | None:
    """An optional query parameter's number (None when absent or empty)."""
    return None if value is None or value == "" else bounded_int(value, what, low, high)


def _row_json(row: PredictionRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "request_id": row.request_id,
        "at": row.at.isoformat(),
        "model": row.model,
        "version": row.version,
        "protocol": row.protocol,
        "input": row.input,
        "input_hash": row.input_hash,
        "output": row.output,
        "latency_ms": row.latency_ms,
        "status": row.status,
        # The message the client got, for a failed prediction (else null).
        "error": row.error,
        "client_address": row.client_address,
        # truncated, input_bytes/_sha256, output_bytes/_sha256: parts too big to log whole
        **truncation_fields(row.truncation),
    }
