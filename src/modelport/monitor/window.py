"""The rows the monitor compares: a version's newest logged predictions (the live window)
or its first ones (the reference, when no sample came with the version), as a DataFrame."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from modelport.db.models import prediction_log
from modelport.db.tx import guarded, reading

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_window", "to_frame"]

_P = prediction_log.c


def _decoded(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def to_frame(
    logged: list[tuple[Any, Any]], features: list[str], limit: int
) -> tuple[pd.DataFrame, pd.Series, int]:
    """Input rows and predictions of logged (input, output) pairs, at most ``limit`` rows,
    and how many of the pairs they came from.

    Rows are lists in feature order or records; a prediction whose input was kept only
    as a hash (or cut) adds nothing.
    """
    import pandas as pd  # only when a report is made (see service.require_analysis)

    rows: list[Any] = []
    predictions: list[Any] = []
    used = 0
    for given, made in logged:
        used += 1
        inputs, outputs = _decoded(given), _decoded(made)
        if not isinstance(inputs, list) or not inputs:
            continue
        answers = outputs.get("predictions") if isinstance(outputs, dict) else None
        if not isinstance(answers, list) or len(answers) != len(inputs):
            answers = [None] * len(inputs)
        rows.extend(inputs)
        predictions.extend(answers)
        if len(rows) >= limit:
            break
    rows, predictions = rows[:limit], predictions[:limit]
    records = [
        dict(zip(features, row, strict=False)) if isinstance(row, list) else row
        for row in rows
        if isinstance(row, (list, dict))
    ]
    frame = pd.DataFrame.from_records(records, columns=features) if records else None
    if frame is None:
        frame = pd.DataFrame({name: pd.Series(dtype=float) for name in features})
    answers = pd.Series(
        [p if not isinstance(p, (list, dict)) else json.dumps(p) for p in predictions],
        dtype=object,
    )
    return frame, answers, used


@guarded
def read_window(
    engine: Engine, model: str, version: int, rows: int, *, newest: bool = True
) -> list[tuple[Any, Any, int, Any]]:
    """(input, output, id, at) of up to ``rows`` successful logged predictions of one
    version: the newest (the live window) or the oldest (a reference), newest-first or
    oldest-first. Each holds at least one input row, so ``rows`` predictions suffice."""
    query = select(_P.input, _P.output, _P.id, _P.at).where(
        _P.model == model, _P.version == version, _P.status == "ok", _P.input.is_not(None)
    )
    order = (_P.at.desc(), _P.id.desc()) if newest else (_P.at, _P.id)
    query = query.order_by(*order)
    with reading(engine) as connection:
        return [tuple(row) for row in connection.execute(query.limit(rows))]
