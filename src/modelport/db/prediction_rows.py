"""Writing prediction_log rows fast: driver parameters built by hand, batched INSERTs.

The prediction log is the one table written at request rate (thousands of rows a second
per worker), and SQLAlchemy's per-row bind processing (JSONText's json.dumps, the
datetime types) cost more than everything else the log does. So rows go straight to the
driver with values converted here, exactly as the column types (coltypes.py) would store
them; tests/db/test_predictions.py and test_prediction_log.py read them back through
those types on every backend.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Dialect, Engine, bindparam, insert

from modelport.db.models import prediction_log
from modelport.db.records import NewPrediction
from modelport.db.tx import as_utc, guarded, writing
from modelport.errors import ModelportError

__all__ = [
    "JSON_OPTIONS",
    "RowMaker",
    "encode_json",
    "insert_prepared",
    "prepare_predictions",
    "row_maker",
]

#: (request_id, at as Unix time in seconds, model, version, protocol, input JSON,
#: input_hash, output JSON, latency_ms, status, client_address, truncation JSON, error) -> the
#: driver's parameters for one row. The caller encodes the JSON (encode_json), so that it
#: can bound what it logs by the encoded size.
RowMaker = Callable[
    [
        str,
        float,
        str,
        "int | None",
        str,
        "str | None",
        "str | None",
        "str | None",
        float,
        str,
        "str | None",
        "str | None",
        "str | None",
    ],
    Any,
]

_FIELDS = tuple(field.name for field in dataclasses.fields(NewPrediction))
#: orjson's options for JSONText's stored form (encode_json).
JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
# SQLite takes 32,766 parameters per statement since 3.32, 999 before.
_SQLITE_ROWS_PER_INSERT = (32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999) // len(
    _FIELDS
)


def row_maker(engine: Engine) -> RowMaker:
    """The function that turns one prediction into parameters for insert_prepared."""
    return _maker(engine.dialect)


def prepare_predictions(engine: Engine, rows: Sequence[NewPrediction]) -> list[Any]:
    """Parameters for insert_prepared from NewPrediction rows (their times kept exact)."""
    positional, stored_time, _ = _stored_forms(engine.dialect)
    values: list[Any] = []
    for row in rows:
        item = (
            row.request_id,
            stored_time(as_utc(row.at, "at")),  # a naive time is refused before any write
            row.model,
            row.version,
            row.protocol,
            _json(row.input),
            row.input_hash,
            _json(row.output),
            row.latency_ms,
            row.status,
            row.client_address,
            _json(row.truncation),
            row.error,
        )
        values.append(item if positional else dict(zip(_FIELDS, item, strict=True)))
    return values


@guarded
def insert_prepared(engine: Engine, values: list[Any]) -> int:
    """Insert prepared rows in one transaction; returns the count."""
    if not values:
        return 0
    dialect = engine.dialect
    with writing(engine) as connection:
        if dialect.name != "sqlite":
            # executemany: PyMySQL joins the rows into multi-row INSERTs (split to fit its
            # packet size), psycopg pipelines them.
            connection.exec_driver_sql(_insert_sql(dialect), values)
        else:
            # sqlite3's executemany runs the statement once per row; one multi-row
            # VALUES per slice costs about half as much.
            for start, size in sqlite_insert_sizes(len(values), _SQLITE_ROWS_PER_INSERT):
                flat = tuple(value for row in values[start : start + size] for value in row)
                connection.exec_driver_sql(_sqlite_multi_insert(dialect, size), flat)
    return len(values)


def sqlite_insert_sizes(count: int, per: int) -> Iterator[tuple[int, int]]:
    """(first row, rows) of each INSERT for ``count`` rows: slices of ``per``, then the
    rest in powers of two. Each row count is its own SQL text, which sqlite3 keeps
    compiled per connection (and this module caches): a statement per possible count,
    each with thousands of parameters, grew a busy server by 140 MB in half an hour;
    this way there are at most 13 of them."""
    start = 0
    while count - start >= per:
        yield start, per
        start += per
    while start < count:
        size = 1 << ((count - start).bit_length() - 1)
        yield start, size
        start += size


def encode_json(value: Any) -> bytes:
    """JSONText's stored form, as UTF-8 (compact JSON); NumPy arrays are written directly."""
    try:
        return orjson.dumps(value, option=JSON_OPTIONS)
    except TypeError:  # what orjson refuses (e.g. Decimal), the standard library may take
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _json(value: Any) -> str | None:
    return None if value is None else encode_json(value).decode()


@functools.cache
def _maker(dialect: Dialect) -> RowMaker:
    positional, _, from_unix = _stored_forms(dialect)

    def make(
        request_id: str,
        at: float,
        model: str,
        version: int | None,
        protocol: str,
        input_json: str | None,
        input_hash: str | None,
        output_json: str | None,
        latency_ms: float,
        status: str,
        client_address: str | None,
        truncation_json: str | None,
        error: str | None = None,
    ) -> Any:
        item = (
            request_id,
            from_unix(at),
            model,
            version,
            protocol,
            input_json,
            input_hash,
            output_json,
            latency_ms,
            status,
            client_address,
            truncation_json,
            error,
        )
        return item if positional else dict(zip(_FIELDS, item, strict=True))

    return make


# -- the stored form of `at` (UTCDateTime): timestamptz on PostgreSQL, naive UTC elsewhere,
#    and on SQLite SQLAlchemy's text "2026-03-01 12:00:00.000000" (text order = time order)


@functools.cache
def _stored_forms(
    dialect: Dialect,
) -> tuple[bool, Callable[[datetime], Any], Callable[[float], Any]]:
    """(positional parameters?, stored time from a UTC datetime, ... from Unix time)."""
    compiled = (
        insert(prediction_log).values({n: bindparam(n) for n in _FIELDS}).compile(dialect=dialect)
    )
    if compiled.positional and tuple(compiled.positiontup or ()) != _FIELDS:
        # Rows are written as tuples in _FIELDS order: a driver wanting another is a bug.
        raise ModelportError(f"{dialect.name}: INSERT parameters are not in _FIELDS order")
    if dialect.name == "postgresql":
        return compiled.positional, _same, _aware_from_unix
    if dialect.name == "sqlite":
        return compiled.positional, _sqlite_from_datetime, _sqlite_from_unix
    return compiled.positional, _naive, _naive_from_unix


@functools.cache
def _insert_sql(dialect: Dialect) -> str:
    statement = insert(prediction_log).values({n: bindparam(n) for n in _FIELDS})
    return str(statement.compile(dialect=dialect))


@functools.cache
def _sqlite_multi_insert(dialect: Dialect, rows: int) -> str:
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in _FIELDS)
    one = "(" + ", ".join("?" * len(_FIELDS)) + ")"
    table = quote(prediction_log.name)
    # Names are the table's own, quoted; every value is a bound parameter.
    return f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * rows)  # noqa: S608


def _same(value: datetime) -> datetime:
    return value


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


def _aware_from_unix(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _naive_from_unix(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC).replace(tzinfo=None)


def _sqlite_from_datetime(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_from_unix(at: float) -> str:
    # Formatting a datetime costs microseconds, and a batch's rows share a few seconds:
    # each second is formatted once.
    seconds, micros = divmod(round(at * 1_000_000), 1_000_000)
    return f"{_second_text(seconds)}.{micros:06d}"


@functools.lru_cache(maxsize=4096)
def _second_text(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
