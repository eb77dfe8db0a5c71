"""The one core entry point for a prediction: resolve -> validate -> run off-loop -> encode.

Every protocol module calls :meth:`InferenceService.predict` with a decoded payload; none
of them touches a runtime directly. Model calls run in a bounded thread pool (one model
holding at most all threads but one: slots.py, for calls that hang), joined into
batches per model version (batching.py) unless batching is off, and are abandoned (the
client gets 504) when they run past ``request_timeout``. When the model caches, a
repeated input is answered from the response cache (cache.py); every answered or failed
prediction of a served version goes to the prediction log (predlog.py), off the path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from modelport import accesslog
from modelport.batching import BatchPolicy
from modelport.batchqueues import BatchQueues
from modelport.cache import ServingCache
from modelport.config import Settings
from modelport.errors import ModelportError, QueueFullError
from modelport.inputs import to_batch
from modelport.metrics import Metrics
from modelport.modelcall import (
    no_probabilities,
    not_ready,
    run_model_call,
    timed_model_call,
    timed_out,
)
from modelport.outputs import ModelOutputs
from modelport.payloads import Payload, Rows, count_rows
from modelport.predlog import PredictionLog
from modelport.registry import ModelRegistry, ModelVersion
from modelport.shadow import Activity, ShadowRunner
from modelport.slots import CallSlots
from modelport.switching import OverloadSwitch
from modelport.tracing import StepTimes, Tracing
from modelport.types import Batch

__all__ = ["InferenceService", "PredictRequest", "PredictResult"]

log = logging.getLogger(__name__)

#: The message of the cancellation that ends a model call at request_timeout.
_DEADLINE_PASSED = "modelport: request_timeout passed"


@dataclass(frozen=True, slots=True)
class PredictRequest:
    model: str
    payload: Payload
    #: A version number, 'latest', or None for the newest ready version.
    version: str | None = None
    probabilities: bool = False
    #: Who asked, for the prediction log; each protocol module fills these in.
    protocol: str = "other"
    request_id: str | None = None
    client: str | None = None
    #: Keeps a client on one side of a traffic split (the X-Modelport-Route-Key header).
    route_key: str | None = None


@dataclass(frozen=True, slots=True)
class PredictResult:
    model_name: str
    model_version: int
    outputs: ModelOutputs
    #: "hit" or "miss" when the model's response cache is on, else None.
    cache: str | None = None


class InferenceService:
    """Runs predictions for every protocol; owns the inference thread pool and batch queues."""

    def __init__(
        self,
        registry: ModelRegistry,
        threads: int,
        timeout_s: float,
        policy: BatchPolicy,
        batching: bool,
        cache: ServingCache | None = None,
        log: PredictionLog | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        route_key_parameter: str | None = None,
        switch_interval_s: float = 0.005,
    ) -> None:
        self.registry = registry
        #: The request parameter that, like the route-key header, makes a split sticky.
        self.route_key_parameter = route_key_parameter
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="modelport-infer")
        #: Copies of requests for a model's shadow version, answered off the request path.
        self.activity = Activity()
        self.shadow = ShadowRunner(registry, log, timeout_s, self.activity)
        #: The threads each model holds: one model's hung calls leave one to the others.
        self._slots = CallSlots(threads, policy.max_wait_s)
        #: The batching queue of each model version that batches.
        self.batches = BatchQueues(
            policy,
            batching,
            self._pool,
            self._slots,
            metrics is not None or tracing is not None,
            metrics,
        )
        #: Refusing requests (429) shortens the switch interval while it lasts.
        self.overload = OverloadSwitch(switch_interval_s)
        #: None means no response cache / no prediction log.
        self.cache = cache
        self.log = log
        self.metrics = metrics
        self.tracing = tracing
        if metrics is not None:
            # Read when the metrics are folded, not set at every enqueue: the gauge is a
            # sample either way, and this keeps two calls a request off the hot path.
            metrics.watch_queue_depths(self.batches.depths)
            metrics.shadow.watch(lambda: self.shadow.outcomes)

    @classmethod
    def from_settings(
        cls,
        registry: ModelRegistry,
        settings: Settings,
        cache: ServingCache | None = None,
        log: PredictionLog | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> InferenceService:
        policy = BatchPolicy(
            settings.max_batch_size,
            settings.max_latency_ms / 1000,
            settings.max_queue_size,
            settings.max_queue_wait_ms / 1000,
        )
        return cls(
            registry,
            settings.inference_threads,
            settings.request_timeout,
            policy,
            settings.batching,
            cache,
            log,
            metrics,
            tracing,
            settings.route_key_parameter,
            settings.switch_interval_ms / 1000,
        )

    async def predict(self, request: PredictRequest) -> PredictResult:
        started = time.perf_counter()
        activity = self.activity
        activity.arrived()
        served: ModelVersion | None = None
        try:
            served = self.registry.resolve(request.model, request.version, request.route_key)
            accesslog.note_prediction(
                served.name, served.version, request.protocol, count_rows(request.payload)
            )
            times = StepTimes() if self.tracing is not None else None
            try:
                result = await self._predict(served, request, started, times)
            finally:
                if times is not None:
                    self._trace(served, times)
            if request.version is None:  # a copy for the model's shadow, if it has one
                self.shadow.offer(
                    served,
                    request.payload,
                    request.probabilities,
                    request.request_id,
                    request.client,
                )
        except Exception as exc:
            if type(exc) is QueueFullError:
                self.overload.refused()
            if self.metrics is not None:
                code = exc.code if isinstance(exc, ModelportError) else "internal_error"
                # A name the registry does not serve is counted under "": never the
                # client's own text, which would let anyone add series.
                name, number = ("", None) if served is None else (served.name, served.version)
                self.metrics.request(
                    name, number, request.protocol, code, time.perf_counter() - started
                )
            raise
        finally:
            # BaseException too (a cancelled request): the shadow's idea of spare time.
            activity.answered()
        if self.metrics is not None:
            self.metrics.request(
                served.name,
                served.version,
                request.protocol,
                "ok",
                time.perf_counter() - started,
                None if self.tracing is None else self._trace_id(),
            )
        return result

    def _trace_id(self) -> str | None:
        info = accesslog.current()
        if self.tracing is None or info is None or info.span is None:
            return None
        return self.tracing.trace_id(info.span)

    def _trace(self, served: ModelVersion, times: StepTimes) -> None:
        info = accesslog.current()
        if self.tracing is not None and info is not None and info.span is not None:
            times.emit(self.tracing, info.span, served.name, served.version)

    async def _predict(
        self,
        served: ModelVersion,
        request: PredictRequest,
        started: float,
        times: StepTimes | None = None,
    ) -> PredictResult:
        if served.signature is None:  # a ready version always has one
            raise not_ready(served)
        if request.probabilities and not served.signature.has_proba:
            raise no_probabilities(served, request.protocol)
        cache = self.cache
        batch: Batch | None = None
        key: str | None = None
        cached: ModelOutputs | None = None
        try:
            batch = to_batch(request.payload, served.signature)
            if times is not None:
                times.mark("validated")
            if cache is not None:
                key = cache.key_for(served, batch, request.probabilities)
                if key is not None:
                    cached = await cache.lookup(key, served.name)
                    if times is not None:
                        times.mark("cache_end")
            outputs = (
                cached if cached is not None else await self._run(served, batch, request, times)
            )
            if cache is not None and key is not None and cached is None:
                cache.remember(key, outputs)
        except Exception as exc:
            # Failures of a served version are logged too (unknown models are not: they
            # would let anyone fill the log with made-up names).
            self._log_failure(request, served, batch, exc, started, times)
            raise
        self._log(request, served, batch, outputs, "ok", started, times)
        verdict = None if key is None else "miss" if cached is None else "hit"
        return PredictResult(served.name, served.version, outputs, verdict)

    def _log_failure(
        self,
        request: PredictRequest,
        served: ModelVersion,
        batch: Batch | None,
        exc: Exception,
        started: float,
        times: StepTimes | None,
    ) -> None:
        # A refusal (429) never reached the model, and logging it would cost an overloaded
        # server the time it needs to refuse: metrics and the access log count it.
        if type(exc) is QueueFullError:
            return
        if isinstance(exc, ModelportError):
            code, message = exc.code, exc.public
        else:  # the client was told only "internal error" and the request id
            code, message = "internal_error", f"{type(exc).__name__}: {exc}"
        self._log(request, served, batch, None, code, started, times, message)

    def _log(
        self,
        request: PredictRequest,
        served: ModelVersion,
        batch: Batch | None,
        outputs: ModelOutputs | None,
        status: str,
        started: float,
        times: StepTimes | None = None,
        error: str | None = None,
    ) -> None:
        if self.log is not None:
            if times is not None:
                times.mark("log_start")
            latency_ms = (time.perf_counter() - started) * 1000
            self.log.record(
                served,
                request.request_id,
                request.protocol,
                request.client,
                batch,
                outputs,
                status,
                latency_ms,
                request.payload.text if type(request.payload) is Rows else None,
                # A rejected input is logged as the client sent it, with the message.
                request.payload if batch is None and error is not None else None,
                error,
            )
            if times is not None:
                times.mark("log_end")

    async def _run(
        self,
        served: ModelVersion,
        batch: Batch,
        request: PredictRequest,
        times: StepTimes | None = None,
    ) -> ModelOutputs:
        rows = count_rows(request.payload)
        queue = self.batches.queue_for(served, rows)
        loop = asyncio.get_running_loop()
        start = loop.time()
        work = None
        if queue is not None:
            call = queue.enqueue(served, batch, rows, request.probabilities, times)
        else:
            if not self._slots.try_take(served.name):
                self._slots.refuse_if_late(served.name)
                await self._wait_for_thread(served, start)
            slots, pool, probabilities = self._slots, self._pool, request.probabilities
            if self.metrics is None and times is None:
                call, work = slots.submit(
                    served.name, pool, run_model_call, served, batch, rows, probabilities
                )
            else:
                call, work = slots.submit(
                    served.name,
                    pool,
                    timed_model_call,
                    *(served, batch, rows, probabilities, time.monotonic(), self.metrics, times),
                )
        # One timer that cancels the call's future, not asyncio.timeout: that wraps the
        # await in a Timeout object and task (un)cancel bookkeeping, which cost about
        # 6% of the event loop's time per single-row request (make bench-profile).
        deadline = loop.call_at(start + self.timeout_s, call.cancel, _DEADLINE_PASSED)
        try:
            return await call
        except asyncio.CancelledError as exc:
            if exc.args[:1] != (_DEADLINE_PASSED,):
                raise  # this task was cancelled (the client left, or shutdown)
            # The model call cannot be killed (it is a thread); it finishes in the
            # background and its result is dropped. Other requests keep being served.
            raise timed_out(served, self.timeout_s) from None
        finally:
            deadline.cancel()
            if work is not None:
                self._slots.release(served.name, work)

    async def _wait_for_thread(self, served: ModelVersion, start: float) -> None:
        """Wait (within the request's deadline) for one of the model's own calls to end:
        it holds every thread it may (its calls hang, or it has all the traffic)."""
        try:
            async with asyncio.timeout_at(start + self.timeout_s):
                await self._slots.take(served.name)
        except TimeoutError:
            raise timed_out(served, self.timeout_s) from None

    def close(self) -> None:
        self.overload.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.shadow.close()
