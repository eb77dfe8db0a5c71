"""What the prediction log costs: modelport with logging on against logging off, same run.

Two servers over the same iris-lr model (SQLite in a folder of each, the default), each
pinned to one core (``taskset -c 0``) with ``wrk`` on the other; points alternate
(on off off on ...) so that drift on a shared machine falls on both alike. The table
holds medians over the repeats, and the verdict: throughput with logging on should be
at least 90% of throughput with it off. Afterwards the logged rows are counted in the
database: every answered request should be there. Usage::

    .venv/bin/python bench/log_overhead.py             # make bench-log (about 2 minutes)
    .venv/bin/python bench/log_overhead.py --quick     # about 40 seconds

Writes ``bench/results/log-overhead-<stamp>.json`` and ``.md``. Local addresses only.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import procs
from loadgen import Sample, run_wrk
from machine import describe, loadavg
from setup_env import ensure_wrk

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
MODELPORT = REPO_DIR / "bench" / ".venvs" / "modelport" / "bin" / "modelport"  # make bench-setup
BODY = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
PATH = "/v1/models/iris-lr:predict"
TARGET = 0.90
READY_TIMEOUT_S = 120.0
IDLE_TIMEOUT_S = 60.0
#: Time the log-on server gets to write its last rows before they are counted.
DRAIN_S = 10.0
HZ = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def start(label: str, work: Path, models: Path, logging_on: bool, cpus: str | None) -> procs.Server:
    data = work / label
    data.mkdir()
    port = procs.free_port()
    argv = [
        str(MODELPORT),
        "serve",
        str(models),
        *("--host", procs.HOST, "--port", str(port), "--grpc-port", "0"),
        *("--data-dir", str(data)),
        "--log-predictions" if logging_on else "--no-log-predictions",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    launch = procs.Launch(argv, env, data)
    server = procs.start(label, launch, port, work / f"{label}.log", cpus)
    procs.wait_first_200(server, PATH, json.dumps(BODY).encode(), READY_TIMEOUT_S)
    return server


def logged_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "modelport.db") as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM prediction_log").fetchone()
    return int(count)


def log_stats(server: procs.Server) -> dict[str, Any]:
    with urllib.request.urlopen(server.base_url + "/v1/admin/stats", timeout=10) as answer:
        stats: dict[str, Any] = json.loads(answer.read())["prediction_log"]
    return stats


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from modelport.train_examples import train_examples

    cores = sorted(os.sched_getaffinity(0))
    server_cpus, wrk_cpus = (str(cores[0]), str(cores[1])) if len(cores) > 1 else (None, None)
    results: dict[str, Any] = {
        "meta": {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": describe([MODELPORT.parent.parent]),
            "load_at_start": loadavg(),
            "seconds": args.seconds,
            "repeats": args.repeats,
            "connections": args.connections,
            "server_cpus": server_cpus,
            "wrk_cpus": wrk_cpus,
            "database": "SQLite (default), one file per server",
        },
        "samples": [],
    }
    with tempfile.TemporaryDirectory(prefix="modelport-bench-log-") as tmp:
        work = Path(tmp)
        models = work / "models"
        train_examples(models, names=["iris-lr"])
        body = work / "body.json"
        body.write_text(json.dumps(BODY))
        servers: dict[str, procs.Server] = {}
        try:
            for label, on in (("log-on", True), ("log-off", False)):
                servers[label] = start(label, work, models, on, server_cpus)
            answered = 0
            for c in args.connections:
                for label in servers:  # warm-up, not counted in the table
                    run_wrk(servers[label].base_url + PATH, body, c, 2, wrk_cpus)
                for repeat in range(args.repeats):
                    order = ["log-on", "log-off"] if repeat % 2 == 0 else ["log-off", "log-on"]
                    for label in order:
                        server = servers[label]
                        ticks = procs.cpu_ticks(server.proc.pid)
                        sample: Sample = run_wrk(
                            server.base_url + PATH, body, c, args.seconds, wrk_cpus
                        )
                        procs.wait_idle(server.proc.pid, IDLE_TIMEOUT_S)
                        # CPU time per answer (the log's writes included, once idle): less
                        # swayed than req/s by whatever else runs on a shared machine.
                        used = (procs.cpu_ticks(server.proc.pid) - ticks) / HZ
                        cpu_us = used / max(1, sample.requests) * 1e6
                        results["samples"].append(
                            {
                                "server": label,
                                "connections": c,
                                "repeat": repeat,
                                "cpu_us_per_request": cpu_us,
                                **sample.to_json(),
                            }
                        )
                        log(
                            f"c={c} #{repeat + 1} {label}: {sample.rps:,.0f} req/s, "
                            f"{cpu_us:.0f} us CPU per request"
                        )
            # Every request the log-on server answered (warm-up included) should be a row.
            time.sleep(1.0)
            deadline = time.monotonic() + DRAIN_S
            while log_stats(servers["log-on"])["buffered"] and time.monotonic() < deadline:
                time.sleep(0.2)
            stats = log_stats(servers["log-on"])
            rows = logged_rows(work / "log-on")
            answered = stats["written"] + stats["dropped"] + stats["buffered"]
            results["log"] = {"rows": rows, "stats": stats, "recorded": answered}
        finally:
            procs.stop(*servers.values())
    results["meta"]["load_at_end"] = loadavg()
    return results


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for c in sorted({s["connections"] for s in results["samples"]}):

        def median(label: str, key: str, c: int = c) -> float:
            values = [
                s[key] for s in results["samples"] if s["server"] == label and s["connections"] == c
            ]
            return float(statistics.median(values))

        on, off = median("log-on", "rps"), median("log-off", "rps")
        # Each repeat ran on and off back to back: the median of those pairs' ratios
        # cancels drift of the machine's load better than a ratio of two medians.
        pairs = {}
        for s in results["samples"]:
            if s["connections"] == c:
                pairs.setdefault(s["repeat"], {})[s["server"]] = s
        ratios = [p["log-on"]["rps"] / p["log-off"]["rps"] for p in pairs.values() if len(p) == 2]
        cpu_on, cpu_off = (
            median("log-on", "cpu_us_per_request"),
            median("log-off", "cpu_us_per_request"),
        )
        rows.append(
            {
                "connections": c,
                "rps_on": on,
                "rps_off": off,
                "ratio": float(statistics.median(ratios)) if ratios else 0.0,
                "pair_ratios": ratios,
                "cpu_on": cpu_on,
                "cpu_off": cpu_off,
                "p50_on": median("log-on", "p50_ms"),
                "p50_off": median("log-off", "p50_ms"),
                "p99_on": median("log-on", "p99_ms"),
                "p99_off": median("log-off", "p99_ms"),
                "errors": sum(
                    s["non_2xx"] + s["socket_errors"]
                    for s in results["samples"]
                    if s["connections"] == c
                ),
            }
        )
    return rows


def render(results: dict[str, Any], table: list[dict[str, Any]], stamp: str) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    verdict = all(row["ratio"] >= TARGET for row in table)
    lines = [
        f"# modelport prediction log overhead, {stamp}",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']}, "
        f"Python {machine['python']}; load average at start {meta['load_at_start'][0]:.2f}, "
        f"at end {meta['load_at_end'][0]:.2f}",
        f"- Servers pinned to CPU {meta['server_cpus']}, {machine['wrk']} (-t1) pinned to CPU "
        f"{meta['wrk_cpus']}; {meta['seconds']:g} s per point, {meta['repeats']} repeats, "
        "log on / off alternating; medians shown",
        f"- Workload: iris-lr, 1 row per request (native fast lane); database: {meta['database']}",
        "",
        "| connections | log on: req/s | log off: req/s | on / off (paired) "
        "| CPU µs per request on / off | p50 ms on / off | p99 ms on / off | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in table:
        lines.append(
            f"| {row['connections']} | {row['rps_on']:,.0f} | {row['rps_off']:,.0f} | "
            f"{row['ratio']:.1%} | {row['cpu_on']:.0f} / {row['cpu_off']:.0f} | "
            f"{row['p50_on']:.2f} / {row['p50_off']:.2f} | "
            f"{row['p99_on']:.2f} / {row['p99_off']:.2f} | {row['errors']} |"
        )
    logged = results["log"]
    lines += [
        "",
        f"- Log rows in the log-on server's database: {logged['rows']:,} of "
        f"{logged['recorded']:,} predictions recorded (buffered then: "
        f"{logged['stats']['buffered']}, dropped for a full buffer: "
        f"{logged['stats']['dropped']})",
        "- req/s are medians over the repeats; on / off is the median of each repeat's "
        "back-to-back pair; CPU per request counts the server process's user + system time "
        "(its log writes included) over the answers.",
        f"- Verdict: throughput with logging on is "
        f"{'at least' if verdict else 'BELOW'} {TARGET:.0%} of logging off at every point.",
    ]
    if meta["load_at_start"][0] > 0.5:
        lines.append(
            f"- Note: the machine was not idle at start (load average "
            f"{meta['load_at_start'][0]:.2f}); both columns share that noise (interleaved), "
            "the absolute numbers do not compare with other runs."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s points, 3 repeats, c=64")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--connections", type=lambda v: [int(x) for x in v.split(",")], default=None
    )
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (3.0 if args.quick else 4.0)
    args.repeats = args.repeats or (3 if args.quick else 7)
    args.connections = args.connections or ([64] if args.quick else [16, 64])
    ensure_wrk()
    results = measure(args)
    table = summarize(results)
    results["table"] = table
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    out = BENCH_DIR / "results" / f"log-overhead-{stamp}"
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    text = render(results, table, stamp)
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0 if all(row["ratio"] >= TARGET for row in table) else 1


if __name__ == "__main__":
    sys.exit(main())
