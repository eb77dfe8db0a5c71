"""The native (KServe V1 compatible) predict: body in, answer out, no web framework.

One function for the routed endpoints (``api/native.py``) and the fast lane
(``api/fastlane.py``) that serves the same requests without the framework.
"""

from __future__ import annotations

from typing import Any

from modelport.inference import InferenceService, PredictRequest
from modelport.protocols.envelopes import decode_predict_body, parse_flag

__all__ = ["predict_answer"]


async def predict_answer(
    inference: InferenceService,
    name: str,
    version: str | None,
    body: bytes,
    probabilities_query: str | None,
    request_id: str | None = None,
    client: str | None = None,
    route_key: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Decode, predict, shape the answer: the whole native predict.

    Returns the answer and the response cache's verdict ("hit", "miss" or None)."""
    payload, parameters = decode_predict_body(body)
    probabilities = parse_flag(parameters.get("probabilities"), "parameters.probabilities")
    if probabilities_query is not None:
        probabilities = parse_flag(probabilities_query, "query parameter probabilities")
    if route_key is None and inference.route_key_parameter is not None:
        value = parameters.get(inference.route_key_parameter)
        route_key = None if value is None else str(value)
    result = await inference.predict(
        PredictRequest(
            name, payload, version, probabilities, "native", request_id, client, route_key
        )
    )
    answer: dict[str, Any] = {
        "model_name": result.model_name,
        "model_version": result.model_version,
        "predictions": result.outputs.predictions,
    }
    if result.outputs.probabilities is not None:
        answer["probabilities"] = result.outputs.probabilities
    return answer, result.cache
