"""The original app's /predict: a batch of loan applications -> one prediction per Loan_ID.

The original app's client posts ``json.dumps(df.to_json(orient="records"))``: a JSON string that
holds the records. A plain JSON list of records is taken as well.
"""

from __future__ import annotations

import json
from typing import Any

from modelport.errors import InvalidRequestError
from modelport.routes import RouteRequest, ServerHandle


def predict(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Predictions for a batch of records, as the original app's JSON string of [Loan_ID, 0/1]."""
    records = request.json
    if isinstance(records, str):
        try:
            records = json.loads(records)
        except ValueError:
            raise _bad_request(request) from None
    if not isinstance(records, list) or not records:
        raise _bad_request(request)
    if not all(isinstance(record, dict) for record in records):
        raise _bad_request(request)
    loan_ids = [record.get("Loan_ID") for record in records]
    rows = [_features(record) for record in records]
    answer = server.predict("loan", rows)
    # pandas' DataFrame(list(zip(ids, predictions))).to_json(orient="records"), as the original app.
    table = [
        {"0": loan_id, "1": label}
        for loan_id, label in zip(loan_ids, answer.predictions, strict=True)
    ]
    return {"predictions": json.dumps(table, separators=(",", ":"))}


def _features(record: dict[str, Any]) -> dict[str, Any]:
    row = {name: value for name, value in record.items() if name != "Loan_ID"}
    if row.get("Dependents") is not None:
        row["Dependents"] = str(row["Dependents"])  # the original app's str(x) for each value
    return row


def _bad_request(request: RouteRequest) -> InvalidRequestError:
    return InvalidRequestError(
        "Bad Request: " + request.url + "--> Please check your data payload..."
    )
