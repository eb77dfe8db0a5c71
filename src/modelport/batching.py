"""Adaptive micro-batching: concurrent requests for one model version share one model call.

The policy is "run as soon as the model is free": a lone request never waits for company,
and while one batch runs in a thread, the requests that arrive meanwhile queue up and go
together in the next call. Only when recent batches held several requests does the worker
wait, at most ``max_latency_ms`` after the oldest request, for about as many to join.

Each request has its own future; a failed batch is retried one request at a time so that
one request's bad values fail that request only. The queue is bounded twice, and past
either bound a request gets :class:`QueueFullError` (429, Retry-After) at once: by count
(``max_queue_size``) and by the time its waiting requests need (``max_queue_wait_ms``,
see pace.py).
"""

from __future__ import annotations

import asyncio
import time
from asyncio import FIRST_COMPLETED
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from modelport.errors import QueueFullError
from modelport.outputs import ModelOutputs
from modelport.pace import Pace
from modelport.slots import CallSlots
from modelport.types import Batch

__all__ = ["BatchPolicy", "BatchQueue", "concat_batches"]

T = TypeVar("T")
#: Model calls of one queue that may run at once. One would batch best, but then a single
#: hung call (which cannot be killed) would stall its model; two keep it answering.
_CONCURRENT_BATCHES = 2
#: Runs one model call (blocking, in a thread): (context, batch, rows, probabilities).
RunBatch = Callable[[T, Batch, int, bool], ModelOutputs]
#: Told of each model call made (in its thread): (context, rows, the requests' waits for
#: the call to start, the call's seconds, the requests' tags). For metrics and traces.
OnCall = Callable[[T, int, list[float], float, list[Any]], None]


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_batch_size: int
    max_latency_s: float
    max_queue_size: int
    #: ``max_queue_wait_ms`` in seconds: refuse a request whose queued work is longer.
    max_wait_s: float = 0.0


@dataclass(slots=True)
class _Item(Generic[T]):
    context: T
    batch: Batch
    rows: int
    probabilities: bool
    future: asyncio.Future[ModelOutputs]
    enqueued_at: float
    #: The caller's own object, handed back to on_call (a request's trace timings).
    tag: Any = None


class BatchQueue(Generic[T]):
    """The waiting requests of one model version and the task that feeds the model."""

    def __init__(
        self,
        label: str,
        policy: BatchPolicy,
        run: RunBatch[T],
        executor: Executor,
        on_idle: Callable[[BatchQueue[T]], None] | None = None,
        on_call: OnCall[T] | None = None,
        slots: tuple[CallSlots, str] | None = None,
        pace: Pace | None = None,
    ) -> None:
        self.label = label
        #: The threads the model may hold (shared with its unbatched calls), and its key.
        self._slots = slots
        self.policy = policy
        self._run = run
        self._on_call = on_call
        self._executor = executor
        self._on_idle = on_idle
        self._pending: deque[_Item[T]] = deque()
        #: The rows of the requests in _pending (cancelled ones until they are skipped).
        self._pending_rows = 0
        #: The model version's pace, kept by the caller beyond this queue's idle spells.
        self._pace = pace if pace is not None else Pace(policy.max_wait_s)
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        #: Model calls in flight (at most _CONCURRENT_BATCHES).
        self._running: set[asyncio.Task[None]] = set()
        #: Requests in the last batch: the sign of concurrency that makes waiting pay.
        self._recent = 1

    def enqueue(
        self, context: T, batch: Batch, rows: int, probabilities: bool, tag: Any = None
    ) -> asyncio.Future[ModelOutputs]:
        """Queue one request's rows; the future gets its share of a batched model call.

        Cancelling the future (a deadline, the client gone) takes the request out: the
        worker skips it, or drops its share of a call already running.
        """
        if len(self._pending) >= self.policy.max_queue_size:
            raise QueueFullError(
                f"{self.label}: {len(self._pending)} requests already waiting "
                "(setting max_queue_size); retry shortly"
            )
        if self._pending_rows:
            wait = self._pace.too_long(self._pending_rows, _CONCURRENT_BATCHES)
            if wait is not None:
                raise QueueFullError(
                    f"{self.label}: the requests already waiting need about "
                    f"{wait * 1000:.0f} ms of model time (setting max_queue_wait_ms); "
                    "retry shortly"
                )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ModelOutputs] = loop.create_future()
        self._pending.append(
            _Item(context, batch, rows, probabilities, future, time.monotonic(), tag)
        )
        self._pending_rows += rows
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work(), name=f"batch {self.label}")
        return future

    @property
    def depth(self) -> int:
        """Requests waiting (read by the metrics fold from another thread: len is atomic)."""
        return len(self._pending)

    async def _work(self) -> None:
        try:
            while self._pending:
                if len(self._running) >= _CONCURRENT_BATCHES:
                    await asyncio.wait(set(self._running), return_when=FIRST_COMPLETED)
                    continue
                limit = self._pace.rows_within(self.policy.max_batch_size)
                items = self._take(limit)
                if not items:
                    continue
                await self._gather_more(items, limit)
                self._recent = len(items)
                call = asyncio.create_task(self._execute(items))
                self._running.add(call)
                call.add_done_callback(self._finished)
        finally:
            if not self._pending and not self._running:
                self._idle()

    def _finished(self, call: asyncio.Task[None]) -> None:
        self._running.discard(call)
        if (
            not self._pending
            and not self._running
            and (self._worker is None or self._worker.done())
        ):
            self._idle()

    def _idle(self) -> None:
        if self._on_idle is not None:
            self._on_idle(self)

    def _take(self, max_rows: int, first: bool = True) -> list[_Item[T]]:
        taken: list[_Item[T]] = []
        rows = 0
        while self._pending:
            item = self._pending[0]
            if item.future.done():  # cancelled while waiting
                self._pending.popleft()
                self._pending_rows -= item.rows
                continue
            # A request bigger than the batch size goes alone: requests are never split.
            if (taken or not first) and rows + item.rows > max_rows:
                break
            self._pending.popleft()
            self._pending_rows -= item.rows
            taken.append(item)
            rows += item.rows
        return taken

    async def _gather_more(self, items: list[_Item[T]], limit: int) -> None:
        """Wait a little for company, but only when recent traffic says some is coming;
        at most ``limit`` rows."""
        policy = self.policy
        target = min(self._recent, limit)
        if policy.max_latency_s <= 0 or len(items) >= target:
            return
        deadline = items[0].enqueued_at + policy.max_latency_s
        rows = sum(item.rows for item in items)
        while len(items) < target and rows < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
            except TimeoutError:
                return
            more = self._take(limit - rows, first=False)
            items.extend(more)
            rows += sum(item.rows for item in more)

    async def _execute(self, items: list[_Item[T]]) -> None:
        if self._slots is None:
            await self._execute_on_thread(items)
            return
        slots, key = self._slots
        # The model's calls that hang hold its threads: this one waits for one of them
        # (its requests' deadlines still run), leaving the last thread to other models.
        await slots.take(key)
        try:
            await self._execute_on_thread(items)
        finally:
            slots.give_back(key)

    async def _execute_on_thread(self, items: list[_Item[T]]) -> None:
        live = [item for item in items if not item.future.done()]
        if not live:
            return
        loop = asyncio.get_running_loop()
        try:
            results, seconds = await loop.run_in_executor(self._executor, self._run_timed, live)
        except asyncio.CancelledError:  # shutting down
            for item in live:
                item.future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001  the pool refused the call (shut down)
            for item in live:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        self._pace.record(sum(item.rows for item in live), seconds, time.monotonic())
        for item, result in zip(live, results, strict=True):
            if item.future.done():
                continue
            if isinstance(result, BaseException):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    def _run_timed(self, items: Sequence[_Item[T]]) -> tuple[list[ModelOutputs | Exception], float]:
        """Blocking: :meth:`_run_all` and its seconds, timed in the thread: the loop's
        view would add the time the loop, busy with other requests, took to notice."""
        started = time.monotonic()
        results = self._run_all(items)
        return results, time.monotonic() - started

    def _run_all(self, items: Sequence[_Item[T]]) -> list[ModelOutputs | Exception]:
        """Blocking: one model call for every item, split back; alone on failure."""
        if len(items) == 1:
            return [self._run_one(items[0])]
        rows = sum(item.rows for item in items)
        probabilities = any(item.probabilities for item in items)
        try:
            combined = concat_batches([item.batch for item in items])
            outputs = self._call(items, combined, rows, probabilities)
        except Exception:  # noqa: BLE001  a model may raise anything
            # Someone's values broke the shared call: answer each request on its own so
            # that only the guilty one fails.
            return [self._run_one(item) for item in items]
        return _split(outputs, items)

    def _run_one(self, item: _Item[T]) -> ModelOutputs | Exception:
        try:
            return self._call([item], item.batch, item.rows, item.probabilities)
        except Exception as exc:  # noqa: BLE001  the waiter gets the model's own error
            return exc

    def _call(
        self, items: Sequence[_Item[T]], batch: Batch, rows: int, probabilities: bool
    ) -> ModelOutputs:
        started = time.monotonic()
        try:
            return self._run(items[0].context, batch, rows, probabilities)
        finally:
            if self._on_call is not None:
                waits = [started - item.enqueued_at for item in items]
                tags = [item.tag for item in items]
                self._on_call(items[0].context, rows, waits, time.monotonic() - started, tags)


def _split(outputs: ModelOutputs, items: Sequence[_Item[Any]]) -> list[ModelOutputs | Exception]:
    results: list[ModelOutputs | Exception] = []
    start = 0
    for item in items:
        end = start + item.rows
        probabilities = None
        if item.probabilities and outputs.probabilities is not None:
            probabilities = outputs.probabilities[start:end]
        results.append(ModelOutputs(outputs.predictions[start:end], probabilities))
        start = end
    return results


def concat_batches(batches: Sequence[Batch]) -> Batch:
    """Stack the rows of several requests' batches (arrays or DataFrames) in order."""
    if all(isinstance(batch, np.ndarray) for batch in batches):
        return np.concatenate(batches, axis=0)
    import pandas  # only DataFrame batches get here, so pandas is installed

    return pandas.concat(list(batches), ignore_index=True)
