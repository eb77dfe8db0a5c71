"""Shadow predictions: a copy of a request answered by another version, off the request
path, for comparison only.

The real answer never waits for the shadow, and the shadow uses only spare time: a
request hands its payload over with ``offer`` (a sample of them, into a bounded queue)
and returns; a copy offered while other requests are being answered is dropped at once,
and a waiting copy starts only once no request has been answered or arrived for
``IDLE_S`` (so under load, copies are dropped, and counted, rather than slowing the
answers: a shadow's work holds the interpreter as the real requests' would). One task
answers the queue on the shadow's own thread, one copy at a time, so a shadow that is
slow, hangs or raises takes nothing from the inference threads. Both answers are written
to the prediction log with the request's id; the shadow's row has the protocol
``shadow``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from modelport.errors import ModelportError
from modelport.inputs import to_batch
from modelport.outputs import ModelOutputs, run_model
from modelport.payloads import Payload, Rows, count_rows
from modelport.predlog import PredictionLog
from modelport.registry import ModelRegistry
from modelport.served import ModelVersion
from modelport.types import Batch

__all__ = ["SHADOW_PROTOCOL", "Activity", "ShadowRunner"]

log = logging.getLogger(__name__)

#: The protocol of a shadow's rows in the prediction log.
SHADOW_PROTOCOL = "shadow"
#: Copies waiting for the shadow, at most, and their rows in all; more are dropped (and
#: counted). Copies wait for spare time, which a steady client may not leave until it
#: pauses: room for a burst of a thousand requests, and a bound on the memory they hold.
QUEUE_SIZE = 1024
QUEUE_ROWS = 100_000
#: A waiting copy starts once the server has been idle this long (no request arrived or
#: in flight): spare time, not a gap between two requests of a busy client.
IDLE_S = 0.002
#: While the server stays busy, the longest pause between two looks for spare time.
MAX_PAUSE_S = 0.05
#: A copy older than this is no longer worth answering (dropped).
STALE_S = 30.0


@dataclass(slots=True)
class Activity:
    """The predictions of this process: in flight now, and started so far (the shadow's
    measure of spare time). Updated on the event loop only."""

    in_flight: int = 0
    started: int = 0

    def arrived(self) -> None:
        self.started += 1
        self.in_flight += 1

    def answered(self) -> None:
        self.in_flight -= 1


@dataclass(frozen=True, slots=True)
class _Copy:
    version: ModelVersion
    payload: Payload
    rows: int
    probabilities: bool
    request_id: str | None
    client: str | None
    offered: float = field(default_factory=time.monotonic)


class ShadowRunner:
    """Answers copies of requests with a shadow version, one at a time, on its own thread."""

    def __init__(
        self,
        registry: ModelRegistry,
        log_to: PredictionLog | None,
        timeout_s: float,
        activity: Activity | None = None,
    ) -> None:
        self.registry = registry
        self.log_to = log_to
        self.timeout_s = timeout_s
        self.activity = activity if activity is not None else Activity()
        self._waiting: deque[_Copy] = deque()
        self._rows = 0  # rows of the copies waiting
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="modelport-shadow")
        #: The call on the shadow's thread; a new one starts only once it has returned.
        self._running: Future[ModelOutputs] | None = None
        #: Copies so far by (model, outcome): answered, failed, dropped (metrics_shadow).
        self.outcomes: Counter[tuple[str, str]] = Counter()

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
        if self.activity.in_flight > 1:  # this request and others: no spare time now
            self.outcomes[served.name, "dropped"] += 1
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
        rows = count_rows(payload)
        if len(self._waiting) >= QUEUE_SIZE or self._rows + rows > QUEUE_ROWS:
            self.outcomes[served.name, "dropped"] += 1
            return
        self._waiting.append(_Copy(version, payload, rows, probabilities, request_id, client))
        self._rows += rows
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
                await self._spare_time()
                copy = self._waiting.popleft()
                self._rows -= copy.rows
                if time.monotonic() - copy.offered > STALE_S:
                    self.outcomes[copy.version.name, "dropped"] += 1
                    continue
                try:
                    await self._answer(copy)
                except Exception:  # a bug here must not stop the shadow for good
                    log.exception("shadow of model '%s' failed", copy.version.name)

    async def _spare_time(self) -> None:
        """Return once no request has arrived or been in flight for ``IDLE_S``; while
        the server stays busy, look again after longer and longer pauses."""
        activity = self.activity
        pause = IDLE_S
        while True:
            seen = activity.started
            await asyncio.sleep(IDLE_S)
            if activity.in_flight == 0 and activity.started == seen:
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_S)

    async def _answer(self, copy: _Copy) -> None:
        if self._running is not None and not self._running.done():
            # The shadow still runs an earlier copy past its deadline.
            self.outcomes[copy.version.name, "dropped"] += 1
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
                copy.rows,
                copy.probabilities,
            )
            outputs = await asyncio.wait_for(asyncio.wrap_future(self._running), self.timeout_s)
        except TimeoutError:
            status, error = "timeout", f"the shadow did not answer within {self.timeout_s} s"
        except Exception as exc:  # noqa: BLE001  whatever the shadow raises is its row's error
            status, error = getattr(exc, "code", "error"), f"{type(exc).__name__}: {exc}"
        self.outcomes[version.name, "answered" if error is None else "failed"] += 1
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
