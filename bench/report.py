"""Turn the run's measurements into one markdown table of medians, with modelport's
advantage over each baseline, followed by the issue's targets."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["render"]

WORKLOAD_ORDER = ["lr-1", "rf-1", "lr-1000"]
WORKLOAD_TITLES = {
    "lr-1": "iris-lr 1 row",
    "rf-1": "RandomForest 1 row",
    "lr-1000": "iris-lr 1,000 rows",
}
WORKER_KEYS = ("modelport-w1", "modelport-w2")
#: MLServer's columns: "MLServer best" in the targets is the best of them at each point.
MLSERVER_KEYS = ("mlserver", "mlserver-pw0", "mlserver-batch")
#: The V2 gRPC table's columns and rows (grpc_bench.py): modelport first, the reference.
GRPC_KEYS = ("modelport-grpc", "mlserver-grpc")
GRPC_WORKLOADS = {"grpc-lr-1": ("iris-lr 1 row", 1), "grpc-lr-1000": ("iris-lr 1,000 rows", 1000)}
DASH = "—"


@dataclass(frozen=True)
class Row:
    """One line of the table: a label and a value per server (None: not measured)."""

    label: str
    values: dict[str, float | None]
    higher_is_better: bool
    fmt: Callable[[float], str]
    #: (min, max) over the repeats, by server, where there was more than one.
    spreads: dict[str, tuple[float, float]] | None = None


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float) -> str:
    if value >= 10:
        return f"{value:.0f}x"
    if value >= 1:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


class Medians:
    """Median of each metric over the repeats of one (server, workload, connections)."""

    def __init__(self, samples: list[dict[str, Any]]) -> None:
        self.by_point: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for sample in samples:
            key = (sample["server"], sample["workload"], sample["connections"])
            self.by_point.setdefault(key, []).append(sample)

    def get(self, server: str, workload: str, c: int, metric: str) -> float | None:
        return _median(
            [s[metric] for s in self.by_point.get((server, workload, c), []) if metric in s]
        )

    def spread(
        self, server: str, workload: str, c: int, metric: str, scale: float = 1
    ) -> tuple[float, float] | None:
        """(min, max) of a metric over the repeats; None for fewer than two."""
        values = [s[metric] * scale for s in self.by_point.get((server, workload, c), [])]
        return (min(values), max(values)) if len(values) > 1 else None

    def concurrencies(self, workload: str) -> list[int]:
        return sorted(
            {c for (srv, w, c) in self.by_point if w == workload and srv not in WORKER_KEYS}
        )

    def total(self, server: str, metric: str) -> int:
        return sum(
            int(s[metric])
            for (srv, _, _), runs in self.by_point.items()
            if srv == server
            for s in runs
        )


def _rows(results: dict[str, Any], columns: list[str]) -> list[Row]:
    med = Medians(results["samples"])
    rows: list[Row] = []
    for workload in WORKLOAD_ORDER:
        cs = med.concurrencies(workload)
        if not cs:
            continue
        title = WORKLOAD_TITLES[workload]
        per_row = 1000 if workload == "lr-1000" else 1
        unit = "rows/s" if per_row > 1 else "req/s"
        for c in cs:
            values = {
                s: (v * per_row if (v := med.get(s, workload, c, "rps")) is not None else None)
                for s in columns
            }
            spreads = {
                s: spread
                for s in columns
                if (spread := med.spread(s, workload, c, "rps", per_row)) is not None
            }
            rows.append(Row(f"{title}, c={c}: {unit}", values, True, _num, spreads))
        if per_row == 1:
            if 1 in cs:
                values = {s: med.get(s, workload, 1, "p50_ms") for s in columns}
                rows.append(Row(f"{title}, c=1: p50 ms", values, False, _num))
            top = cs[-1]
            for pct in ("p50", "p99"):
                if top == 1 and pct == "p50":
                    continue
                values = {s: med.get(s, workload, top, f"{pct}_ms") for s in columns}
                rows.append(Row(f"{title}, c={top}: {pct} ms", values, False, _num))
            cpu = {s: med.get(s, workload, top, "cpu_us_per_request") for s in columns}
            if any(v is not None for v in cpu.values()):
                rows.append(Row(f"{title}, c={top}: server CPU µs per request", cpu, False, _num))
    cold, ready_rss = results["cold_start_s"], results["ready_rss_mb"]
    after = results["rss_after_load_mb"]
    if cold:
        rows.append(
            Row(
                "cold start to first 200, iris-lr alone: s",
                {s: _median(cold.get(s, [])) for s in columns},
                False,
                _num,
            )
        )
        rows.append(
            Row(
                "RSS when first ready, iris-lr alone: MB",
                {s: _median(ready_rss.get(s, [])) for s in columns},
                False,
                _num,
            )
        )
    lr_after = results.get("rss_after_lr_load_mb", {})
    if lr_after:
        rows.append(
            Row(
                "RSS after load, iris-lr alone: MB",
                {s: lr_after.get(s) for s in columns},
                False,
                _num,
            )
        )
    if after:
        rows.append(
            Row(
                "RSS after load (iris-lr + RF): MB", {s: after.get(s) for s in columns}, False, _num
            )
        )
    if "modelport@all" in cold:
        only = {s: None for s in columns}
        rows.append(
            Row(
                "cold start, every example + RF: s",
                {**only, "modelport": _median(cold["modelport@all"])},
                False,
                _num,
            )
        )
        all_ready = results.get("all_ready_s", {}).get("modelport@all", [])
        rows.append(
            Row(
                "every model loaded (/health/ready), every example + RF: s",
                {**only, "modelport": _median(all_ready)},
                False,
                _num,
            )
        )
        rows.append(
            Row(
                "RSS with every model loaded, every example + RF: MB",
                {**only, "modelport": _median(ready_rss["modelport@all"])},
                False,
                _num,
            )
        )
    return rows


def _cell(row: Row, server: str, reference: float | None) -> str:
    value = row.values.get(server)
    if value is None:
        return DASH
    text = row.fmt(value)
    spread = (row.spreads or {}).get(server)
    if spread is not None:
        text += f" [{row.fmt(spread[0])}–{row.fmt(spread[1])}]"
    if server == "modelport" or reference is None or value <= 0 or reference <= 0:
        return text
    advantage = reference / value if row.higher_is_better else value / reference
    return f"{text} ({_ratio(advantage)})"


def _table(results: dict[str, Any], columns: list[str]) -> list[str]:
    titles = results["servers"]
    med = Medians(results["samples"])
    lines = [
        "| measurement | " + " | ".join(titles[s] for s in columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for row in _rows(results, columns):
        reference = row.values.get("modelport")
        cells = [_cell(row, s, reference) for s in columns]
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    errors = [
        f"{med.total(s, 'non_2xx')} / {med.total(s, 'socket_errors')}"
        if any(k[0] == s for k in med.by_point)
        else DASH
        for s in columns
    ]
    lines.append("| non-2xx / socket errors, all points (wrk) | " + " | ".join(errors) + " |")
    workload = "lr-1"
    one, two = (med.get(k, workload, 64, "rps") for k in WORKER_KEYS)
    if one is not None or two is not None:
        blank = [DASH] * (len(columns) - 1)
        for key, value in zip(WORKER_KEYS, (one, two), strict=True):
            text = DASH if value is None else _num(value)
            if key == WORKER_KEYS[1] and value is not None and one:
                text += f" ({_ratio(value / one)} of 1 worker)"
            label = f"iris-lr 1 row, c=64, unpinned, {titles.get(key, key)}: req/s"
            lines.append(f"| {label} | {text} | " + " | ".join(blank) + " |")
        for key in WORKER_KEYS:
            use = _cpu_use(results, key)
            if use is None:
                continue
            server_cores, wrk_cores, per_core = use
            label = (
                f"the same, {titles.get(key, key)}: "
                "cores used by server / wrk; req/s per server core"
            )
            text = f"{server_cores:.2f} / {wrk_cores:.2f}; {_num(per_core)}"
            lines.append(f"| {label} | {text} | " + " | ".join(blank) + " |")
    return lines


def _cpu_use(results: dict[str, Any], key: str) -> tuple[float, float, float] | None:
    """Median (server cores, wrk cores, req/s per server core) of a workers run."""
    runs = results.get("cpu_s", {}).get(key)
    rps = [s["rps"] for s in results["samples"] if s["server"] == key]
    if not runs or len(rps) != len(runs):
        return None
    server = statistics.median(r["server"] / r["wall"] for r in runs)
    wrk = statistics.median(r["wrk"] / r["wall"] for r in runs)
    per_core = statistics.median(
        rate / (r["server"] / r["wall"]) for rate, r in zip(rps, runs, strict=True) if r["server"]
    )
    return server, wrk, per_core


def _targets(results: dict[str, Any]) -> list[str]:
    med = Medians(results["samples"])
    cold = results["cold_start_s"]

    def rps(server: str, workload: str, c: int) -> float | None:
        return med.get(server, workload, c, "rps")

    def check(label: str, value: float | None, goal: float, at_least: bool, unit: str) -> str:
        if value is None:
            return f"- {label}: not measured"
        met = value >= goal if at_least else value <= goal
        sign = "≥" if at_least else "≤"
        verdict = "met" if met else "NOT met"
        return f"- {label}: {_num(value)}{unit} (target {sign} {_num(goal)}{unit}): {verdict}"

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    def mlserver_best(workload: str, c: int) -> float | None:
        """The best of MLServer's settings at this point (defaults, parallel_workers 0,
        adaptive batching), so each target is against its best, not one setting."""
        found = [v for k in MLSERVER_KEYS if (v := rps(k, workload, c)) is not None]
        return max(found) if found else None

    mp = rps("modelport", "lr-1", 64)
    batch_c = max([c for c in med.concurrencies("lr-1000")] or [0])
    p50_on = med.get("modelport", "lr-1", 1, "p50_ms")
    p50_off = med.get("modelport-nobatch", "lr-1", 1, "p50_ms")
    cold_mp = _median(cold.get("modelport", []))
    return [
        check(
            "iris-lr c=64 vs MLServer best",
            ratio(mp, mlserver_best("lr-1", 64)),
            4,
            True,
            "x",
        ),
        check(
            "iris-lr c=64 vs Flask + gunicorn", ratio(mp, rps("flask", "lr-1", 64)), 3, True, "x"
        ),
        check("iris-lr c=64 p99", med.get("modelport", "lr-1", 64, "p99_ms"), 15, False, " ms"),
        check(
            "metrics and access log on (the default) vs both off, iris-lr c=64 (at most 5%)",
            ratio(mp, rps("modelport-bare", "lr-1", 64)),
            0.95,
            True,
            "x",
        ),
        check(
            "the same, as server CPU per request (both off / on: other load on the machine "
            "does not move it)",
            ratio(
                med.get("modelport-bare", "lr-1", 64, "cpu_us_per_request"),
                med.get("modelport", "lr-1", 64, "cpu_us_per_request"),
            ),
            0.95,
            True,
            "x",
        ),
        check(
            "monitoring on (the default) vs off, iris-lr c=64 (at most 3%)",
            ratio(mp, rps("modelport-nomonitor", "lr-1", 64)),
            0.97,
            True,
            "x",
        ),
        check(
            "a shadow that raises vs none, iris-lr c=64 req/s",
            ratio(rps("modelport-shadow-raises", "lr-1", 64), mp),
            0.95,
            True,
            "x",
        ),
        check(
            "a shadow that sleeps 2 s vs none, iris-lr c=64 req/s",
            ratio(rps("modelport-shadow-sleeps", "lr-1", 64), mp),
            0.95,
            True,
            "x",
        ),
        check(
            "metrics alone vs both off, iris-lr c=64",
            ratio(rps("modelport-nolog", "lr-1", 64), rps("modelport-bare", "lr-1", 64)),
            0.95,
            True,
            "x",
        ),
        check(
            "V2 REST single row c=64 vs the native body",
            ratio(rps("modelport-v2", "lr-1", 64), mp),
            0.9,
            True,
            "x",
        ),
        check(
            "V2 REST single row c=64 p99",
            med.get("modelport-v2", "lr-1", 64, "p99_ms"),
            15,
            False,
            " ms",
        ),
        check(
            "V2 REST single row c=64 vs MLServer best",
            ratio(rps("modelport-v2", "lr-1", 64), mlserver_best("lr-1", 64)),
            5,
            True,
            "x",
        ),
        check(
            "RandomForest c=64 vs batching off",
            ratio(rps("modelport", "rf-1", 64), rps("modelport-nobatch", "rf-1", 64)),
            10,
            True,
            "x",
        ),
        check(
            f"1,000-row rows/s vs MLServer best (c={batch_c})",
            ratio(rps("modelport", "lr-1000", batch_c), mlserver_best("lr-1000", batch_c)),
            2.5,
            True,
            "x",
        ),
        check(
            f"1,000-row rows/s, the same V2 body, vs MLServer best (c={batch_c})",
            ratio(rps("modelport-v2", "lr-1000", batch_c), mlserver_best("lr-1000", batch_c)),
            2.5,
            True,
            "x",
        ),
        check(
            "V2 gRPC single row c=64 vs MLServer's V2 gRPC",
            ratio(rps("modelport-grpc", "grpc-lr-1", 64), rps("mlserver-grpc", "grpc-lr-1", 64)),
            4,
            True,
            "x",
        ),
        check("cold start, iris-lr alone", cold_mp, 1, False, " s"),
        check(
            "RSS of one worker after load, iris-lr alone",
            results.get("rss_after_lr_load_mb", {}).get("modelport"),
            150,
            False,
            " MB",
        ),
        check(
            "2 workers vs 1 (unpinned, wrk on the same cores)",
            ratio(rps("modelport-w2", "lr-1", 64), rps("modelport-w1", "lr-1", 64)),
            1.7,
            True,
            "x",
        ),
        check(
            "batching's cost to a lone request's p50 (c=1)",
            None if p50_on is None or p50_off is None else p50_on - p50_off,
            1,
            False,
            " ms",
        ),
    ]


def _grpc_table(results: dict[str, Any]) -> list[str]:
    """modelport's V2 gRPC against MLServer's, from h2load; empty when not measured."""
    med = Medians(results["samples"])
    columns = [k for k in GRPC_KEYS if any(key[0] == k for key in med.by_point)]
    if not columns:
        return []
    titles = results["servers"]
    rows: list[Row] = []
    for workload, (title, per_row) in GRPC_WORKLOADS.items():
        cs = sorted({c for (srv, w, c) in med.by_point if w == workload})
        unit = "rows/s" if per_row > 1 else "req/s"
        for c in cs:
            rps = {k: med.get(k, workload, c, "rps") for k in columns}
            scaled = {k: None if v is None else v * per_row for k, v in rps.items()}
            rows.append(Row(f"{title}, c={c}: {unit}", scaled, True, _num))
            for pct in ("p50", "p99"):
                values = {k: med.get(k, workload, c, f"{pct}_ms") for k in columns}
                rows.append(Row(f"{title}, c={c}: {pct} ms", values, False, _num))
    lines = [
        "V2 gRPC (h2load -t1, one stream per connection, same pinning):",
        "",
        "| measurement | " + " | ".join(titles.get(k, k) for k in columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for row in rows:
        reference = row.values.get("modelport-grpc")
        cells = []
        for k in columns:
            value = row.values.get(k)
            text = DASH if value is None else row.fmt(value)
            if k != "modelport-grpc" and value and reference:
                advantage = reference / value if row.higher_is_better else value / reference
                text += f" ({_ratio(advantage)})"
            cells.append(text)
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    errors = [str(med.total(k, "non_2xx")) for k in columns]
    lines.append("| non-2xx answers, all points | " + " | ".join(errors) + " |")
    return [*lines, ""]


def render(results: dict[str, Any]) -> str:
    """The whole report as markdown: header, the table, how to read it, the targets."""
    meta = results["meta"]
    m = meta["machine"]
    columns = [s for s in results["servers"] if s not in (*WORKER_KEYS, *GRPC_KEYS)]
    versions = "; ".join(
        f"{venv}: " + ", ".join(f"{k} {v}" for k, v in sorted(dists.items()))
        for venv, dists in m["versions"].items()
    )
    load_start, load_end = meta["loadavg_start"], meta.get("loadavg_end", [])
    lines = [
        f"# modelport benchmark, {meta['started_utc']} ({meta['mode']})",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}; load average at start {load_start[0]:.2f}"
        + (f", at end {load_end[0]:.2f}" if load_end else ""),
        f"- Servers pinned to CPU {meta['server_cpus']}, {m['wrk']} (-t1) pinned to CPU "
        f"{meta['wrk_cpus']}; {meta['seconds_per_point']:g} s per point, "
        f"{meta['repeats']} repeat(s), servers interleaved per point; medians shown.",
        f"- Versions: {versions}",
    ]
    if meta.get("all_models"):
        lines.append(f"- Every example: {', '.join(meta['all_models'])}")
    if meta.get("modelport_args"):
        lines.append(f"- modelport serve extra flags: {' '.join(meta['modelport_args'])}")
    if m.get("openblas_env"):
        lines.append(f"- OpenBLAS environment: {m['openblas_env']}")
    if load_start[0] > 0.5:
        lines.append(
            "- **Warning: the machine was not idle at start (load average "
            f"{load_start[0]:.2f}); these numbers are not meaningful.**"
        )
    lines += ["", *_table(results, columns), ""]
    lines += _grpc_table(results)
    lines += [
        "How to read it: each cell is the median over the repeats; [min–max] after a",
        "throughput is its spread over the repeats, when there were several. In a baseline's",
        "column,",
        "(Nx) is modelport's advantage over that baseline: modelport / baseline for",
        "throughput, baseline / modelport for latency, start time and memory; above 1x means",
        "modelport is better. 1,000-row rows/s = requests/s x 1,000. RSS sums VmRSS of the",
        "server process and all its children (workers count in full). The ASGI hello answers",
        "without a model: it is the ceiling for any server on uvicorn.",
        "",
    ]
    if results["errors"]:
        lines.append("Left out:")
        lines += [f"- {key}: {why}" for key, why in results["errors"].items()]
        lines.append("")
    lines += ["Targets:", *_targets(results), ""]
    return "\n".join(lines)
