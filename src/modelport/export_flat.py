"""``modelport predictions export --flatten``: one line per input row, one column per feature.

A logged prediction holds its input as rows (lists in the model's feature order, or
records by feature name) or, for a request rejected before validation, in the shape the
client sent (columns, MLflow's split, V2 tensors); each becomes one line per input row,
with that row's prediction beside it. Positions are named after the model's features
when they are known (``feature_names``, from its model.yaml), else ``feature_0``, ...
The columns are known only once every row has been seen, so the log is read twice
(page by page both times: bounded memory at any size). An input with no row shape, or
left out as too big, is kept whole as JSON in the ``input`` column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from modelport.db.records import PredictionRecord
from modelport.errors import MissingDependencyError

__all__ = ["FIXED_BEFORE", "flat_columns", "input_rows", "write_flat_csv", "write_flat_parquet"]

Pages = Callable[[], Iterable[list[PredictionRecord]]]
#: The columns before the features, and after them.
FIXED_BEFORE = ("id", "request_id", "at", "model", "version", "protocol", "row")
FIXED_AFTER = (
    "prediction",
    "probabilities",
    "status",
    "error",
    "latency_ms",
    "client_address",
    "input_hash",
    "truncated",
    "input",
)
_NUMERIC_AFTER = {"latency_ms"}
_INTEGER = {"id", "version", "row"}


def input_rows(value: Any) -> list[dict[Any, Any]] | None:
    """A logged input's rows as feature -> value (a position is an int key), or None when
    it has no row shape."""
    if isinstance(value, list):
        return [_row(row) for row in value]
    if not isinstance(value, dict) or not value:
        return None
    if set(value) == {"columns", "data"}:  # MLflow's dataframe_split
        columns, data = value["columns"], value["data"]
        if isinstance(columns, list) and isinstance(data, list):
            return [
                dict(zip(columns, row, strict=False)) if isinstance(row, list) else {0: row}
                for row in data
            ]
        return None
    if not all(isinstance(column, list) for column in value.values()):
        return None
    only = next(iter(value.values()))
    if len(value) == 1 and only and all(isinstance(row, list) for row in only):
        return [_row(row) for row in only]  # one 2-D tensor: rows of features
    length = max(len(column) for column in value.values())
    return [
        {name: column[i] if i < len(column) else None for name, column in value.items()}
        for i in range(length)
    ]


def _row(row: Any) -> dict[Any, Any]:
    if isinstance(row, dict):
        return row
    if isinstance(row, list):
        return dict(enumerate(row))
    return {0: row}  # one feature, given bare


class _Naming:
    """Column names of the features: declared names for positions, clashes prefixed."""

    def __init__(self, feature_names: Sequence[str] | None) -> None:
        self.declared = list(feature_names or [])
        self.taken = set(FIXED_BEFORE) | set(FIXED_AFTER)

    def name(self, key: Any) -> str:
        if isinstance(key, int) and not isinstance(key, bool):
            text = self.declared[key] if key < len(self.declared) else f"feature_{key}"
        else:
            text = str(key)
        return f"input.{text}" if text in self.taken else text


def _lines(record: PredictionRecord, naming: _Naming) -> Iterator[dict[str, Any]]:
    """The export's lines of one logged prediction."""
    output = record.output if isinstance(record.output, dict) else {}
    predictions = output.get("predictions")
    probabilities = output.get("probabilities")
    rows = input_rows(record.input)
    count = len(rows) if rows is not None else 0
    if rows is None and isinstance(predictions, list):
        count = len(predictions)  # input kept as a hash, or too big: a line per prediction
    base = {
        "id": record.id,
        "request_id": record.request_id,
        "at": record.at,
        "model": record.model,
        "version": record.version,
        "protocol": record.protocol,
        "status": record.status,
        "error": record.error,
        "latency_ms": record.latency_ms,
        "client_address": record.client_address,
        "input_hash": record.input_hash,
        "truncated": bool(record.truncation),
        "input": None if rows is not None or record.input is None else _json(record.input),
    }
    for i in range(max(count, 1)):
        line = dict(base)
        if count:
            line["row"] = i
        if rows is not None and i < len(rows):
            for key, value in rows[i].items():
                line[naming.name(key)] = value
        if isinstance(predictions, list) and i < len(predictions):
            line["prediction"] = predictions[i]
        if isinstance(probabilities, list) and i < len(probabilities):
            line["probabilities"] = _json(probabilities[i])
        yield line


def flat_columns(
    pages: Pages, feature_names: Sequence[str] | None = None
) -> tuple[list[str], set[str]]:
    """(every column in order, the feature and prediction columns holding only numbers),
    from a first read of the log."""
    naming = _Naming(feature_names)
    seen: dict[str, bool] = {}  # column -> only numbers so far
    for page in pages():
        for record in page:
            for line in _lines(record, naming):
                for column, value in line.items():
                    if column in FIXED_BEFORE or (column in FIXED_AFTER and column != "prediction"):
                        continue
                    number = value is None or (
                        isinstance(value, int | float) and not isinstance(value, bool)
                    )
                    seen[column] = seen.get(column, True) and number
    features = [c for c in seen if c != "prediction"]
    declared = [naming.name(i) for i in range(len(naming.declared))]
    ordered = [c for c in declared if c in seen]
    positions = sorted(
        (c for c in features if c.startswith("feature_") and c[8:].isdigit()),
        key=lambda c: int(c[8:]),
    )
    ordered += [c for c in positions if c not in ordered]
    ordered += [c for c in features if c not in ordered]
    numeric = {column for column, only in seen.items() if only}
    return [*FIXED_BEFORE, *ordered, *FIXED_AFTER], numeric


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _cell(value: Any) -> Any:
    """A CSV cell: scalars as they are, lists and mappings as JSON."""
    if isinstance(value, list | dict):
        return _json(value)
    return value


def write_flat_csv(
    pages: Pages, out: TextIO, feature_names: Sequence[str] | None = None
) -> tuple[int, int]:
    """The flattened CSV; returns (predictions, lines) written."""
    columns, _ = flat_columns(pages, feature_names)
    naming = _Naming(feature_names)
    writer = csv.writer(out)
    writer.writerow(columns)
    predictions = lines = 0
    for page in pages():
        for record in page:
            predictions += 1
            for line in _lines(record, naming):
                at = line["at"]
                line["at"] = at.isoformat()
                writer.writerow([_cell(line.get(column)) for column in columns])
                lines += 1
    return predictions, lines


def write_flat_parquet(
    pages: Pages, path: Path, feature_names: Sequence[str] | None = None
) -> tuple[int, int]:
    """The flattened Parquet file (numbers as float64, anything else as text); returns
    (predictions, lines) written."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ModuleNotFoundError as exc:
        raise MissingDependencyError("pyarrow", "parquet", "Parquet export") from exc
    columns, numeric = flat_columns(pages, feature_names)

    def kind(column: str) -> Any:
        if column in _INTEGER:
            return pa.int64()
        if column == "at":
            return pa.timestamp("us", tz="UTC")
        if column == "truncated":
            return pa.bool_()
        if column in _NUMERIC_AFTER or column in numeric:
            return pa.float64()
        return pa.string()

    schema = pa.schema([(column, kind(column)) for column in columns])
    text = {column for column in columns if schema.field(column).type == pa.string()}
    naming = _Naming(feature_names)
    predictions = lines = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        for page in pages():
            batch: list[dict[str, Any]] = []
            for record in page:
                predictions += 1
                batch.extend(_lines(record, naming))
            table = {
                column: [
                    _text(line.get(column)) if column in text else line.get(column)
                    for line in batch
                ]
                for column in columns
            }
            writer.write_table(pa.Table.from_pydict(table, schema=schema))
            lines += len(batch)
        if predictions == 0:
            writer.write_table(schema.empty_table())
    return predictions, lines


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return _json(value)
