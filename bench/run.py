"""modelport benchmark: modelport against the servers a user would pick instead, same run.

Each server is pinned to one core (``taskset -c 0``) and ``wrk`` to the other (``-c 1``);
points are interleaved across servers (A B C A B C) and the table holds medians over the
repeats. README.md's benchmark section says how to read it. Usage::

    .venv/bin/python bench/run.py            # the full run (make bench)
    .venv/bin/python bench/run.py --quick    # about two minutes (make bench-quick)

Run ``bench/setup_env.py`` first (``make bench`` does): it installs wrk and the baselines.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import procs
from grpc_bench import GRPC_SERVERS, measure_grpc
from loadgen import Sample, run_wrk
from machine import describe, loadavg
from report import render
from servers import (
    BENCH_DIR,
    DEV_VENV,
    EVERY_RUNTIME_SPEC,
    SERVERS,
    WORKER_SPECS,
    Context,
    ServerSpec,
)
from workloads import WORKLOADS, Prepared, prepare, request_path

READY_TIMEOUT_S = 120.0
CHECK_TIMEOUT_S = 30.0
IDLE_TIMEOUT_S = 60.0
READY_ROUNDS = 20  # answers in a row that count as "every worker has every model"

FULL_POINTS: list[tuple[str, list[int]]] = [
    ("lr-1", [1, 16, 64]),
    ("rf-1", [1, 16, 64]),
    ("lr-1000", [1, 4]),
]
QUICK_POINTS: list[tuple[str, list[int]]] = [("lr-1", [1, 64]), ("rf-1", [64]), ("lr-1000", [4])]
WORKERS_POINT = ("lr-1", 64)
#: What a cold-start server (iris-lr alone) serves before its memory is read once more.
LR_LOAD_POINTS = [("lr-1", 64), ("lr-1000", 4)]


@dataclass
class Plan:
    """What to run, from the command line."""

    seconds: float
    repeats: int
    warmup_s: float
    cold_repeats: int
    points: list[tuple[str, list[int]]]
    servers: list[ServerSpec]
    workers: bool
    cold_start: bool
    grpc: bool
    server_cpus: str | None
    wrk_cpus: str | None
    modelport_args: tuple[str, ...]
    quick: bool


@dataclass
class Results:
    """Every measurement of the run; what results/<stamp>.json holds."""

    meta: dict[str, Any]
    servers: dict[str, str]  # key -> title
    errors: dict[str, str] = field(default_factory=dict)  # key -> why it was left out
    samples: list[dict[str, Any]] = field(default_factory=list)
    cold_start_s: dict[str, list[float]] = field(default_factory=dict)
    ready_rss_mb: dict[str, list[float]] = field(default_factory=dict)
    rss_after_load_mb: dict[str, float] = field(default_factory=dict)
    #: iris-lr alone (the cold-start servers), after that model's load points once.
    rss_after_lr_load_mb: dict[str, float] = field(default_factory=dict)
    all_ready_s: dict[str, list[float]] = field(default_factory=dict)  # /health/ready
    #: Workers runs: CPU seconds of the server tree and of wrk, and wall seconds, per run.
    cpu_s: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def add(
        self,
        server: str,
        workload: str,
        connections: int,
        repeat: int,
        s: Sample,
        server_cpu_s: float | None = None,
    ) -> None:
        per_request = (
            {"cpu_us_per_request": server_cpu_s * 1e6 / s.requests}
            if server_cpu_s is not None and s.requests
            else {}
        )
        self.samples.append(
            {
                "server": server,
                "workload": workload,
                "connections": connections,
                "repeat": repeat,
                **s.to_json(),
                **per_request,
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "servers": self.servers,
            "errors": self.errors,
            "samples": self.samples,
            "cold_start_s": self.cold_start_s,
            "ready_rss_mb": self.ready_rss_mb,
            "rss_after_load_mb": self.rss_after_load_mb,
            "rss_after_lr_load_mb": self.rss_after_lr_load_mb,
            "all_ready_s": self.all_ready_s,
            "cpu_s": self.cpu_s,
        }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Fleet:
    """The servers this harness started; stopping them is always by their own pid."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: dict[str, procs.Server] = {}

    def start(
        self, spec: ServerSpec, ctx: Context, models: Path, cpus: str | None, label: str
    ) -> procs.Server:
        port = procs.free_port()
        launch = spec.launch(ctx, models, port)
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        server = procs.start(label, launch, port, logs / f"{label}.log", cpus)
        self.running[label] = server
        return server

    def stop(self, label: str) -> None:
        server = self.running.pop(label, None)
        if server is not None:
            procs.stop(server)

    def stop_all(self) -> None:
        servers = list(self.running.values())
        self.running.clear()
        procs.stop(*servers)


def _ready_probe(spec: ServerSpec, prepared: Prepared) -> tuple[str, bytes]:
    workload = WORKLOADS["lr-1"]
    path = request_path(spec.protocol, workload.model)
    return path, prepared.bodies[spec.protocol, workload.key].read_bytes()


def measure_cold_starts(
    plan: Plan, fleet: Fleet, ctx: Context, prepared: Prepared, res: Results
) -> None:
    """Process start to first 200 prediction, with iris-lr alone (and every example for
    modelport); also the memory right then. One server at a time, interleaved."""
    runs: list[tuple[str, ServerSpec, Path]] = [
        (s.key, s, prepared.lr_models) for s in plan.servers
    ]
    if any(s.key == "modelport" for s in plan.servers):
        runs.append(("modelport@all", EVERY_RUNTIME_SPEC, prepared.all_models))
    for repeat in range(plan.cold_repeats):
        for key, spec, models in runs:
            if key in res.errors:
                continue
            label = f"cold-{key}-{repeat}".replace("@", "-")
            server = fleet.start(spec, ctx, models, plan.server_cpus, label)
            try:
                path, body = _ready_probe(spec, prepared)
                seconds = procs.wait_first_200(server, path, body, READY_TIMEOUT_S)
                if key.endswith("@all"):  # every model loaded, not just the first
                    ready = procs.wait_get_200(server, "/health/ready", READY_TIMEOUT_S)
                    res.all_ready_s.setdefault(key, []).append(ready)
                rss = procs.rss_mb(server.proc.pid)
                if repeat == plan.cold_repeats - 1 and not key.endswith("@all"):
                    after = _rss_after_lr_load(plan, spec, server, prepared)
                    res.rss_after_lr_load_mb[key] = after
                    log(f"{key}, iris-lr alone: {after:.0f} MB after its load points")
            except RuntimeError as exc:
                res.errors[key] = f"cold start failed: {exc}"
                log(f"cold start {key}: FAILED {exc}")
                continue
            finally:
                fleet.stop(label)
            res.cold_start_s.setdefault(key, []).append(seconds)
            res.ready_rss_mb.setdefault(key, []).append(rss)
            log(f"cold start {key}: {seconds:.2f} s, {rss:.0f} MB")


def _rss_after_lr_load(
    plan: Plan, spec: ServerSpec, server: procs.Server, prepared: Prepared
) -> float:
    """RSS of a server holding iris-lr alone after iris-lr's load points (c=64 single rows,
    then 1,000-row requests), once each: issue 8's memory target, one model, after load."""
    for workload, c in LR_LOAD_POINTS:
        if workload in spec.workloads:
            _wrk(spec, server, prepared, workload, c, plan.seconds, plan.wrk_cpus)
    return procs.rss_mb(server.proc.pid)


def check_answers(spec: ServerSpec, server: procs.Server, prepared: Prepared) -> str | None:
    """Every workload this server takes answers 200 and the right predictions, once."""
    for workload in sorted(spec.workloads):
        w = WORKLOADS[workload]
        url = server.base_url + request_path(spec.protocol, w.model)
        body = prepared.bodies[spec.protocol, workload].read_bytes()
        status, answer = procs.post(url, body, timeout=CHECK_TIMEOUT_S)
        problem = prepared.check(spec.protocol, workload, status, answer)
        if problem is not None:
            return f"{workload}: {problem}"
    return None


def start_checked(
    specs: list[ServerSpec],
    fleet: Fleet,
    ctx: Context,
    prepared: Prepared,
    res: Results,
    cpus: str | None,
) -> dict[str, procs.Server]:
    """Start each server (one after the other), wait until it answers, check its answers."""
    started: dict[str, procs.Server] = {}
    for spec in specs:
        if spec.key in res.errors:
            continue
        server = fleet.start(spec, ctx, prepared.bench_models, cpus, spec.key)
        probes = [
            (
                request_path(spec.protocol, WORKLOADS[w].model),
                prepared.bodies[spec.protocol, w].read_bytes(),
            )
            for w in sorted(spec.workloads)
        ]
        try:
            procs.wait_all_200(server, probes, READY_ROUNDS, READY_TIMEOUT_S)
            problem = check_answers(spec, server, prepared)
        except RuntimeError as exc:
            problem = str(exc)
        if problem is not None:
            res.errors[spec.key] = problem
            log(f"{spec.key}: left out: {problem}")
            fleet.stop(spec.key)
            continue
        if spec.after_start is not None:
            spec.after_start(server.base_url)
        log(f"{spec.key}: ready on port {server.port}, answers checked")
        started[spec.key] = server
    return started


def _wrk(
    spec: ServerSpec,
    server: procs.Server,
    prepared: Prepared,
    workload: str,
    c: int,
    secs: float,
    cpus: str | None,
) -> Sample:
    w = WORKLOADS[workload]
    url = server.base_url + request_path(spec.protocol, w.model)
    sample = run_wrk(url, prepared.bodies[spec.protocol, workload], c, secs, cpus)
    # Let the server finish what wrk left queued, so the next server gets the core free.
    waited = procs.wait_idle(server.proc.pid, IDLE_TIMEOUT_S)
    if waited >= IDLE_TIMEOUT_S:
        log(f"warning: {spec.key} still busy {IDLE_TIMEOUT_S:.0f} s after wrk stopped")
    return sample


def measure_load(plan: Plan, fleet: Fleet, ctx: Context, prepared: Prepared, res: Results) -> None:
    """All servers up at once (idle ones cost nothing); each point interleaves them."""
    started = start_checked(plan.servers, fleet, ctx, prepared, res, plan.server_cpus)
    specs = [s for s in plan.servers if s.key in started]
    if plan.warmup_s > 0:
        for spec in specs:
            for workload in sorted(spec.workloads):
                _wrk(spec, started[spec.key], prepared, workload, 16, plan.warmup_s, plan.wrk_cpus)
        log("warm-up done")
    for workload, concurrencies in plan.points:
        for c in concurrencies:
            for repeat in range(plan.repeats):
                for spec in specs:
                    if workload not in spec.workloads:
                        continue
                    pid = started[spec.key].proc.pid
                    ticks = procs.cpu_ticks(pid)
                    sample = _wrk(
                        spec, started[spec.key], prepared, workload, c, plan.seconds, plan.wrk_cpus
                    )
                    # The server's CPU per request: what a feature costs, which other
                    # load on the machine (taking the pinned core) does not move.
                    cpu_s = (procs.cpu_ticks(pid) - ticks) / os.sysconf("SC_CLK_TCK")
                    res.add(spec.key, workload, c, repeat, sample, cpu_s)
                    extra = f", {sample.non_2xx} non-2xx" if sample.non_2xx else ""
                    log(
                        f"{workload} c={c} #{repeat + 1} {spec.key}: {sample.rps:,.0f} req/s, "
                        f"p50 {sample.p50_ms:.2f} ms, p99 {sample.p99_ms:.2f} ms{extra}"
                    )
    for spec in specs:
        res.rss_after_load_mb[spec.key] = procs.rss_mb(started[spec.key].proc.pid)
    fleet.stop_all()


def measure_workers(
    plan: Plan, fleet: Fleet, ctx: Context, prepared: Prepared, res: Results
) -> None:
    """modelport with --workers 1 and 2, server and wrk unpinned (all cores)."""
    started = start_checked(WORKER_SPECS, fleet, ctx, prepared, res, None)
    specs = [s for s in WORKER_SPECS if s.key in started]
    workload, c = WORKERS_POINT
    if plan.warmup_s > 0:
        for spec in specs:
            _wrk(spec, started[spec.key], prepared, workload, c, plan.warmup_s, None)
    hz = os.sysconf("SC_CLK_TCK")
    for repeat in range(plan.repeats):
        for spec in specs:
            # CPU used meanwhile, by the server's processes and by wrk (the harness's child):
            # on two cores they share, how much of the machine each worker count got.
            server_before = procs.cpu_ticks(started[spec.key].proc.pid)
            wrk_before = _children_cpu_s()
            sample = _wrk(spec, started[spec.key], prepared, workload, c, plan.seconds, None)
            server_s = (procs.cpu_ticks(started[spec.key].proc.pid) - server_before) / hz
            res.add(spec.key, workload, c, repeat, sample)
            res.cpu_s.setdefault(spec.key, []).append(
                {"server": server_s, "wrk": _children_cpu_s() - wrk_before, "wall": sample.seconds}
            )
            log(
                f"{workload} c={c} #{repeat + 1} {spec.key} (unpinned): {sample.rps:,.0f} req/s; "
                f"server {server_s / sample.seconds:.2f} cores"
            )
    for spec in specs:
        res.rss_after_load_mb[spec.key] = procs.rss_mb(started[spec.key].proc.pid)
    fleet.stop_all()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_plan(args: argparse.Namespace) -> Plan:
    keys = {s.key for s in SERVERS}
    only = set(args.only.split(",")) if args.only else keys
    if unknown := only - keys:
        sys.exit(f"unknown server(s) {sorted(unknown)}; known: {sorted(keys)}")
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        server_cpus, wrk_cpus = str(cores[0]), str(cores[1])
    else:
        log("warning: one core only; the server and wrk share it")
        server_cpus = wrk_cpus = str(cores[0])
    quick = bool(args.quick)
    seconds = args.seconds if args.seconds is not None else (3.0 if quick else 10.0)
    repeats = args.repeats if args.repeats is not None else (1 if quick else 3)
    return Plan(
        seconds=seconds,
        repeats=repeats,
        warmup_s=0.0 if quick else 1.0,
        cold_repeats=repeats,
        points=QUICK_POINTS if quick else FULL_POINTS,
        servers=[s for s in SERVERS if s.key in only],
        workers=not args.no_workers and "modelport" in only,
        cold_start=not args.no_cold_start,
        grpc=not args.no_grpc and "modelport" in only and shutil.which("h2load") is not None,
        server_cpus=server_cpus,
        wrk_cpus=wrk_cpus,
        modelport_args=tuple(args.modelport_arg or ()),
        quick=quick,
    )


def _preflight(plan: Plan) -> None:
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    missing += [str(s.venv) for s in plan.servers if not (s.venv / "bin" / "python").exists()]
    if missing:
        sys.exit(f"missing: {', '.join(missing)}; run `make bench` (or bench/setup_env.py) first")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="modelport against its baselines, same run")
    parser.add_argument("--quick", action="store_true", help="the ~2-minute subset")
    parser.add_argument("--seconds", type=float, help="wrk duration per point (10; quick: 3)")
    parser.add_argument("--repeats", type=int, help="runs of each point (3; quick: 1)")
    parser.add_argument(
        "--only", help="comma-separated servers: " + ",".join(s.key for s in SERVERS)
    )
    parser.add_argument("--no-workers", action="store_true", help="skip --workers 2 vs 1")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the cold starts")
    parser.add_argument("--no-grpc", action="store_true", help="skip V2 gRPC vs MLServer's")
    parser.add_argument(
        "--modelport-arg", action="append", help="extra flag for modelport serve (repeatable)"
    )
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--keep-workdir", action="store_true", help="keep models, bodies, logs")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="exit 1 if a server was left out or any answer was not 2xx (targets not asserted)",
    )
    args = parser.parse_args(argv)
    plan = make_plan(args)
    _preflight(plan)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    fleet = Fleet(workdir)
    ctx = Context(workdir, plan.modelport_args)
    meta: dict[str, Any] = {
        "started_utc": stamp,
        "mode": "quick" if plan.quick else "full",
        "seconds_per_point": plan.seconds,
        "repeats": plan.repeats,
        "server_cpus": plan.server_cpus,
        "wrk_cpus": plan.wrk_cpus,
        "modelport_args": list(plan.modelport_args),
        "loadavg_start": loadavg(),
        "machine": describe([spec.venv for spec in [*SERVERS, EVERY_RUNTIME_SPEC]]),
    }
    titles = {s.key: s.title for s in [*plan.servers, *WORKER_SPECS, *GRPC_SERVERS]}
    res = Results(meta, titles)
    try:
        log(f"work dir {workdir}; training models")
        prepared = prepare(workdir, DEV_VENV / "bin" / "modelport")
        res.meta["all_models"] = sorted(p.name for p in prepared.all_models.iterdir())
        if plan.cold_start:
            measure_cold_starts(plan, fleet, ctx, prepared, res)
        measure_load(plan, fleet, ctx, prepared, res)
        if plan.workers:
            measure_workers(plan, fleet, ctx, prepared, res)
        if plan.grpc:
            measure_grpc(
                workdir,
                prepared.bench_models,
                plan.repeats,
                plan.seconds,
                (plan.server_cpus, plan.wrk_cpus),
                res.add,
                res.errors,
                log,
            )
    except KeyboardInterrupt:
        log("interrupted; stopping the servers")
        return 130
    finally:
        fleet.stop_all()
        if args.keep_workdir:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    res.meta["loadavg_end"] = loadavg()
    res.meta["wall_seconds"] = round(time.monotonic() - began, 1)
    table = render(res.to_json())
    print(table)
    write_results(args.results_dir, res.to_json(), table)
    log(f"wrote {args.results_dir}/latest.md and .json in {res.meta['wall_seconds']:.0f} s")
    if args.smoke:
        # Wrong statuses only: wrk counts its own timeouts as socket errors, and a busy CI
        # machine may see some.
        failed = sum(s["non_2xx"] for s in res.to_json()["samples"])
        if res.errors or failed:
            log(f"smoke: {len(res.errors)} server(s) left out, {failed} failed request(s)")
            return 1
    return 0


def write_results(folder: Path, results: dict[str, Any], table: str) -> None:
    """The run's table and samples as ``latest.md`` / ``latest.json``, and one line more in
    ``history.jsonl``: the same results, so every past run stays comparable without a
    file of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latest.md").write_text(table)
    (folder / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    with (folder / "history.jsonl").open("a") as history:
        history.write(json.dumps(results, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
