"""Triton's names for modelport's numbers (``metrics_compat = ["triton"]``), for the
dashboards and autoscaling rules written for Triton Inference Server."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

__all__ = ["TritonSeries"]


class TritonSeries:
    """Triton's names for the same numbers (``metrics_compat = ["triton"]``): cumulative
    counters, durations in microseconds, labelled ``model`` and ``version``, as the
    dashboards and autoscaling rules written for Triton read them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("model", "version")

        def counter(name: str, text: str, more: tuple[str, ...] = ()) -> Gauge:
            # Gauges that only go up: prometheus-client would add _total to a Counter's
            # name, and Triton's names have none. "sum" keeps every worker's count, as a
            # counter's would be kept.
            return Gauge(name, text, (*labels, *more), multiprocess_mode="sum", registry=registry)

        self.success = counter("nv_inference_request_success", "Successful requests.")
        self.failure = counter("nv_inference_request_failure", "Failed requests.", ("reason",))
        self.count = counter("nv_inference_count", "Inferences (rows) performed.")
        self.executions = counter("nv_inference_exec_count", "Model executions (batches).")
        self.request_us = counter(
            "nv_inference_request_duration_us", "Cumulative request duration, microseconds."
        )
        self.queue_us = counter(
            "nv_inference_queue_duration_us", "Cumulative queue duration, microseconds."
        )
        self.compute_us = counter(
            "nv_inference_compute_infer_duration_us",
            "Cumulative model call duration, microseconds.",
        )

    def request(self, model: str, version: str, status: str, s: float) -> None:
        if status == "ok":
            self.success.labels(model, version).inc()
        else:
            self.failure.labels(model, version, status).inc()
        self.request_us.labels(model, version).inc(s * 1e6)

    def call(self, model: str, version: str, rows: int, waits: list[float], s: float) -> None:
        self.executions.labels(model, version).inc()
        self.count.labels(model, version).inc(rows)
        self.queue_us.labels(model, version).inc(sum(waits) * 1e6)
        self.compute_us.labels(model, version).inc(s * 1e6 * len(waits))
