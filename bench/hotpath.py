"""Where one modelport worker's time goes under load: py-spy profiles of the hot paths.

Starts modelport (the bench venv's, as ``make bench`` runs it) pinned to one core with
iris-lr and the 100-tree forest, drives it with ``wrk`` pinned to the other core, and
samples it with ``py-spy record --gil``: only the thread that holds the GIL, which in a
one-core Python process is the work that bounds throughput. Workloads: iris-lr single
rows at c=64 and 1,000-row requests at c=4 (the two throughput targets of issue 8).

Writes ``bench/results/<stamp>-profile.md`` (and the raw collapsed stacks beside it,
for a flame graph): per workload the req/s while sampled, then the functions holding the
GIL most, inclusive and self, as shares of all samples. Usage::

    make bench-profile                      # 10 s per workload
    .venv/bin/python bench/hotpath.py --seconds 20 --rate 200
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import procs
from loadgen import Sample, run_wrk
from machine import describe, loadavg
from servers import BENCH_DIR, DEV_VENV, MODELPORT_VENV, VENVS
from workloads import WORKLOADS, prepare, request_path

PY_SPY = VENVS / "tools" / "bin" / "py-spy"
POINTS = (("lr-1", 64), ("lr-1000", 4))
READY_TIMEOUT_S = 120.0
TOP = 30
# py-spy frames read "function (path/to/file.py:line)"; shown without the venv prefix.
_SITE = re.compile(r"\(/\S*?/(?:site-packages|lib/python3\.\d+)/")
_LINE = re.compile(r":\d+\)$")
#: A frame in this share of the samples or more is the stack's base, not a finding.
BASE_SHARE = 0.95


def aggregate(raw: Path) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """(samples, inclusive counts, self counts) by function of a py-spy raw file; the
    frames under nearly every sample (the CLI, the event loop's run) are left out."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        # "f (path:line)" -> "f (path)": one row per function, its lines summed.
        frames = [_LINE.sub(")", _SITE.sub("(", frame)) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    below_base = [(f, n) for f, n in inclusive.most_common() if n < BASE_SHARE * total]
    return total, below_base, own.most_common(TOP)


def _table(title: str, rows: list[tuple[str, int]], total: int, limit: int) -> list[str]:
    lines = [f"| {title} | share of samples |", "| --- | ---: |"]
    for frame, n in rows[:limit]:
        lines.append(f"| `{frame.replace('|', '/')}` | {100 * n / total:.1f}% |")
    return lines


def profile_point(
    server: procs.Server, url: str, body: Path, c: int, args: argparse.Namespace, out: Path
) -> tuple[Sample, Path]:
    """wrk for seconds + 4 while py-spy samples ``seconds`` in the middle."""
    raw = out.with_suffix(".txt")
    spy = subprocess.Popen(
        [
            *("taskset", "-c", args.wrk_cpus),
            str(PY_SPY),
            "record",
            *("--pid", str(server.proc.pid)),
            *("--duration", str(args.seconds)),
            *("--rate", str(args.rate)),
            "--gil",
            *("--format", "raw"),
            *("--output", str(raw)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)
    sample = run_wrk(url, body, c, args.seconds + 2, args.wrk_cpus)
    _, err = spy.communicate(timeout=args.seconds + 60)
    if spy.returncode != 0 or not raw.exists():
        sys.exit(f"py-spy failed ({spy.returncode}): {err.decode(errors='replace')}")
    return sample, raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="sampled seconds per workload")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        sys.exit("bench profile: needs two cores (server on one, wrk and py-spy on the other)")
    args.server_cpus, args.wrk_cpus = str(cores[0]), str(cores[1])
    for needed in (PY_SPY, MODELPORT_VENV / "bin" / "modelport"):
        if not needed.exists():
            sys.exit(f"bench profile: {needed} is missing; run make bench-setup")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    machine = describe([MODELPORT_VENV])
    lines = [
        f"# Where modelport's time goes, {stamp}",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores; load average at start "
        f"{loadavg()[0]:.2f}",
        f"- `modelport serve` (bench venv, batching and prediction log on: the defaults) "
        f"pinned to CPU {args.server_cpus}; wrk and `py-spy record --gil --rate {args.rate}` "
        f"on CPU {args.wrk_cpus}; {args.seconds} s sampled per workload.",
        "- Shares are of the samples in which some thread held the GIL. The profiler "
        "itself slows the server, so the req/s here are below `make bench`'s.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="modelport-profile-") as tmp:
        work = Path(tmp)
        prepared = prepare(work, DEV_VENV / "bin" / "modelport")
        port = procs.free_port()
        launch = procs.Launch(
            [
                str(MODELPORT_VENV / "bin" / "modelport"),
                "serve",
                str(prepared.bench_models),
                *("--host", procs.HOST, "--port", str(port), "--grpc-port", "0"),
                *("--workers", "1"),
            ],
            {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")},
            work,
        )
        server = procs.start("profile", launch, port, work / "server.log", args.server_cpus)
        try:
            for key, c in POINTS:
                workload = WORKLOADS[key]
                path = request_path("native", workload.model)
                body = prepared.bodies["native", key]
                procs.wait_first_200(server, path, body.read_bytes(), READY_TIMEOUT_S)
                run_wrk(server.base_url + path, body, c, 3, args.wrk_cpus)  # warm-up
                out = args.results_dir / f"{stamp}-profile-{key}-c{c}"
                sample, raw = profile_point(server, server.base_url + path, body, c, args, out)
                total, inclusive, own = aggregate(raw)
                print(f"{workload.title} c={c}: {sample.rps:,.0f} req/s, {total} samples")
                lines += [
                    f"## {workload.title}, c={c}: {sample.rps:,.0f} req/s while sampled, "
                    f"p99 {sample.p99_ms:.1f} ms",
                    "",
                    f"{total} samples; raw stacks: `{raw.name}`.",
                    "",
                    *_table("inclusive (the function and what it calls)", inclusive, total, TOP),
                    "",
                    *_table("self (the function's own lines)", own, total, TOP // 2),
                    "",
                ]
        finally:
            procs.stop(server)
    report = args.results_dir / f"{stamp}-profile.md"
    report.write_text("\n".join(lines))
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
