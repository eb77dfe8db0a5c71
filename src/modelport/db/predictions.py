"""The prediction log: batched inserts, paging by time, and pruning old rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, and_, delete, or_, select

from modelport.db.models import prediction_log
from modelport.db.prediction_rows import insert_prepared, prepare_predictions
from modelport.db.records import NewPrediction, PredictionRecord
from modelport.db.tx import as_utc, guarded, reading, writing
from modelport.errors import InvalidRequestError

__all__ = ["insert_predictions", "list_predictions", "prune_predictions"]

_P = prediction_log.c
MAX_LIMIT = 10_000
# Rows removed per transaction when pruning, so that no lock is held for long.
PRUNE_BATCH = 5_000
_COLUMNS = (
    _P.id,
    _P.request_id,
    _P.at,
    _P.model,
    _P.version,
    _P.protocol,
    _P.input,
    _P.input_hash,
    _P.output,
    _P.latency_ms,
    _P.status,
    _P.client_address,
    _P.truncation,
    _P.error,
)


@guarded
def insert_predictions(engine: Engine, rows: Sequence[NewPrediction]) -> int:
    """Write ``rows`` in one transaction with batched statements; returns the count.

    (prediction_rows.py builds the driver's parameters itself, for speed.)
    """
    return insert_prepared(engine, prepare_predictions(engine, rows))


@guarded
def list_predictions(
    engine: Engine,
    model: str,
    *,
    since: datetime | None = None,
    limit: int = 100,
    after_id: int | None = None,
    version: int | None = None,
) -> list[PredictionRecord]:
    """Logged predictions of ``model`` at or after ``since``, oldest first.

    To page, pass the last row's ``at`` as ``since`` and its ``id`` as ``after_id``.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    query = select(*_COLUMNS).where(_P.model == model)
    if since is not None:
        start = as_utc(since, "since")
        if after_id is None:
            query = query.where(_P.at >= start)
        else:
            query = query.where(or_(_P.at > start, and_(_P.at == start, _P.id > after_id)))
    if version is not None:
        query = query.where(_P.version == version)
    query = query.order_by(_P.at, _P.id).limit(limit)
    with reading(engine) as connection:
        return [PredictionRecord(**row._asdict()) for row in connection.execute(query)]


@guarded
def prune_predictions(engine: Engine, older_than: datetime) -> int:
    """Delete the rows logged before ``older_than``; returns how many went."""
    cutoff = as_utc(older_than, "older_than")
    removed = 0
    while True:
        # Portable batching: MySQL refuses LIMIT inside an IN (subquery), so ids first.
        with writing(engine) as connection:
            ids = list(
                connection.scalars(
                    select(_P.id).where(_P.at < cutoff).order_by(_P.id).limit(PRUNE_BATCH)
                )
            )
            if ids:
                connection.execute(delete(prediction_log).where(_P.id.in_(ids)))
        removed += len(ids)
        if len(ids) < PRUNE_BATCH:
            return removed
