"""``modelport_requests_refused_total``: requests a worker refused before reading them,
because it was already handling ``max_concurrent_requests``.

They name no model yet (the body is not read), so they are not in
``modelport_requests_total``, which counts predictions; a queue's refusals are
(``status="queue_full"``). Counted in a plain integer by admission and brought into the
counter when the metrics are folded: a refusal must stay as cheap as it can be.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

__all__ = ["AdmissionSeries"]


class AdmissionSeries:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.refused = Counter(
            "modelport_requests_refused_total",
            "Requests answered 429 before being read because the worker already handled "
            "max_concurrent_requests at once (refusals for a model's queue are counted in "
            "modelport_requests_total with status queue_full).",
            registry=registry,
        )
        self._source: Callable[[], int] | None = None
        self._shown = 0

    def watch(self, source: Callable[[], int]) -> None:
        """``source()`` gives the requests refused so far, since the start."""
        self._source = source

    def fold(self) -> None:
        if self._source is None:
            return
        count = self._source()
        if count > self._shown:
            self.refused.inc(count - self._shown)
            self._shown = count
