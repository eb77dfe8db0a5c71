"""The metrics page: every Prometheus collector and every key of ``GET /v1/admin/stats``,
from the live objects."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

from modelport.cli.docs_ref.text import GENERATED, MissingDescriptionError, cell
from modelport.metrics import Metrics

__all__ = ["STATS_TEXT", "metrics_page", "stats_keys"]

#: What each key of GET /v1/admin/stats means (a key without text fails the generator).
STATS_TEXT: dict[str, str] = {
    "pid": "The process id of the worker that answered (each worker counts on its own).",
    "prediction_log": "The prediction log's state and counters; `null` if it is not set up.",
    "prediction_log.enabled": "Whether the server logs predictions (`log_predictions`).",
    "prediction_log.sample_rate": "The server's `log_sample_rate`.",
    "prediction_log.buffered": "Predictions waiting in memory to be written.",
    "prediction_log.buffered_rows": "Input rows those waiting predictions hold.",
    "prediction_log.capacity": "Most predictions the buffer holds (`log_buffer_size`).",
    "prediction_log.database_up": "Whether the last write reached the database.",
    "prediction_log.written": "Predictions written to the database.",
    "prediction_log.dropped": "Predictions given up because the buffer was full (the "
    "database slow or down): the oldest waiting one gives way to each new one.",
    "prediction_log.sampled_out": "Predictions left out by sampling (`log_sample_rate` or "
    "`model.yaml` `log.sample_rate`).",
    "prediction_log.write_failures": "Writes that failed (each is retried, unless the "
    "database refused the rows themselves).",
    "prediction_log.rejected": "Predictions the database refused outright (not an outage), "
    "so they could never be written.",
    "response_cache": "The response cache's backend and counters; `null` if it is not set up.",
    "response_cache.backend": "`memory` (in-process LRU, per worker) or `redis` (shared).",
    "response_cache.default_on": "Whether models cache unless their `model.yaml` says "
    "otherwise (the setting `cache`).",
    "response_cache.hits": "Answers served from the cache.",
    "response_cache.misses": "Lookups that found nothing (the model answered).",
    "response_cache.stored": "Answers put in the cache.",
    "response_cache.too_large": "Answers not stored because they were larger than "
    "`cache_max_entry_size`.",
    "response_cache.entries": "Entries in this worker's in-process cache (memory backend).",
    "response_cache.redis_failures": "Redis calls that failed or timed out (Redis backend); "
    "each was answered by the model instead.",
}

METRICS_INTRO = """\
# Metrics

## Prometheus: `GET /metrics`

Every server answers `GET /metrics` in Prometheus's text format (OpenMetrics when the
scraper asks for it with `Accept: application/openmetrics-text`). It is on by default
(`--no-metrics` turns it off) and guarded like predictions: open, unless `api_token` is
set, then the scraper sends that token. With `--workers N`, any worker's answer holds
every worker's counts: the workers share one folder of values (prometheus-client's
multiprocess mode, in a fresh temporary folder for each run). `--metrics-port PORT` moves
it to a port of its own (every worker answers there too, under the same access rule), so
that scrapers and API clients can be kept apart. [Reading the
counters](../how-to/metrics.md) shows what to alert on.

```bash
curl -s http://127.0.0.1:8000/metrics | grep '^modelport_requests_total'
```

Label values come from the server, never from a client's text: `model` and `version` are
those of a served model version (a request naming no served model counts under
`model=""`), `protocol` is one of `native`, `v2-rest`, `v2-grpc`, `mlflow`, `route` and
`other`, and `status` is `ok` or the error's code (`invalid_input`, `not_found`,
`timeout`, ... the same on every protocol). Unknown model names therefore add no series.
A single-worker server also answers the standard `process_*` (CPU, memory, open files)
and `python_*` series; with `--workers N`, `modelport_process_cpu_seconds_total`,
`modelport_process_resident_memory_bytes` and `modelport_process_open_fds` give each
worker's, labelled by `pid`.

Dashboards and autoscaling rules written for another server keep working with
`--metrics-compat triton,kserve` (either or both; off by default): `triton` adds Triton's
`nv_inference_request_success`, `nv_inference_request_failure` (by `reason`: the error
code), `nv_inference_count` (rows), `nv_inference_exec_count` (model calls),
`nv_inference_request_duration_us`, `nv_inference_queue_duration_us` and
`nv_inference_compute_infer_duration_us` (cumulative microseconds), by `model` and
`version`; `kserve` adds KServe's `request_predict_seconds` histogram by `model_name`.

| metric | type | labels | what |
| --- | --- | --- | --- |
"""

STATS_INTRO = """
## Counters as JSON: `GET /v1/admin/stats`

The prediction log's and the response cache's own counters, per worker process, as JSON
(a management endpoint: it needs the admin token). They are counted at the very places
that count `modelport_prediction_log_rows_total` and `modelport_cache_lookups_total`:
this worker's share of what `/metrics` sums.

```bash
curl -s http://127.0.0.1:8000/v1/admin/stats -H "Authorization: Bearer $(modelport admin-token)"
```

Counters start at zero when the worker starts. With `--workers N`, each request reaches
one worker: ask several times (the `pid` says which worker answered) or add them up per
`pid`.

| key | what |
| --- | --- |
"""


def stats_keys() -> list[str]:
    """Every key of a stats answer, dotted (``prediction_log.written``), in answer order."""
    from modelport.cache import ServingCache
    from modelport.config import Settings
    from modelport.db import make_engine
    from modelport.db.database import Database
    from modelport.predlog import PredictionLog

    keys = ["pid", "prediction_log"]
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/stats.db")
        try:
            settings = Settings(model_dir=Path(folder), data_dir=Path(folder))
            log = PredictionLog(Database(engine), settings)
            keys += [f"prediction_log.{key}" for key in log.describe()]
        finally:
            engine.dispose()
        keys.append("response_cache")
        memory = ServingCache.from_settings(settings).describe()
        redis = ServingCache.from_settings(
            settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
        ).describe()
    for key in [*memory, *(k for k in redis if k not in memory)]:
        keys.append(f"response_cache.{key}")
    return keys


def prometheus_rows() -> list[str]:
    """One table row per modelport collector, read from the collectors themselves."""
    metrics = Metrics()
    rows = []
    # The collectors themselves, and those of the groups that hold several (the
    # monitor's gauges, the shadow's and admission's counters).
    groups = [metrics.monitor, metrics.shadow, metrics.admission]
    collectors = [*vars(metrics).values(), *(c for group in groups for c in vars(group).values())]
    for collector in collectors:
        if not isinstance(collector, Counter | Gauge | Histogram):
            continue
        name = collector._name  # prometheus-client keeps no public accessor for these
        kind = collector._type
        shown = f"{name}_total" if kind == "counter" else name
        labels = ", ".join(f"`{label}`" for label in collector._labelnames) or "—"
        rows.append(f"| `{shown}` | {kind} | {labels} | {cell(collector._documentation)} |\n")
    return rows


def metrics_page() -> str:
    rows = []
    for key in stats_keys():
        text = STATS_TEXT.get(key)
        if text is None:
            raise MissingDescriptionError(f"stats key '{key}' has no text in STATS_TEXT")
        rows.append(f"| `{key}` | {cell(text)} |\n")
    return GENERATED + METRICS_INTRO + "".join(prometheus_rows()) + STATS_INTRO + "".join(rows)
