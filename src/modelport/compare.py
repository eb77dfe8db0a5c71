"""How a model's shadow version answered beside the version that served: agreement,
per-class confusion, and for regressors the mean absolute difference.

Read from the prediction log, where each shadow row (protocol ``shadow``) shares its
request id with the row of the answer the client got.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from numbers import Real
from typing import Any

from modelport.contracts import CompareReport
from modelport.db import store
from modelport.db.database import Database
from modelport.db.records import PredictionRecord
from modelport.shadow import SHADOW_PROTOCOL

__all__ = ["MAX_ROWS", "compare_shadow"]

#: Log rows read at most for one report (the newest window is cut there).
MAX_ROWS = 200_000
_PAGE = 10_000


async def compare_shadow(
    database: Database, name: str, since_s: float, now: datetime | None = None
) -> CompareReport:
    """Pair the served and shadow rows of the last ``since_s`` seconds and compare them."""
    start = (now or datetime.now(UTC)) - timedelta(seconds=since_s)
    served: dict[str, PredictionRecord] = {}
    shadows: dict[str, PredictionRecord] = {}
    read, after_id, at = 0, None, start
    while read < MAX_ROWS:
        page = await database.run(
            store.list_predictions, name, since=at, limit=_PAGE, after_id=after_id
        )
        for row in page:
            (shadows if row.protocol == SHADOW_PROTOCOL else served)[row.request_id] = row
        read += len(page)
        if len(page) < _PAGE:
            break
        at, after_id = page[-1].at, page[-1].id
    pairs = [(served[key], shadows[key]) for key in shadows if key in served]
    return _report(name, since_s, pairs)


def _report(
    name: str, since_s: float, pairs: list[tuple[PredictionRecord, PredictionRecord]]
) -> CompareReport:
    answered = [(a, b) for a, b in pairs if a.status == "ok" and b.status == "ok"]
    values: list[tuple[Any, Any]] = []
    for a, b in answered:
        left, right = _predictions(a.output), _predictions(b.output)
        if left is not None and right is not None and len(left) == len(right):
            values.extend(zip(left, right, strict=True))
    regression = (
        bool(values)
        and all(_is_number(x) and _is_number(y) for x, y in values)
        and any(_is_fraction(x) or _is_fraction(y) for x, y in values)
    )
    confusion: dict[str, dict[str, int]] = {}
    agreement = mad = None
    if values and regression:
        mad = sum(abs(float(x) - float(y)) for x, y in values) / len(values)
    elif values:
        counts = Counter((str(x), str(y)) for x, y in values)
        for (x, y), count in sorted(counts.items()):
            confusion.setdefault(x, {})[y] = count
        agreement = sum(count for (x, y), count in counts.items() if x == y) / len(values)
    return {
        "name": name,
        "since_seconds": since_s,
        "pairs": len(pairs),
        "rows": len(values),
        "shadow_failures": sum(1 for _, b in pairs if b.status != "ok"),
        "version": _most_common(a.version for a, _ in pairs),
        "shadow_version": _most_common(b.version for _, b in pairs),
        "agreement": agreement,
        "confusion": confusion,
        "mean_absolute_difference": mad,
    }


def _predictions(output: Any) -> list[Any] | None:
    found = output.get("predictions") if isinstance(output, dict) else None
    return found if isinstance(found, list) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_fraction(value: Any) -> bool:
    return isinstance(value, float) and not value.is_integer()


def _most_common(versions: Any) -> int | None:
    counts = Counter(v for v in versions if v is not None)
    return counts.most_common(1)[0][0] if counts else None
