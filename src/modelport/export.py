"""Write a model's prediction log out as CSV or Parquet (``modelport predictions export``).

Rows are read page by page (oldest first), so a log of any size streams through in
bounded memory. Inputs and outputs are JSON text in both formats; Parquet needs pyarrow
(``pip install 'modelport[parquet]'``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from sqlalchemy import Engine

from modelport.db import store
from modelport.db.records import PredictionRecord
from modelport.errors import MissingDependencyError, ModelNotFoundError
from modelport.predlog_reader import truncation_fields

__all__ = ["COLUMNS", "ExportFormat", "export_csv", "export_parquet", "iter_predictions"]

ExportFormat = Literal["csv", "parquet"]
COLUMNS = (
    "id",
    "request_id",
    "at",
    "model",
    "version",
    "protocol",
    "input",
    "input_hash",
    "output",
    "latency_ms",
    "status",
    "error",
    "client_address",
    # Set when the input or output was too big to log whole (log_max_input_bytes).
    "truncated",
    "input_bytes",
    "input_sha256",
    "output_bytes",
    "output_sha256",
)
PAGE = 5000
_TRUNCATION = COLUMNS[COLUMNS.index("truncated") :]


def iter_predictions(
    engine: Engine,
    model: str,
    since: datetime | None = None,
    until: datetime | None = None,
    version: int | None = None,
) -> Iterator[list[PredictionRecord]]:
    """Pages of ``model``'s logged rows, oldest first, from ``since`` up to ``until``.

    ModelNotFoundError when the model has no rows and the database never knew it.
    """
    after: int | None = None
    first = True
    while True:
        rows = store.list_predictions(
            engine, model, since=since, after_id=after, limit=PAGE, version=version
        )
        # Rows come oldest first: once one is past `until`, so is every later one.
        kept = rows if until is None else [row for row in rows if row.at < until]
        if first and not rows:
            names = store.list_model_names(engine)
            if model not in names:
                raise ModelNotFoundError(model, names)
        first = False
        if kept:
            yield kept
        if len(rows) < PAGE or len(kept) < len(rows):
            return
        since, after = rows[-1].at, rows[-1].id


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _cells(row: PredictionRecord) -> list[Any]:
    return [
        row.id,
        row.request_id,
        row.at.isoformat(),
        row.model,
        row.version,
        row.protocol,
        _json(row.input),
        row.input_hash,
        _json(row.output),
        row.latency_ms,
        row.status,
        row.error,
        row.client_address,
        *(truncation_fields(row.truncation)[name] for name in _TRUNCATION),
    ]


def export_csv(pages: Iterator[list[PredictionRecord]], out: TextIO) -> int:
    """CSV with a header row; returns the number of rows written."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for page in pages:
        writer.writerows(_cells(row) for row in page)
        count += len(page)
    return count


def export_parquet(pages: Iterator[list[PredictionRecord]], path: Path) -> int:
    """A Parquet file (one row group per page); returns the number of rows written."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ModuleNotFoundError as exc:
        raise MissingDependencyError("pyarrow", "parquet", "Parquet export") from exc
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("request_id", pa.string()),
            ("at", pa.timestamp("us", tz="UTC")),
            ("model", pa.string()),
            ("version", pa.int64()),
            ("protocol", pa.string()),
            ("input", pa.string()),
            ("input_hash", pa.string()),
            ("output", pa.string()),
            ("latency_ms", pa.float64()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("client_address", pa.string()),
            ("truncated", pa.bool_()),
            ("input_bytes", pa.int64()),
            ("input_sha256", pa.string()),
            ("output_bytes", pa.int64()),
            ("output_sha256", pa.string()),
        ]
    )
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        for page in pages:
            columns = list(zip(*(_cells(row) for row in page), strict=True))
            columns[2] = tuple(row.at for row in page)  # a real timestamp, not text
            writer.write_table(pa.Table.from_arrays([list(c) for c in columns], schema=schema))
            count += len(page)
        if count == 0:  # a valid file with the schema and no rows
            writer.write_table(schema.empty_table())
    return count
