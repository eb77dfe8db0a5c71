"""The one core entry point for a prediction: resolve -> validate -> run off-loop -> encode.

Every protocol module calls :meth:`InferenceService.predict` with a decoded payload; none
of them touches a runtime directly. Model calls run in a bounded thread pool and are
abandoned (the client gets 504) when they run past ``request_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from modelport.errors import InvalidInputError, ModelportError, PredictionTimeoutError
from modelport.inputs import Payload, count_rows, to_batch
from modelport.outputs import ModelOutputs, run_model
from modelport.registry import ModelRegistry, ModelVersion
from modelport.types import Batch

__all__ = ["InferenceService", "PredictRequest", "PredictResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PredictRequest:
    model: str
    payload: Payload
    #: A version number, 'latest', or None for the newest ready version.
    version: str | None = None
    probabilities: bool = False


@dataclass(frozen=True, slots=True)
class PredictResult:
    model_name: str
    model_version: int
    outputs: ModelOutputs


class InferenceService:
    """Runs predictions for every protocol; owns the inference thread pool."""

    def __init__(self, registry: ModelRegistry, threads: int, timeout_s: float) -> None:
        self.registry = registry
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="modelport-infer")

    async def predict(self, request: PredictRequest) -> PredictResult:
        served = self.registry.resolve(request.model, request.version)
        assert served.signature is not None  # a ready version always has one
        batch = to_batch(request.payload, served.signature)
        rows = count_rows(request.payload)
        future = asyncio.wrap_future(
            self._pool.submit(self._call, served, batch, rows, request.probabilities)
        )
        try:
            outputs = await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            # The thread cannot be killed; it finishes in the background and its result
            # is dropped. The pool's other threads keep serving meanwhile.
            log.warning(
                "model '%s' version %d ran past %.1fs; answered 504",
                served.name,
                served.version,
                self.timeout_s,
            )
            raise PredictionTimeoutError(
                f"model '{served.name}' version {served.version} did not answer within "
                f"{self.timeout_s:g} s (setting request_timeout)"
            ) from None
        return PredictResult(served.name, served.version, outputs)

    @staticmethod
    def _call(served: ModelVersion, batch: Batch, rows: int, probabilities: bool) -> ModelOutputs:
        assert served.runtime is not None and served.signature is not None
        try:
            return run_model(served.runtime, served.signature, batch, rows, probabilities)
        except ModelportError:
            raise
        except (ValueError, TypeError) as exc:
            # Our validation passed, so this is the model refusing the values themselves
            # (an unseen category, a dtype it cannot take): the caller's to fix, not a 500.
            raise InvalidInputError(f"the model rejected the input: {exc}") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
