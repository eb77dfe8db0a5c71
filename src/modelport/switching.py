"""While a worker refuses requests, its event loop gets the interpreter back sooner.

Every request is accepted, read, refused or answered by one event loop thread, and a model
whose predict runs Python code holds the interpreter lock in its inference threads: each
time the loop wants the lock back it waits up to Python's switch interval (5 ms). At
ordinary load that costs nothing worth measuring; overloaded by such a model, it is what
made the loop so slow that requests waited tens of seconds to be refused at all, and
health checks went unanswered (measured: 3 of 8 answered). A short interval throughout
costs a fast model about a fifth of its throughput (each thread switch more often), so
the worker shortens it only while it is refusing requests: from the first refusal until
``HOLD_S`` pass without one, then the configured interval comes back.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time

__all__ = ["OVERLOADED_INTERVAL_S", "OverloadSwitch"]

log = logging.getLogger("modelport.inference")

#: The switch interval while refusing: measured to let the loop refuse at once at 4x
#: the sustainable rate of a model that burns 10 ms of Python per call.
OVERLOADED_INTERVAL_S = 0.0005
#: Seconds without a refusal before the normal interval comes back.
HOLD_S = 2.0


class OverloadSwitch:
    """Shortens the switch interval while requests are refused; event loop only."""

    def __init__(self, normal_s: float, hold_s: float = HOLD_S) -> None:
        self.normal_s = normal_s
        self.hold_s = hold_s
        self.overloaded_s = min(normal_s, OVERLOADED_INTERVAL_S)
        self._last_refusal = 0.0
        self._check: asyncio.TimerHandle | None = None

    @property
    def engaged(self) -> bool:
        return self._check is not None

    def refused(self) -> None:
        """A request was refused for want of capacity (429)."""
        self._last_refusal = time.monotonic()
        if self._check is not None or self.overloaded_s >= self.normal_s:
            return
        sys.setswitchinterval(self.overloaded_s)
        log.warning(
            "overloaded: refusing requests with 429; switch interval %.1f ms until %g s "
            "pass without a refusal",
            self.overloaded_s * 1000,
            self.hold_s,
        )
        self._check = asyncio.get_running_loop().call_later(self.hold_s, self._maybe_restore)

    def _maybe_restore(self) -> None:
        quiet = time.monotonic() - self._last_refusal
        loop = asyncio.get_running_loop()
        if quiet < self.hold_s:
            self._check = loop.call_later(self.hold_s - quiet, self._maybe_restore)
            return
        self._check = None
        sys.setswitchinterval(self.normal_s)
        log.info(
            "no longer refusing requests; switch interval back to %.1f ms", self.normal_s * 1000
        )

    def close(self) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
