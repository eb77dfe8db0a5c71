"""make bench-ray: modelport on Ray Serve against --workers 2, same machine, same run.

Every server and wrk run inside a network namespace with only loopback (Ray binds its
agents to the machine's network address otherwise): one at a time, on the same port,
iris-lr single rows at c=16 and c=64. The Ray servers are ``--engine ray --replicas 2``
on a local Ray instance: with the HAProxy ingress modelport turns on for a local instance,
and with Ray Serve's Python proxy, as it comes and with ``RAY_SERVE_THROUGHPUT_OPTIMIZED=1``.
``--workers 2`` is measured before and after them, and its median is the baseline.
Writes bench/results/<stamp>-ray.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from loadgen import Sample, run_wrk

ROOT = Path(__file__).resolve().parent.parent
# The network-namespace helpers, shared with the Ray test.
sys.path.insert(0, str(ROOT / "tools"))
from netns import cmdline, namespace, pids, stop_all  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PORT = 8000
ROW = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
CONCURRENCIES = (16, 64)
#: (key, title, serve flags, extra environment)
SERVERS: list[tuple[str, str, list[str], dict[str, str]]] = [
    ("workers-2", "--workers 2 (uvicorn)", ["--workers", "2"], {}),
    (
        "ray",
        "--engine ray --replicas 2 (HAProxy ingress, the default)",
        ["--engine", "ray", "--replicas", "2"],
        {},
    ),
    (
        "ray-python-proxy",
        "the same, Ray's Python proxy (RAY_SERVE_ENABLE_HA_PROXY=0)",
        ["--engine", "ray", "--replicas", "2"],
        {"RAY_SERVE_ENABLE_HA_PROXY": "0"},
    ),
    (
        "ray-throughput",
        "the Python proxy with RAY_SERVE_THROUGHPUT_OPTIMIZED=1",
        ["--engine", "ray", "--replicas", "2"],
        {"RAY_SERVE_ENABLE_HA_PROXY": "0", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"},
    ),
]
READY_TIMEOUT_S = 180
#: Where the cores go, by kind of process (the first pattern found in its command line).
PROCESS_KINDS = (
    ("wrk", "wrk"),
    ("haproxy", "HAProxy"),
    ("ServeReplica", "replica"),
    ("ProxyActor", "Ray's Python proxy"),
    ("modelport serve", "modelport"),
    ("multiprocessing", "modelport"),
    ("raylet", "Ray's node processes"),
    ("gcs_server", "Ray's node processes"),
    ("ray", "Ray's node processes"),
)
#: CPU microseconds per request by kind, per server, at c=64 (filled by measure()).
CPU_PER_REQUEST: dict[str, dict[str, float]] = {}


def cpu_by_kind(name: str) -> dict[str, float]:
    """CPU seconds so far of every process in the namespace, summed by kind."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds: dict[str, float] = {}
    for pid in pids(name):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        line = cmdline(pid)
        kind = next((k for pattern, k in PROCESS_KINDS if pattern in line), "other")
        seconds[kind] = seconds.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def ready(name: str) -> bool:
    probe = (
        "import urllib.request,sys\n"
        f"r = urllib.request.urlopen('http://127.0.0.1:{PORT}/health/ready', timeout=5)\n"
        "sys.exit(0 if r.status == 200 else 1)"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", name, sys.executable, "-c", probe],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def measure(
    name: str, key: str, flags: list[str], env: dict[str, str], args: argparse.Namespace
) -> dict[int, list[Sample]]:
    workdir = Path(args.workdir)
    logfile = workdir / f"{key}.log"
    with logfile.open("a") as out:
        server = subprocess.Popen(
            ["ip", "netns", "exec", name, BIN / "modelport", "serve", workdir / "models",
             "--port", str(PORT), "--grpc-port", "0", "--admin-token", "bench", *flags],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready(name):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{key} did not start; see {logfile}")
            time.sleep(1)
        url = f"http://127.0.0.1:{PORT}/v1/models/iris-lr:predict"
        prefix = ["ip", "netns", "exec", name]
        run_wrk(url, workdir / "row.json", 16, args.warmup, None, prefix)
        samples: dict[int, list[Sample]] = {}
        for c in CONCURRENCIES:
            for repeat in range(args.repeats):
                before = cpu_by_kind(name)
                sample = run_wrk(url, workdir / "row.json", c, args.seconds, None, prefix)
                after = cpu_by_kind(name)
                samples.setdefault(c, []).append(sample)
                if c == max(CONCURRENCIES) and sample.requests:
                    # wrk's own CPU is not in the namespace's list once it has exited.
                    CPU_PER_REQUEST[key] = {
                        kind: (after[kind] - before.get(kind, 0.0)) / sample.requests * 1e6
                        for kind in after
                    }
                log(
                    f"{key} c={c} #{repeat + 1}: {sample.rps:,.0f} req/s, p50 "
                    f"{sample.p50_ms:.2f} ms, p99 {sample.p99_ms:.2f} ms, "
                    f"{sample.non_2xx + sample.socket_errors} errors"
                )
        return samples
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        stop_all(name)  # a local Ray instance that outlived its server


def report(results: dict[str, dict[int, list[Sample]]], args: argparse.Namespace) -> str:
    def med(key: str, c: int, field: str) -> float | None:
        runs = results.get(key, {}).get(c, [])
        return statistics.median(getattr(s, field) for s in runs) if runs else None

    titles = {key: title for key, title, _, _ in SERVERS}
    lines = [
        f"# modelport on Ray Serve, {time.strftime('%Y-%m-%dT%H-%M-%SZ', time.gmtime())}",
        "",
        f"- {os.cpu_count()} cores; every server alone on the machine with wrk (-t1), inside a "
        f"loopback-only network namespace; iris-lr, one row a request; {args.seconds:g} s "
        f"per point, {args.repeats} repeat(s), medians; `--workers 2` measured before and "
        "after the Ray servers.",
        f"- Load average at the end: {os.getloadavg()[0]:.2f}.",
        "",
        "| server | c=16 req/s | p50 ms | p99 ms | c=64 req/s | p50 ms | p99 ms | vs workers |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = med("workers-2", 64, "rps")
    for key in titles:
        if key not in results:
            continue
        cells = []
        for c in CONCURRENCIES:
            for field, fmt in (("rps", "{:,.0f}"), ("p50_ms", "{:.1f}"), ("p99_ms", "{:.1f}")):
                value = med(key, c, field)
                cells.append("—" if value is None else fmt.format(value))
        rps = med(key, 64, "rps")
        cells.append(f"{rps / base:.2f}x" if rps and base else "—")
        lines.append(f"| {titles[key]} | " + " | ".join(cells) + " |")
    errors = sum(
        s.non_2xx + s.socket_errors for r in results.values() for v in r.values() for s in v
    )
    lines += ["", f"Non-2xx answers and socket errors, all points: {errors}."]
    if CPU_PER_REQUEST:
        kinds = sorted({kind for cpu in CPU_PER_REQUEST.values() for kind in cpu})
        lines += [
            "",
            "Where the cores go at c=64: CPU microseconds per request, by kind of process "
            "(the last repeat; wrk itself not counted).",
            "",
            "| server | " + " | ".join(kinds) + " | all |",
            "| --- | " + " | ".join("---:" for _ in kinds) + " | ---: |",
        ]
        for key, cpu in CPU_PER_REQUEST.items():
            cells = [f"{cpu[k]:,.0f}" if k in cpu else "—" for k in kinds]
            lines.append(
                f"| {titles[key]} | " + " | ".join(cells) + f" | {sum(cpu.values()):,.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--only", help="comma-separated: " + ",".join(k for k, *_ in SERVERS))
    parser.add_argument("--results-dir", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-ray needs root: it runs everything in a network namespace (ip netns)")
    only = set(args.only.split(",")) if args.only else {k for k, *_ in SERVERS}
    from modelport.train_examples import train_examples

    with tempfile.TemporaryDirectory(prefix="modelport-bench-ray-") as workdir:
        args.workdir = workdir
        train_examples(Path(workdir) / "models", names=["iris-lr"])
        (Path(workdir) / "row.json").write_bytes(ROW)
        results: dict[str, dict[int, list[Sample]]] = {}
        order = [s for s in SERVERS if s[0] in only]
        if any(k == "workers-2" for k, *_ in order) and len(order) > 1:
            order.append(order[0])  # the baseline again, after the others
        with namespace("mp-bench") as name:
            for key, _, flags, env in order:
                try:
                    for c, samples in measure(name, key, flags, env, args).items():
                        results.setdefault(key, {}).setdefault(c, []).extend(samples)
                except (RuntimeError, urllib.error.URLError) as exc:
                    log(f"{key}: FAILED {exc}")
    text = report(results, args)
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime())
    (out / f"{stamp}-ray.md").write_text(text)
    raw: dict[str, Any] = {
        key: {str(c): [s.to_json() for s in samples] for c, samples in points.items()}
        for key, points in results.items()
    }
    (out / f"{stamp}-ray.json").write_text(json.dumps(raw, indent=1))
    print(text)
    log(f"wrote {out}/{stamp}-ray.md")


if __name__ == "__main__":
    main()
