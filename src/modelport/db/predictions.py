"""The prediction log: batched inserts, paging by time, and pruning old rows."""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Dialect, Engine, and_, bindparam, delete, insert, or_, select

from modelport.db.models import PredictionRow
from modelport.db.records import NewPrediction, PredictionRecord
from modelport.db.tx import as_utc, guarded, reading, writing
from modelport.errors import InvalidRequestError

__all__ = [
    "insert_predictions",
    "insert_prepared",
    "list_predictions",
    "prepare_predictions",
    "prune_predictions",
]

_P = PredictionRow
MAX_LIMIT = 10_000
# Rows removed per transaction when pruning, so that no lock is held for long.
PRUNE_BATCH = 5_000
_FIELDS = tuple(field.name for field in dataclasses.fields(NewPrediction))
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
)


@guarded
def insert_predictions(engine: Engine, rows: Sequence[NewPrediction]) -> int:
    """Write ``rows`` in one transaction with one batched statement; returns the count."""
    return insert_prepared(engine, prepare_predictions(engine, rows))


def prepare_predictions(
    engine: Engine, rows: Sequence[NewPrediction | tuple[Any, ...]]
) -> list[Any]:
    """The driver's parameters for ``rows`` (pure Python, no database access).

    A row is a NewPrediction or a plain tuple of its fields in order (the prediction
    log's, which skips building thousands of objects a second). The log builds these on
    its event loop in small slices, so that its writer thread holds the GIL only briefly
    (see predlog.py).
    """
    _, positional, stamp = _fast_insert(engine.dialect)
    dumps, options = orjson.dumps, _JSON_OPTIONS
    values: list[Any] = []
    append = values.append
    for row in rows:
        (request_id, at, model, version, protocol, input_, input_hash, output, *rest) = (
            row if isinstance(row, tuple) else _fields_of(row)
        )
        # as_utc first: a naive time is refused before anything is written.
        if at.tzinfo is not UTC:
            at = as_utc(at, "at")
        try:  # the common case inline: this loop runs thousands of times a second
            input_json = None if input_ is None else dumps(input_, option=options).decode()
            output_json = None if output is None else dumps(output, option=options).decode()
        except TypeError:
            input_json, output_json = _json(input_), _json(output)
        item = (
            request_id,
            stamp(at),
            model,
            version,
            protocol,
            input_json,
            input_hash,
            output_json,
            *rest,
        )
        append(item if positional else dict(zip(_FIELDS, item, strict=True)))
    return values


def _fields_of(row: NewPrediction) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in _FIELDS)


@guarded
def insert_prepared(engine: Engine, values: list[Any]) -> int:
    """Insert what prepare_predictions made, in one transaction; returns the count."""
    if not values:
        return 0
    dialect = engine.dialect
    with writing(engine) as connection:
        if dialect.name != "sqlite":
            # executemany: PyMySQL joins the rows into multi-row INSERTs (split to fit
            # its packet size), psycopg pipelines them.
            connection.exec_driver_sql(_fast_insert(dialect)[0], values)
        else:
            # sqlite3's executemany steps once per row, releasing and retaking the GIL
            # each time: while the server is busy every retake waits for the event
            # loop's thread, which cost more than the inserts. A multi-row VALUES is
            # one step per slice.
            per = _SQLITE_ROWS_PER_INSERT
            for start in range(0, len(values), per):
                part = values[start : start + per]
                flat = [value for row in part for value in row]
                connection.exec_driver_sql(_sqlite_multi_insert(dialect, len(part)), tuple(flat))
    return len(values)


# The prediction log is the one table written at request rate (thousands of rows a
# second), and SQLAlchemy's per-row bind processing (JSONText's json.dumps, the datetime
# types) cost more than the rest of the log together. So this statement goes straight to
# the driver with values converted here, exactly as the column types would store them;
# tests/db/test_predictions.py reads them back through those types on every backend.
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _json(value: Any) -> str | None:
    """JSONText's stored form (compact JSON text); NumPy arrays are written directly."""
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=_JSON_OPTIONS).decode()
    except TypeError:  # what orjson refuses (e.g. Decimal), the standard library may take
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _stamp_naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


_SQLITE_SECONDS: dict[tuple[int, int, int, int], str] = {}


def _stamp_sqlite(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage format (UTC wall time, microseconds), so that
    text order is time order: "2026-03-01 12:00:00.000000"."""
    # datetime.isoformat costs microseconds a call, and a batch's rows share a few
    # seconds: format each second once.
    key = (value.toordinal(), value.hour, value.minute, value.second)
    prefix = _SQLITE_SECONDS.get(key)
    if prefix is None:
        if len(_SQLITE_SECONDS) > 10_000:
            _SQLITE_SECONDS.clear()
        prefix = value.replace(microsecond=0, tzinfo=None).isoformat(" ")
        _SQLITE_SECONDS[key] = prefix
    return f"{prefix}.{value.microsecond:06d}"


def _stamp_aware(value: datetime) -> datetime:
    return value


# SQLite takes 32,766 parameters per statement since 3.32, 999 before.
_SQLITE_ROWS_PER_INSERT = (32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999) // len(
    _FIELDS
)


@functools.cache
def _sqlite_multi_insert(dialect: Dialect, rows: int) -> str:
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in _FIELDS)
    one = "(" + ", ".join("?" * len(_FIELDS)) + ")"
    return f"INSERT INTO {quote(_P.__tablename__)} ({columns}) VALUES " + ", ".join([one] * rows)


@functools.cache
def _fast_insert(dialect: Dialect) -> tuple[str, bool, Callable[[datetime], Any]]:
    """(SQL, positional parameters?, UTC datetime -> stored value) for one dialect."""
    statement = insert(_P).values({name: bindparam(name) for name in _FIELDS})
    compiled = statement.compile(dialect=dialect)
    assert not compiled.positional or tuple(compiled.positiontup or ()) == _FIELDS
    # UTCDateTime's stored forms: timestamptz on PostgreSQL, naive UTC elsewhere.
    if dialect.name == "postgresql":
        stamp: Callable[[datetime], Any] = _stamp_aware
    elif dialect.name == "sqlite":
        stamp = _stamp_sqlite
    else:
        stamp = _stamp_naive
    return str(compiled), compiled.positional, stamp


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
                connection.execute(delete(_P).where(_P.id.in_(ids)))
        removed += len(ids)
        if len(ids) < PRUNE_BATCH:
            return removed
