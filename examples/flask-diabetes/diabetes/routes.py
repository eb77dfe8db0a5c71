"""The original Flask endpoint: {"data": "1,106,70,..."} -> {"prediction": P(class 1)}."""

from __future__ import annotations

from typing import Any

from modelport.errors import InvalidRequestError
from modelport.routes import RouteRequest, ServerHandle


def predict(request: RouteRequest, server: ServerHandle) -> dict[str, Any]:
    """Probability of diabetes for one comma-separated row of the 8 Pima columns."""
    text = request.json["data"]  # the schema in model.yaml checked it is there
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise InvalidRequestError(
            f"data must be comma-separated numbers, e.g. 1,106,70,28,135,34.2,0.142,22; "
            f"got '{text[:100]}'"
        ) from None
    answer = server.predict("diabetes", values, probabilities=True)
    if answer.probabilities is None:  # a model without predict_proba was put here
        raise InvalidRequestError("the diabetes model gives no probabilities")
    return {"prediction": answer.probabilities[0]["positive"]}
