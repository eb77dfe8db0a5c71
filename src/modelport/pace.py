"""How fast a model's calls go lately: the wait that queued work means, and when to refuse.

A count of waiting requests says nothing about how long they will wait: 512 requests are
a millisecond of work for a linear model and five seconds for a model that spends 10 ms of
Python in each row. Under overload a count limit so lets every admitted request wait
seconds. Instead each model's queue keeps its recent pace (seconds of model call per row,
with the calls that run at once) and refuses a request, with 429 and Retry-After, when the
rows queued ahead of it would keep it waiting longer than its budget: ``max_queue_wait_ms``
or two of the model's own quick calls, whichever is longer. An admitted request then waits
about two calls at most, so its latency stays near what the model gives when it is not
overloaded, and the rest learn at once to come back later.

A model's pace outlives its idle spells, kept per model in a :class:`PaceBook`: the first
requests of a burst are judged by what the model did before. The budget is never below the
model's own two quickest recent calls: a model that takes half a second a call queues a
second and a third client instead of refusing them. Until a model's first call has
finished its pace is unknown and nothing is refused.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["CALLS", "Pace", "PaceBook"]

#: The calls the per-row estimate looks back on.
_RECENT = 8
#: The quickest call is taken over the last one or two periods of this many seconds, so
#: that it forgets a model that got slower (a reload) but not within one burst.
_PERIOD_S = 10.0
#: The budget in the model's own quickest calls: an admitted request waits about two
#: calls at most, then its own. One refused a closed-loop client's fourth connection to a
#: model that calls run at 10 ms, where its answers came in 40 ms.
CALLS = 2
#: Paces kept at most; past it the book starts afresh (models come and go by upload).
_MAX_KEPT = 4096


class Pace:
    """One model's recent call speed."""

    __slots__ = ("_min_before", "_min_now", "_per_row", "_period_end", "_recent", "floor_s")

    def __init__(self, floor_s: float) -> None:
        #: ``max_queue_wait_ms`` in seconds; 0 turns refusing off.
        self.floor_s = floor_s
        self._per_row = 0.0
        #: The last calls' seconds per row; the estimate is the least of them.
        self._recent: deque[float] = deque(maxlen=_RECENT)
        self._min_now = math.inf
        self._min_before = math.inf
        self._period_end = 0.0

    def record(self, rows: int, seconds: float, now: float) -> None:
        """One model call of ``rows`` rows took ``seconds``, timed in its thread (``now``:
        time.monotonic()). Called from the loop or, for unbatched calls, from the thread:
        each update is a few assignments under the interpreter lock, and a reader that
        sees the one before is as right as the estimate is."""
        # The least of the last few calls, not their average: one call stalled (the machine
        # busy elsewhere, a collection) says nothing of the queue, and refusing requests
        # for it would fail clients of a server that keeps up. A model slower for good
        # shows in every one of them.
        recent = self._recent
        recent.append(seconds / max(rows, 1))
        self._per_row = min(recent)
        if now >= self._period_end:
            self._min_before, self._min_now = self._min_now, math.inf
            self._period_end = now + _PERIOD_S
        self._min_now = min(self._min_now, seconds)

    def wait_s(self, rows_ahead: int, parallel: int) -> float:
        """Seconds the rows queued ahead of a request will take, ``parallel`` calls at a
        time (the per-row time of a call already counts the others running beside it)."""
        return rows_ahead * self._per_row / max(parallel, 1)

    def budget_s(self) -> float:
        quickest = min(self._min_now, self._min_before)
        return self.floor_s if quickest == math.inf else max(self.floor_s, CALLS * quickest)

    def rows_within(self, most: int) -> int:
        """The rows one call may take (at most ``most``, at least 1) so that it lasts no
        longer than the budget: a model that runs Python for each row would otherwise
        take every queued row into one call, and each of its requests would wait for
        all of them. A model whose rows cost little (a vectorised one) gets ``most``."""
        if self.floor_s <= 0 or self._per_row == 0.0:
            return most
        return max(1, min(most, int(self.budget_s() / self._per_row)))

    def too_long(self, rows_ahead: int, parallel: int) -> float | None:
        """The expected wait when it is past the budget (refuse), else None (admit)."""
        # No more waiting than can run at once: the request waits for one call at most.
        if self.floor_s <= 0 or rows_ahead <= parallel or self._per_row == 0.0:
            return None
        wait = self.wait_s(rows_ahead, parallel)
        return wait if wait > self.budget_s() else None


class PaceBook:
    """The paces of many models (or versions), made on first use; event loop only."""

    __slots__ = ("_paces", "floor_s")

    def __init__(self, floor_s: float) -> None:
        self.floor_s = floor_s
        self._paces: dict[object, Pace] = {}

    def of(self, key: object) -> Pace:
        pace = self._paces.get(key)
        if pace is None:
            if len(self._paces) >= _MAX_KEPT:
                self._paces.clear()
            pace = self._paces[key] = Pace(self.floor_s)
        return pace
