"""Reading the prediction log: a page of a model's logged rows, and how a row's
truncation reads (the API and the export show the same fields).

The writer (predlog.py) owns the buffer and the writes; this module only queries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelport.db import store
from modelport.db.database import Database
from modelport.db.records import PredictionRecord
from modelport.errors import ModelNotFoundError

__all__ = ["read_page", "truncation_fields"]


async def read_page(
    database: Database,
    model: str,
    *,
    served: bool,
    since: datetime | None = None,
    after_id: int | None = None,
    limit: int = 100,
    version: int | None = None,
) -> list[PredictionRecord]:
    """Logged predictions of ``model``, oldest first (see store.list_predictions).

    ModelNotFoundError when the model is neither ``served`` nor known to the database.
    """
    await database.ready()
    rows = await database.run(
        store.list_predictions,
        model,
        since=since,
        limit=limit,
        after_id=after_id,
        version=version,
    )
    if not rows and not served:
        names = await database.run(store.list_model_names)
        if model not in names:
            raise ModelNotFoundError(model, names)
    return rows


def truncation_fields(truncation: dict[str, Any] | None) -> dict[str, Any]:
    """A logged row's truncation as readers see it (the API, the export): ``truncated``,
    and the full size and sha256 of each part that was cut."""
    note = truncation or {}
    given, made = note.get("input") or {}, note.get("output") or {}
    return {
        "truncated": bool(note),
        "input_bytes": given.get("bytes"),
        "input_sha256": given.get("sha256"),
        "output_bytes": made.get("bytes"),
        "output_sha256": made.get("sha256"),
    }
