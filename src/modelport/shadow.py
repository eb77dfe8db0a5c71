"""Shadow predictions: a copy of a request answered by another version, off the request
path, for comparison only.

The real answer never waits for the shadow: a request hands its payload over with
``offer`` (a sample of them, into a bounded queue; dropped when the queue is full or the
shadow's one thread is still busy) and returns. One task answers the queue on the shadow's
own thread, so a shadow that is slow, hangs or raises takes nothing from the inference
threads. Both answers are written to the prediction log with the request's id; the
shadow's row has the protocol ``shadow``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from modelport.errors import ModelportError
from modelport.inputs import to_batch
from modelport.outputs import ModelOutputs, run_model
from modelport.payloads import Payload, Rows, count_rows
from modelport.predlog import PredictionLog
from modelport.registry import ModelRegistry
from modelport.served import ModelVersion
from modelport.types import Batch

__all__ = ["SHADOW_PROTOCOL", "ShadowRunner"]

log = logging.getLogger(__name__)

#: The protocol of a shadow's rows in the prediction log.
SHADOW_PROTOCOL = "shadow"
#: Copies waiting for the shadow, at most; more are dropped (and counted).
QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class _Copy:
    version: ModelVersion
    payload: Payload
    probabilities: bool
    request_id: str | None
    client: str | None


class ShadowRunner:
    """Answers copies of requests with a shadow version, one at a time, on its own thread."""

    def __init__(
        self, registry: ModelRegistry, log_to: PredictionLog | None, timeout_s: float
    ) -> None:
        self.registry = registry
        self.log_to = log_to
        self.timeout_s = timeout_s
        self._waiting: deque[_Copy] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="modelport-shadow")
        #: The call on the shadow's thread; a new one starts only once it has returned.
        self._running: Future[ModelOutputs] | None = None
        #: Copies dropped (queue full, or the shadow still busy) and shadow failures.
        self.dropped = 0
        self.failed = 0

    def offer(
        self,
        served: ModelVersion,
        payload: Payload,
        probabilities: bool,
        request_id: str | None,
        client: str | None,
    ) -> None:
        """Queue a copy of a request ``served`` answered for the model's shadow version, if
        it has one (never blocks, never raises)."""
        rollout = self.registry.rollout(served.name)
        if rollout.shadow is None or self.log_to is None:
            return
        rate = rollout.shadow_sample_rate
        if rate < 1.0 and random.random() >= rate:  # noqa: S311  sampling, not a secret
            return
        try:
            version = self.registry.resolve(served.name, rollout.shadow)
        except ModelportError:
            return  # the shadow's alias or version is gone: nothing to compare with
        if version.version == served.version:
            return
        if len(self._waiting) >= QUEUE_SIZE:
            self.dropped += 1
            return
        self._waiting.append(_Copy(version, payload, probabilities, request_id, client))
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._answer_copies())
        if self._wake is not None:
            self._wake.set()

    async def _answer_copies(self) -> None:
        while True:
            if self._wake is not None:
                await self._wake.wait()
                self._wake.clear()
            while self._waiting:
                copy = self._waiting.popleft()
                try:
                    await self._answer(copy)
                except Exception:  # a bug here must not stop the shadow for good
                    log.exception("shadow of model '%s' failed", copy.version.name)

    async def _answer(self, copy: _Copy) -> None:
        if self._running is not None and not self._running.done():
            self.dropped += 1  # the shadow still runs an earlier copy past its deadline
            return
        version = copy.version
        started = time.perf_counter()
        batch: Batch | None = None
        outputs: ModelOutputs | None = None
        status, error = "ok", None
        try:
            if version.signature is None or version.runtime is None:
                raise ModelportError(f"version {version.version} is not ready")
            batch = to_batch(copy.payload, version.signature)
            self._running = self._thread.submit(
                run_model,
                version.runtime,
                version.signature,
                batch,
                count_rows(copy.payload),
                copy.probabilities,
            )
            outputs = await asyncio.wait_for(asyncio.wrap_future(self._running), self.timeout_s)
        except TimeoutError:
            status, error = "timeout", f"the shadow did not answer within {self.timeout_s} s"
        except Exception as exc:  # noqa: BLE001  whatever the shadow raises is its row's error
            status, error = getattr(exc, "code", "error"), f"{type(exc).__name__}: {exc}"
        if error is not None:
            self.failed += 1
        if self.log_to is not None:
            self.log_to.record(
                version,
                copy.request_id,
                SHADOW_PROTOCOL,
                copy.client,
                batch,
                outputs,
                status,
                (time.perf_counter() - started) * 1000,
                copy.payload.text if type(copy.payload) is Rows else None,
                copy.payload if batch is None else None,
                error,
            )

    def close(self) -> None:
        """Stop answering copies (those waiting are dropped); a running call is left."""
        if self._task is not None:
            self._task.cancel()
        self._thread.shutdown(wait=False, cancel_futures=True)
