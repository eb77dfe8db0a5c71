"""The monitor's gauges: each monitored feature's drift score and status, and each model
version's worst status. Only the worker that runs the monitor sets them ("mostrecent"
keeps its value in a multi-worker scrape)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Gauge

__all__ = ["MAX_FEATURES", "STATUS_VALUES", "MonitorGauges"]

#: Most features per model version that get series: a wide model must not flood the
#: scrape (the rest still show in GET /v1/models/{name}/monitor).
MAX_FEATURES = 50
STATUS_VALUES = {"ok": 0, "warn": 1, "alert": 2}


class MonitorGauges:
    """``modelport_feature_drift``, ``modelport_feature_drift_status`` and
    ``modelport_model_drift_status``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("model", "version", "feature")
        self.drift = Gauge(
            "modelport_feature_drift",
            "A monitored feature's drift score (PSI) against its reference; the output "
            'shows as feature="__output__".',
            labels,
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.status = Gauge(
            "modelport_feature_drift_status",
            "A monitored feature's status: 0 ok, 1 warn, 2 alert.",
            labels,
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.model_status = Gauge(
            "modelport_model_drift_status",
            "A model version's worst monitored status: 0 ok, 1 warn, 2 alert.",
            ("model", "version"),
            multiprocess_mode="mostrecent",
            registry=registry,
        )

    def show(
        self, model: str, version: int, status: str, features: Sequence[tuple[str, float, str]]
    ) -> None:
        """One report: (feature, score, status) of each feature, and the worst status."""
        number = str(version)
        self.model_status.labels(model, number).set(STATUS_VALUES[status])
        for feature, score, state in features[:MAX_FEATURES]:
            self.drift.labels(model, number, feature).set(score)
            self.status.labels(model, number, feature).set(STATUS_VALUES[state])
