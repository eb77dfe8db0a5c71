"""``modelport_shadow_copies_total``: what became of the copies of requests offered to a
model's shadow version.

A copy is counted where it ends (answered, failed, dropped) in plain integers by the
shadow runner, and the counter is brought up to them when the metrics are folded: under
load nearly every offer is a drop, and an increment of a Prometheus child per request
would cost the hot path what the shadow is meant never to cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter

__all__ = ["OUTCOMES", "ShadowSeries"]

#: answered: the shadow gave an answer; failed: it raised or ran past request_timeout;
#: dropped: no spare time for it, its queue was full, or the shadow still ran a copy.
OUTCOMES = ("answered", "failed", "dropped")


class ShadowSeries:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.copies = Counter(
            "modelport_shadow_copies_total",
            "Copies of requests for a model's shadow version, by outcome: answered, failed "
            "(raised or ran past request_timeout) or dropped (no spare time: shadows use "
            "only the time no request is being answered; queue full; shadow still busy).",
            ("model", "outcome"),
            registry=registry,
        )
        self._source: Callable[[], Mapping[tuple[str, str], int]] | None = None
        self._shown: dict[tuple[str, str], int] = {}

    def watch(self, source: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        """``source()`` gives the copies so far per (model, outcome), since the start."""
        self._source = source

    def fold(self) -> None:
        if self._source is None:
            return
        for key, count in list(self._source().items()):
            added = count - self._shown.get(key, 0)
            if added > 0:
                self.copies.labels(*key).inc(added)
                self._shown[key] = count
