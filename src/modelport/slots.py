"""How many inference threads one model may hold at once.

A model call cannot be stopped once its thread runs it: past ``request_timeout`` its
client gets 504 and the call runs on. A model whose calls hang would so take every thread
of the pool, and every other model's requests would wait behind it. Each model may hold
all threads but one; its further calls wait (within their own deadline) for one of its
own to finish, so the last thread always serves the other models. A call that would wait
longer than its model's queued work allows (pace.py) is refused instead, with 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from modelport.errors import QueueFullError
from modelport.pace import PaceBook

__all__ = ["CallSlots"]

R = TypeVar("R")


class CallSlots:
    """Threads held per model name; used from the event loop only."""

    def __init__(self, threads: int, max_wait_s: float = 0.0) -> None:
        #: With one thread there is none to keep back: the model may take it.
        self.limit = max(1, threads - 1)
        self._held: dict[str, int] = {}
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        #: The pace of each model's unbatched calls.
        self._paces = PaceBook(max_wait_s)

    def refuse_if_late(self, key: str) -> None:
        """Raise 429 when the calls of ``key`` already waiting would keep one more
        waiting past its budget (the per-row pace here is per call: one request each)."""
        wait = self._paces.of(key).too_long(len(self._waiting.get(key, ())) + 1, self.limit)
        if wait is not None:
            raise QueueFullError(
                f"model '{key}': the calls already running and waiting need about "
                f"{wait * 1000:.0f} ms more (setting max_queue_wait_ms); retry shortly"
            )

    def held(self, key: str) -> int:
        return self._held.get(key, 0)

    def try_take(self, key: str) -> bool:
        """Take a thread for ``key`` when it holds fewer than its share."""
        held = self._held.get(key, 0)
        if held >= self.limit:
            return False
        self._held[key] = held + 1
        return True

    async def take(self, key: str) -> None:
        """Take a thread for ``key``, waiting for one of its own calls to finish."""
        if self.try_take(key):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(waiter)
        try:
            await waiter  # a finished call hands its thread over: held stays the same
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give_back(key)  # handed over just as this caller gave up
            raise

    def give_back(self, key: str) -> None:
        """A call of ``key`` left its thread: the next waiter gets it, else it is free."""
        waiting = self._waiting.get(key)
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._waiting.pop(key, None)
        held = self._held.get(key, 0) - 1
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)

    def submit(
        self, key: str, executor: Executor, function: Callable[..., R], *args: Any
    ) -> tuple[asyncio.Future[R], Future[R]]:
        """Run ``function`` in ``executor`` on a thread already taken for ``key``: the
        awaitable, and the thread's own future to pass to :meth:`release`."""
        work = executor.submit(function, *args)
        if self._paces.floor_s > 0:
            # Timed where it ends, in its thread: the loop, busy with other requests,
            # would see it end later than it did.
            pace, submitted = self._paces.of(key), time.monotonic()

            def ended(_: Future[R]) -> None:
                now = time.monotonic()
                pace.record(1, now - submitted, now)

            work.add_done_callback(ended)
        return asyncio.wrap_future(work), work

    def release(self, key: str, work: Future[Any]) -> None:
        """After the awaitable of :meth:`submit` ended: give the thread back now when the
        call is over, else (abandoned at its deadline) when its thread is done with it."""
        if work.done():
            self.give_back(key)
            return
        loop = asyncio.get_running_loop()

        def done(_: Future[Any]) -> None:
            # The loop may have closed first (shutdown): then there is nothing to give back.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.give_back, key)

        work.add_done_callback(done)
