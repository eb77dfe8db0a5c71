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
    try:
        return _outputs(runtime, signature, batch, rows, probabilities)
    except (SystemExit, KeyboardInterrupt) as exc:
        # The model's own code (sys.exit() in its predict; a real Ctrl-C reaches only the
        # main thread): a failure of this call (a 500, or a version that does not load),
        # never an order to stop the server, which it was when it escaped a batch's task.
        raise RuntimeError(f"the model's code raised {type(exc).__name__}({exc})") from exc


def _outputs(
    runtime: Runtime, signature: Signature, batch: Batch, rows: int, probabilities: bool
) -> ModelOutputs:
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
