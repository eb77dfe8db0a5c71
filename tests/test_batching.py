"""Batching semantics through the real InferenceService and BatchQueue.

Never timed: a test holds the model's calls at a gate and waits for the calls it expects
to have started (EchoRuntime.started), so the order of events is the test's own."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from modelport.batching import BatchPolicy, BatchQueue, concat_batches
from modelport.errors import InvalidInputError, ModelNotReadyError, QueueFullError
from modelport.inference import InferenceService, PredictRequest
from modelport.outputs import ModelOutputs
from modelport.payloads import Rows
from modelport.registry import ModelRegistry, ModelVersion, ServedModel
from modelport.repository import BatchingConfig
from modelport.signature import ModelHints, build_signature
from modelport.types import Batch, NDArray

T = TypeVar("T")


class EchoRuntime:
    """Answers each row's first value times ``factor``; refuses rows whose value is -1;
    records the size of every call; can be held in the middle of a call (``gate``), and
    says when a call has started (``started``)."""

    kind = "test"

    def __init__(self, factor: float = 1.0) -> None:
        self.factor = factor
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self._began = 0
        self._began_change = threading.Condition()

    async def started(self, count: int) -> None:
        """Return once ``count`` calls have started (and reached the gate)."""

        def wait() -> bool:
            with self._began_change:
                return self._began_change.wait_for(lambda: self._began >= count, timeout=10)

        assert await asyncio.to_thread(wait), f"{count} model call(s) expected, {self._began} began"

    @property
    def hints(self) -> ModelHints:
        return ModelHints(n_features=1)

    def predict(self, batch: Batch) -> NDArray:
        with self._began_change:
            self._began += 1
            self._began_change.notify_all()
        self.gate.wait(10)
        rows = np.asarray(batch, dtype=float)
        self.calls.append(len(rows))
        if (rows[:, 0] == -1).any():
            raise ValueError("-1 is not allowed")
        return rows[:, 0] * self.factor

    def predict_proba(self, batch: Batch) -> NDArray:
        raise NotImplementedError


def served(runtime: EchoRuntime, version: int = 1, **batching: Any) -> ModelVersion:
    return ModelVersion(
        "echo",
        version,
        "ready",
        Path("echo.pkl"),
        runtime=runtime,
        signature=build_signature(runtime.hints),
        batching=BatchingConfig(**batching),
    )


def service_with(*versions: ModelVersion, batching: bool = True, **policy: Any) -> InferenceService:
    registry = ModelRegistry(Path("unused"))
    registry.put(ServedModel("echo", Path("unused"), versions={v.version: v for v in versions}))
    registry.complete_startup()
    limits = {"max_batch_size": 64, "max_latency_s": 0.002, "max_queue_size": 100, **policy}
    return InferenceService(registry, 4, 10.0, BatchPolicy(**limits), batching)


async def gather(*calls: Awaitable[T]) -> list[T | BaseException]:
    return await asyncio.gather(*calls, return_exceptions=True)


def predict(service: InferenceService, value: float, version: str | None = None) -> Any:
    return service.predict(PredictRequest("echo", Rows([[value]]), version))


def test_concurrent_requests_share_calls_and_get_their_own_rows_back() -> None:
    runtime = EchoRuntime()
    service = service_with(served(runtime))

    async def scenario() -> list[Any]:
        runtime.gate.clear()  # hold the first call so the others pile up behind it
        first = asyncio.ensure_future(predict(service, 0))
        await runtime.started(1)
        rest = [asyncio.ensure_future(predict(service, v)) for v in range(1, 50)]
        await runtime.started(2)  # the second call slot took what had piled up
        runtime.gate.set()
        return await gather(first, *rest)

    results = asyncio.run(scenario())
    assert [r.outputs.predictions for r in results] == [[float(v)] for v in range(50)]
    assert sum(runtime.calls) == 50
    assert len(runtime.calls) < 10  # joined into a few calls, not fifty


def test_multi_row_requests_are_split_back_in_order() -> None:
    runtime = EchoRuntime()
    service = service_with(served(runtime))

    async def scenario() -> list[Any]:
        runtime.gate.clear()
        calls = [
            service.predict(PredictRequest("echo", Rows([[i], [i + 0.5], [i + 0.25]])))
            for i in range(20)
        ]
        tasks = [asyncio.ensure_future(c) for c in calls]
        await runtime.started(1)
        runtime.gate.set()
        return await gather(*tasks)

    results = asyncio.run(scenario())
    for i, result in enumerate(results):
        assert result.outputs.predictions == [i, i + 0.5, i + 0.25]
    assert max(runtime.calls) > 3  # requests did share a call, so there was a split


def test_a_bad_row_fails_only_its_request() -> None:
    runtime = EchoRuntime()
    service = service_with(served(runtime))

    async def scenario() -> list[Any]:
        runtime.gate.clear()
        tasks = [asyncio.ensure_future(predict(service, v)) for v in (1, 2, -1, 4)]
        await runtime.started(1)
        runtime.gate.set()
        return await gather(*tasks)

    good1, good2, bad, good4 = asyncio.run(scenario())
    assert runtime.calls[0] == 4  # the four shared a call, which the -1 broke
    assert isinstance(bad, InvalidInputError)
    assert "-1 is not allowed" in bad.message
    assert [r.outputs.predictions for r in (good1, good2, good4)] == [[1.0], [2.0], [4.0]]


def test_full_queue_answers_queue_full_at_once() -> None:
    runtime = EchoRuntime()
    service = service_with(served(runtime), max_queue_size=3)

    async def scenario() -> list[Any]:
        runtime.gate.clear()  # a held call, then six requests at once: three fit the queue
        tasks = [asyncio.ensure_future(predict(service, v)) for v in range(2)]
        await runtime.started(1)
        tasks += [asyncio.ensure_future(predict(service, v)) for v in range(2, 8)]
        await runtime.started(2)  # the queued three went into the second call slot
        refused = [t.exception() for t in tasks if t.done()]
        runtime.gate.set()
        await gather(*tasks)
        return refused

    refused = asyncio.run(scenario())
    assert len(refused) == 3
    for error in refused:
        assert isinstance(error, QueueFullError)
        assert error.status_code == 429
        assert error.headers() == {"Retry-After": "1"}


def test_a_lone_request_is_not_held_for_company() -> None:
    runtime = EchoRuntime()
    # A huge max latency: if a lone request waited for it, the 5 s bound below would trip.
    service = service_with(served(runtime), max_latency_s=60.0)

    async def scenario() -> Any:
        return await asyncio.wait_for(predict(service, 3), 5)

    assert asyncio.run(scenario()).outputs.predictions == [3.0]
    assert runtime.calls == [1]


def test_versions_are_never_mixed_in_a_batch() -> None:
    one, two = EchoRuntime(factor=1), EchoRuntime(factor=100)
    service = service_with(served(one, 1), served(two, 2))

    async def scenario() -> list[Any]:
        one.gate.clear()
        two.gate.clear()
        tasks = [
            asyncio.ensure_future(predict(service, v, version=str(1 + v % 2))) for v in range(40)
        ]
        await one.started(1)
        await two.started(1)
        one.gate.set()
        two.gate.set()
        return await gather(*tasks)

    for v, result in enumerate(asyncio.run(scenario())):
        assert result.model_version == 1 + v % 2
        assert result.outputs.predictions == [v * (1 if v % 2 == 0 else 100)]
    assert sum(one.calls) == sum(two.calls) == 20


def test_hot_swap_keeps_each_answer_with_its_version() -> None:
    old, new = EchoRuntime(factor=1), EchoRuntime(factor=100)
    service = service_with(served(old, 1))

    async def scenario() -> list[Any]:
        old.gate.clear()
        before = [asyncio.ensure_future(predict(service, v)) for v in range(10)]
        await old.started(1)
        service.registry.put(
            ServedModel("echo", Path("unused"), versions={1: served(old, 1), 2: served(new, 2)})
        )
        after = await gather(*[predict(service, v) for v in range(10)])
        assert not any(task.done() for task in before)  # answered while the old call is held
        old.gate.set()
        return [*await gather(*before), *after]

    results = asyncio.run(scenario())
    for result in results[:10]:
        assert result.model_version == 1
    for v, result in enumerate(results[10:]):
        assert result.model_version == 2
        assert result.outputs.predictions == [v * 100.0]


def test_model_yaml_can_turn_batching_off_or_on() -> None:
    runtime = EchoRuntime()
    off = service_with(served(runtime, enabled=False))
    on = service_with(served(runtime, enabled=True), batching=False)

    assert off.batches.queue_for(off.registry.resolve("echo"), 1) is None
    assert on.batches.queue_for(on.registry.resolve("echo"), 1) is not None
    assert (
        service_with(served(runtime), batching=False).batches.queue_for(served(runtime), 1) is None
    )


def test_model_yaml_limits_override_the_server() -> None:
    service = service_with(served(EchoRuntime(), max_batch_size=8, max_latency_ms=0))
    queue = service.batches.queue_for(service.registry.resolve("echo"), 1)
    assert queue is not None
    assert queue.policy == BatchPolicy(8, 0.0, 100)


def test_a_request_that_fills_a_batch_alone_skips_the_queue() -> None:
    service = service_with(served(EchoRuntime(), max_batch_size=8))
    version = service.registry.resolve("echo")
    assert service.batches.queue_for(version, 7) is not None
    assert service.batches.queue_for(version, 8) is None
    assert service.batches.queue_for(version, 1000) is None


@pytest.mark.parametrize("batching", [True, False])
def test_timed_out_request_is_dropped_and_others_go_on(batching: bool) -> None:
    runtime = EchoRuntime()
    registry_service = service_with(served(runtime), batching=batching)
    registry_service.timeout_s = 0.05  # the gate holds the call for 10 s

    async def scenario() -> tuple[Any, Any]:
        runtime.gate.clear()
        stuck = await gather(predict(registry_service, 1))
        runtime.gate.set()
        return stuck[0], await predict(registry_service, 2)

    stuck, fine = asyncio.run(scenario())
    assert getattr(stuck, "status_code", None) == 504
    assert fine.outputs.predictions == [2.0]


def test_a_cancelled_caller_is_cancelled_not_timed_out_and_the_batch_goes_on() -> None:
    # The client left while its call ran: its task is cancelled. That must stay a
    # cancellation (not a 504), and the request queued behind it still gets its answer.
    runtime = EchoRuntime()
    service = service_with(served(runtime))

    async def scenario() -> tuple[BaseException | None, Any]:
        runtime.gate.clear()
        leaving = asyncio.ensure_future(predict(service, 1))
        staying = asyncio.ensure_future(predict(service, 2))
        await runtime.started(1)
        leaving.cancel()
        await asyncio.wait([leaving])  # gone while its call still runs
        runtime.gate.set()
        left = await gather(leaving)
        return left[0], await staying

    left, stayed = asyncio.run(scenario())
    assert isinstance(left, asyncio.CancelledError)
    assert stayed.outputs.predictions == [2.0]


def test_concat_batches_keeps_row_order() -> None:
    stacked = concat_batches([np.array([[1.0], [2.0]]), np.array([[3.0]])])
    assert stacked.tolist() == [[1.0], [2.0], [3.0]]
    pandas = pytest.importorskip("pandas")
    frames = [pandas.DataFrame({"a": [1]}), pandas.DataFrame({"a": [2, 3]})]
    assert concat_batches(frames)["a"].tolist() == [1, 2, 3]


def test_queue_runs_calls_in_threads_not_on_the_loop() -> None:
    seen: list[str] = []

    def run(context: None, batch: Batch, rows: int, probabilities: bool) -> ModelOutputs:
        seen.append(threading.current_thread().name)
        return ModelOutputs([0] * rows)

    async def scenario() -> ModelOutputs:
        with ThreadPoolExecutor(1, thread_name_prefix="pool") as pool:
            queue: BatchQueue[None] = BatchQueue("q", BatchPolicy(4, 0, 4), run, pool)
            return await queue.enqueue(None, np.zeros((2, 1)), 2, False)

    assert asyncio.run(scenario()).predictions == [0, 0]
    assert seen[0].startswith("pool")


@pytest.mark.parametrize("batching", [True, False])
def test_a_version_without_its_model_answers_not_ready(batching: bool) -> None:
    # A version whose runtime is gone (unloaded under the call) is a 503, not a crash.
    gone = dataclasses.replace(served(EchoRuntime()), runtime=None)
    service = service_with(gone, batching=batching)

    async def scenario() -> BaseException | Any:
        return (await gather(predict(service, 1)))[0]

    error = asyncio.run(scenario())
    assert isinstance(error, ModelNotReadyError), error
    assert error.status_code == 503
