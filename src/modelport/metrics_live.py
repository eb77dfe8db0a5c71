"""One model's counters as JSON, for the browser UI's live charts.

The numbers are those ``GET /metrics`` serves (every worker's, summed), cumulative since
each worker started: the page polls them and charts the differences between polls, so the
server keeps no history of its own.
"""

from __future__ import annotations

import math
import time

from modelport.contracts import LiveNumbers
from modelport.metrics import Metrics

__all__ = ["live_numbers"]


def live_numbers(metrics: Metrics, model: str) -> LiveNumbers:
    """``model``'s predictions (ok and errors), latency histogram, rows per model call and
    cache lookups, summed over versions, protocols and workers."""
    numbers: LiveNumbers = {
        "model": model,
        "time": time.time(),
        "requests": {"ok": 0.0, "error": 0.0},
        "latency_buckets": [],
        "batch_rows": {"sum": 0.0, "count": 0.0},
        "cache": {"hit": 0.0, "miss": 0.0},
    }
    buckets: dict[float, float] = {}
    for family in metrics.current().collect():
        for sample in family.samples:
            if sample.labels.get("model") != model:
                continue
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "modelport_requests_total":
                outcome = "ok" if labels.get("status") == "ok" else "error"
                numbers["requests"][outcome] += value
            elif name == "modelport_request_duration_seconds_bucket":
                bound = float(labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + value
            elif name == "modelport_batch_rows_sum":
                numbers["batch_rows"]["sum"] += value
            elif name == "modelport_batch_rows_count":
                numbers["batch_rows"]["count"] += value
            elif name == "modelport_cache_lookups_total" and labels.get("result") in (
                "hit",
                "miss",
            ):
                numbers["cache"][labels["result"]] += value
    # Cumulative counts by upper bound in seconds; +Inf as null (JSON has no infinity).
    numbers["latency_buckets"] = [
        [None if math.isinf(bound) else bound, count] for bound, count in sorted(buckets.items())
    ]
    return numbers
