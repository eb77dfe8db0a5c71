"""Every Prometheus collector, defined once, and the one object the core records into.

The core calls :class:`Metrics` with plain values (a model's name, a version number, a
duration); ``api/metrics.py`` serves them as ``GET /metrics``. Label values come from the
model registry and from fixed sets, never from a client's raw text, so hostile traffic
cannot grow the number of series: a request that names no served model is counted under
``model=""``.

With ``--workers N`` the CLI gives every worker one ``PROMETHEUS_MULTIPROC_DIR`` before
they start, prometheus-client's multiprocess mode: each worker writes its values to files
there and a scrape of any worker sums them (gauges as each one's ``multiprocess_mode``
says). Without it, each :class:`Metrics` has a registry of its own (tests build many
servers in one process).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from modelport import __version__
from modelport.metrics_admission import AdmissionSeries
from modelport.metrics_compat import TritonSeries
from modelport.metrics_monitor import MonitorGauges
from modelport.metrics_pending import Folder, Pending, observe_many
from modelport.metrics_shadow import ShadowSeries
from modelport.process_metrics import WorkerProcesses
from modelport.served import ServedModel

__all__ = ["LATENCY_BUCKETS", "PROTOCOLS", "ROWS_BUCKETS", "Metrics", "multiprocess_dir"]

#: Seconds, from 0.1 ms (a cached single row) to 10 s (a slow model's timeout).
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: Rows in one model call: single rows up to a large client batch.
ROWS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
#: The protocol label's values; any other caller counts as "other".
PROTOCOLS = frozenset({"native", "v2-rest", "v2-grpc", "mlflow", "route", "other"})

#: (model, protocol, version number or None, status) of one answered request.
_RequestKey = tuple[str, str, int | None, str]


def _text(version: int | None) -> str:
    return "" if version is None else str(version)


#: A model version's states, one gauge series each (1 for the current one).
STATES = ("ready", "failed")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The shared folder of prometheus-client's multiprocess mode, when it is on."""
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())


class Metrics:
    """The collectors of one server process, and cheap ways to record into them.

    Label children are looked up once per label tuple and kept: prometheus-client's own
    ``labels()`` validates and locks on every call, a measurable cost per request.
    """

    def __init__(self, compat: tuple[str, ...] = (), workers: int = 1) -> None:
        self.multiprocess = multiprocess_dir() is not None
        #: Several workers under one parent: a scrape reports each one's process.
        self.workers = workers
        # In multiprocess mode the values live in files, whatever registry holds the
        # collector; a scrape reads them through a MultiProcessCollector (render()).
        self.registry = CollectorRegistry(auto_describe=True)
        if not self.multiprocess:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        own = self.registry
        model_labels = ("model", "version")
        self.requests = Counter(
            "modelport_requests_total",
            "Predictions answered, by model, version, protocol and status: ok, or the error's "
            "code (invalid_input, not_found, timeout, ...; the same on every protocol).",
            (*model_labels, "protocol", "status"),
            registry=own,
        )
        self.request_seconds = Histogram(
            "modelport_request_duration_seconds",
            "Time from a decoded request to its answer (validation, queue, model call).",
            (*model_labels, "protocol"),
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.queue_seconds = Histogram(
            "modelport_queue_duration_seconds",
            "Time a request waited for a model call to start (batching queue, threads).",
            model_labels,
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.model_seconds = Histogram(
            "modelport_model_call_duration_seconds",
            "Time of one model call (one batch).",
            model_labels,
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.batch_rows = Histogram(
            "modelport_batch_rows",
            "Rows in one model call (a batch of one or more requests).",
            model_labels,
            buckets=ROWS_BUCKETS,
            registry=own,
        )
        self.queue_depth = Gauge(
            "modelport_queue_depth",
            "Requests waiting in a model version's batching queue.",
            model_labels,
            multiprocess_mode="livesum",
            registry=own,
        )
        self.cache_lookups = Counter(
            "modelport_cache_lookups_total",
            "Response cache lookups by result: hit or miss (a cache that does not answer "
            "counts as a miss).",
            ("model", "result"),
            registry=own,
        )
        self.log_rows = Counter(
            "modelport_prediction_log_rows_total",
            "Prediction log rows by outcome: written, dropped (the buffer was full) or "
            "rejected (the database refused them); rows sampled out are not counted.",
            ("outcome",),
            registry=own,
        )
        self.log_buffered = Gauge(
            "modelport_prediction_log_buffered_rows",
            "Prediction log rows waiting to be written.",
            multiprocess_mode="livesum",
            registry=own,
        )
        self.model_state = Gauge(
            "modelport_model_state",
            "1 for a model version's current state (ready or failed), else 0.",
            (*model_labels, "state"),
            multiprocess_mode="mostrecent",
            registry=own,
        )
        self.load_seconds = Gauge(
            "modelport_model_load_duration_seconds",
            "How long a model version took to load and warm up.",
            model_labels,
            multiprocess_mode="mostrecent",
            registry=own,
        )
        self.artifact_bytes = Gauge(
            "modelport_model_artifact_bytes",
            "Size of a model version's artifact file.",
            model_labels,
            multiprocess_mode="mostrecent",
            registry=own,
        )
        self.actions = Counter(
            "modelport_management_actions_total",
            "Management actions by kind (upload, alias.set, version.delete, reload, load, "
            "...) and outcome (ok, failed), as the audit trail records them.",
            ("action", "result"),
            registry=own,
        )
        self.build_info = Gauge(
            "modelport_build_info",
            "Always 1; the version label says which modelport answers.",
            ("version",),
            multiprocess_mode="max",
            registry=own,
        )
        self.build_info.labels(__version__).set(1)
        # Series that exist from the start, so a scrape always shows them (at 0).
        for outcome in ("written", "dropped", "rejected"):
            self.log_rows.labels(outcome)
        #: Other servers' names for the same numbers (metrics_compat), or None.
        self.triton = TritonSeries(own) if "triton" in compat else None
        #: What became of the copies of requests offered to shadow versions (shadow.py).
        self.shadow = ShadowSeries(own)
        self.admission = AdmissionSeries(own)
        #: Drift scores and statuses, set by the monitor (modelport.monitor.worker).
        self.monitor = MonitorGauges(own)
        self.kserve = (
            Histogram(
                "request_predict_seconds",
                "KServe's name: time of the model call that answered a request.",
                ("model_name",),
                buckets=LATENCY_BUCKETS,
                registry=own,
            )
            if "kserve" in compat
            else None
        )
        self._request_children: dict[_RequestKey, tuple[Any, Any]] = {}
        self._model_children: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self._lock = threading.Lock()
        self._published: dict[str, set[int]] = {}
        # The hot path's observations, folded in bulk (modelport.metrics_pending).
        self._requests: Pending[tuple[_RequestKey, float]] = Pending()
        self._calls: Pending[tuple[str, int, int, list[float], float]] = Pending()
        self._depth_source: Callable[[], Mapping[tuple[str, int], int]] | None = None
        #: Versions whose queue depth was shown: one whose queue went idle shows 0.
        self._depth_shown: set[tuple[str, str]] = set()
        self._folder = Folder(self.fold)

    def start(self) -> None:
        """Fold the observations in the background from now on (a server's start)."""
        self._folder.start()

    def close(self) -> None:
        """Fold what is left (a server's stop: other workers' scrapes still count it)."""
        self._folder.stop()

    # -- recording (the hot path) --------------------------------------------------------

    def request(
        self,
        model: str,
        version: int | None,
        protocol: str,
        status: str,
        s: float,
        trace_id: str | None = None,
    ) -> None:
        """One prediction answered (``status`` "ok" or the error's code); ``model`` comes
        from the registry, or is "" for a request that named no served model. With a
        ``trace_id`` (tracing on), the duration carries it as an exemplar, so a slow bucket
        in a dashboard leads to the trace (OpenMetrics scrapes, one process)."""
        key = (model, protocol, version, status)  # made text when folded, off the hot path
        if trace_id is None or self.multiprocess:
            self._requests.append((key, s))
            return
        children = self._request_children.get(key) or self._request_series(key)
        children[0].inc()
        children[1].observe(s, {"trace_id": trace_id})
        if self.triton is not None and model:
            self.triton.request(model, _text(version), status, s)

    def _request_series(self, key: _RequestKey) -> tuple[Any, Any]:
        model, protocol, number, status = key
        version = _text(number)
        protocol = protocol if protocol in PROTOCOLS else "other"
        children = (
            self.requests.labels(model, version, protocol, status),
            self.request_seconds.labels(model, version, protocol),
        )
        self._request_children[key] = children
        return children

    def model_call(self, model: str, version: int, rows: int, waits: list[float], s: float) -> None:
        """One model call of ``rows`` rows that took ``s`` seconds, answering requests
        that waited ``waits`` seconds each for it to start. Called from any thread."""
        self._calls.append((model, version, rows, waits, s))

    def watch_queue_depths(self, source: Callable[[], Mapping[tuple[str, int], int]]) -> None:
        """``source()`` gives the requests waiting per (model, version); the queue depth
        gauge shows it as of the last fold."""
        self._depth_source = source

    def fold(self) -> None:
        """Move the observations recorded since the last fold into the collectors."""
        with self._lock:
            self._fold_requests(self._requests.drain())
            self._fold_calls(self._calls.drain())
            self._fold_depths()
            self.shadow.fold()
            self.admission.fold()

    def _fold_depths(self) -> None:
        if self._depth_source is None:
            return
        depths = {(m, str(v)): n for (m, v), n in self._depth_source().items()}
        for key in self._depth_shown - depths.keys():
            self.queue_depth.labels(*key).set(0)
        for key, depth in depths.items():
            self.queue_depth.labels(*key).set(depth)
        self._depth_shown = set(depths)

    def _fold_requests(self, requests: list[tuple[_RequestKey, float]]) -> None:
        grouped: dict[_RequestKey, list[float]] = {}
        for key, s in requests:
            grouped.setdefault(key, []).append(s)
        for key, durations in grouped.items():
            counter, histogram = self._request_children.get(key) or self._request_series(key)
            counter.inc(len(durations))
            observe_many(histogram, durations)
            if self.triton is not None and key[0]:
                for s in durations:
                    self.triton.request(key[0], _text(key[2]), key[3], s)

    def _fold_calls(self, calls: list[tuple[str, int, int, list[float], float]]) -> None:
        grouped: dict[tuple[str, str], tuple[list[float], list[float], list[float]]] = {}
        for model, version, rows, waits, s in calls:
            seconds, sizes, queued = grouped.setdefault((model, str(version)), ([], [], []))
            seconds.append(s)
            sizes.append(rows)
            queued.extend(waits)
            if self.triton is not None:
                self.triton.call(model, str(version), rows, waits, s)
            if self.kserve is not None:
                child = self.kserve.labels(model)
                for _ in waits:  # one observation per request the call answered
                    child.observe(s)
        for key, (seconds, sizes, queued) in grouped.items():
            children = self._model_children.get(key)
            if children is None:
                children = (
                    self.model_seconds.labels(*key),
                    self.batch_rows.labels(*key),
                    self.queue_seconds.labels(*key),
                )
                self._model_children[key] = children
            observe_many(children[0], seconds)
            observe_many(children[1], sizes)
            observe_many(children[2], queued)

    def cache_lookup(self, model: str, result: str) -> None:
        self.cache_lookups.labels(model, result).inc()

    def logged(self, written: int = 0, dropped: int = 0, rejected: int = 0) -> None:
        for outcome, count in (("written", written), ("dropped", dropped), ("rejected", rejected)):
            if count:
                self.log_rows.labels(outcome).inc(count)

    def publish(self, model: ServedModel | None, name: str) -> None:
        """Model ``name`` changed (loaded, reloaded, failed, removed): its versions' state,
        load time and artifact size now; a version gone keeps its series at 0."""
        versions = {} if model is None else model.versions
        for number in self._published.get(name, set()) - set(versions):
            for known in STATES:
                self.model_state.labels(name, str(number), known).set(0)
        for number, version in versions.items():
            labels = (name, str(number))
            for known in STATES:
                self.model_state.labels(*labels, known).set(1 if known == version.state else 0)
            if version.load_seconds is not None:
                self.load_seconds.labels(*labels).set(version.load_seconds)
            if version.artifact_size is not None:
                self.artifact_bytes.labels(*labels).set(version.artifact_size)
        self._published[name] = set(versions)

    def action(self, action: str, result: str) -> None:
        self.actions.labels(action, result).inc()

    # -- scraping ------------------------------------------------------------------------

    def current(self) -> CollectorRegistry:
        """Every value as of now (the observations folded in first); in multiprocess
        mode, every worker's values summed."""
        self.fold()
        if not self.multiprocess:
            return self.registry
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(WorkerProcesses(siblings=self.workers > 1))
        return registry

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition for a scrape: OpenMetrics when ``accept`` asks for it, else
        Prometheus text. In multiprocess mode, every worker's values summed."""
        registry = self.current()
        if accept and "application/openmetrics-text" in accept:
            return generate_openmetrics(registry), OPENMETRICS_TYPE  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
