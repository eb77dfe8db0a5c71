"""Call a runtime on a batch and turn its raw outputs into JSON-able predictions.

Runs in an inference thread (blocking). Labels are mapped to their display names, and
probabilities become one ``{label: p}`` object per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelport.errors import ModelportError
from modelport.runtimes.base import Runtime
from modelport.signature import Signature
from modelport.types import Batch

__all__ = ["ModelOutputs", "run_model"]


@dataclass(frozen=True, slots=True)
class ModelOutputs:
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None


def run_model(
    runtime: Runtime, signature: Signature, batch: Batch, rows: int, probabilities: bool
) -> ModelOutputs:
    """Predict ``rows`` rows; add probabilities when asked and the model has them."""
    raw = runtime.predict(batch)
    predictions = raw.tolist()
    if len(predictions) != rows:
        raise ModelportError(f"the model returned {len(predictions)} predictions for {rows} row(s)")
    if signature.classes is not None and raw.ndim == 1:
        predictions = signature.labels_of(predictions)
    if not probabilities or not signature.has_proba:
        return ModelOutputs(predictions)
    labels = signature.labels or ()
    table = runtime.predict_proba(batch).tolist()
    return ModelOutputs(predictions, [dict(zip(labels, row, strict=True)) for row in table])
