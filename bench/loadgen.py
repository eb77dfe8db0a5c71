"""Drive load with ``wrk`` (one thread, C connections) and read back its JSON summary."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Sample", "run_wrk"]

LUA = Path(__file__).resolve().parent / "post.lua"
MARKER = "BENCH_JSON "


@dataclass(frozen=True)
class Sample:
    """One wrk run against one server at one point."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeouts

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_wrk(
    url: str,
    body: Path,
    connections: int,
    seconds: float,
    cpus: str | None,
    prefix: list[str] | None = None,
) -> Sample:
    """Run ``wrk -t1 -cC -dS --latency -s post.lua URL -- BODY`` (pinned unless cpus is None),
    after ``prefix`` (e.g. ``ip netns exec NAME``) when given."""
    duration = f"{max(1, round(seconds))}s"
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        str(body),
    ]
    if cpus is not None:
        argv = ["taskset", "-c", cpus, *argv]
    if prefix is not None:
        argv = [*prefix, *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    raw = json.loads(line[len(MARKER) :])
    secs = raw["duration_us"] / 1e6
    return Sample(
        requests=raw["requests"],
        seconds=secs,
        rps=raw["requests"] / secs if secs > 0 else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
        non_2xx=raw["non_2xx_3xx"],
        socket_errors=raw["connect_errors"]
        + raw["read_errors"]
        + raw["write_errors"]
        + raw["timeouts"],
    )
