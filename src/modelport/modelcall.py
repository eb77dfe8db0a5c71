"""One model call, as an inference thread runs it, and the errors a call ends in.

Blocking code for the thread pool (the event loop side is inference.py): the call, its
wait for a thread and its time recorded (metrics, trace times), and the errors it maps
a model's own failures to.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from modelport.batching import OnCall
from modelport.errors import (
    InvalidInputError,
    InvalidRequestError,
    ModelNotReadyError,
    ModelportError,
    PredictionTimeoutError,
)
from modelport.metrics import Metrics
from modelport.outputs import ModelOutputs, run_model
from modelport.served import ModelVersion
from modelport.tracing import StepTimes
from modelport.types import Batch

__all__ = [
    "no_probabilities",
    "not_ready",
    "observer",
    "run_model_call",
    "timed_model_call",
    "timed_out",
]

log = logging.getLogger("modelport.inference")


def timed_out(served: ModelVersion, timeout_s: float) -> PredictionTimeoutError:
    log.warning(
        "model '%s' version %d ran past %.1fs; answered 504", served.name, served.version, timeout_s
    )
    return PredictionTimeoutError(
        f"model '{served.name}' version {served.version} did not answer within "
        f"{timeout_s:g} s (setting request_timeout)"
    )


def run_model_call(
    served: ModelVersion, batch: Batch, rows: int, probabilities: bool
) -> ModelOutputs:
    """Blocking: one model call, in an inference thread."""
    if served.runtime is None or served.signature is None:  # unloaded under the call
        raise not_ready(served)
    try:
        return run_model(served.runtime, served.signature, batch, rows, probabilities)
    except ModelportError:
        raise
    except (ValueError, TypeError) as exc:
        # Our validation passed, so this is the model refusing the values themselves
        # (an unseen category, a dtype it cannot take): the caller's to fix, not a 500.
        raise InvalidInputError(f"the model rejected the input: {exc}") from exc


def timed_model_call(
    served: ModelVersion,
    batch: Batch,
    rows: int,
    probabilities: bool,
    submitted: float,
    metrics: Metrics | None,
    times: StepTimes | None,
) -> ModelOutputs:
    """Blocking: one unbatched model call, its wait for a thread and its time recorded."""
    started = time.monotonic()
    try:
        return run_model_call(served, batch, rows, probabilities)
    finally:
        observer(metrics)(served, rows, [started - submitted], time.monotonic() - started, [times])


def observer(metrics: Metrics | None) -> OnCall[ModelVersion]:
    """What runs after each model call: its metrics, and each request's trace times."""

    def observe(
        served: ModelVersion, rows: int, waits: list[float], seconds: float, tags: list[Any]
    ) -> None:
        if metrics is not None:
            metrics.model_call(served.name, served.version, rows, waits, seconds)
        for wait, tag in zip(waits, tags, strict=True):
            if tag is not None:
                tag.called(wait, seconds)

    return observe


def not_ready(served: ModelVersion) -> ModelNotReadyError:
    return ModelNotReadyError(
        f"model '{served.name}' version {served.version} is not loaded ({served.state})"
    )


def no_probabilities(served: ModelVersion, protocol: str) -> InvalidRequestError:
    # V2 clients ask for outputs by name; the others ask with a flag.
    fix = (
        "ask for the output 'predict' only"
        if protocol.startswith("v2")
        else "leave out probabilities=true"
    )
    return InvalidRequestError(
        f"model '{served.name}' version {served.version} has no class probabilities (a "
        f"regressor, or a model without predict_proba): {fix}"
    )
