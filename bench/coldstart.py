"""Cold start and memory of ``modelport serve`` with iris-lr alone (issue 8's targets).

For each variant (a ``src`` folder: this checkout by default, or an older one to compare
against) and each scenario, it starts ``modelport serve`` on a fresh copy of iris-lr,
polls a prediction until the first 200, and records the seconds since the process was
created and the resident memory (VmRSS summed over the process tree) at that moment and
again after some traffic. Runs are interleaved (A B A B ...) so that a busy machine
slows every variant alike; the table holds medians. A further run of each variant with
``PYTHONPROFILEIMPORTTIME=1`` (``python -X importtime``) gives where the import time
goes, by top-level package; and "floors" time bare ``python -c 'import X'`` for the
libraries the server cannot do without. Usage::

    .venv/bin/python bench/coldstart.py                      # this checkout, 5 runs
    .venv/bin/python bench/coldstart.py --runs 9 --variant before=/tmp/main/src
    .venv/bin/python bench/coldstart.py --variant now=src --variant arenas2=src,MALLOC_ARENA_MAX=2
    make bench-coldstart BENCH_ARGS="--runs 9"

Nothing is pinned unless ``--cpus`` says so; the header shows the load average.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import procs
from machine import loadavg

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENV_BIN = REPO_DIR / ".venv" / "bin"  # the development venv: trains the examples
#: modelport as installed for a scikit-learn model (`make bench-setup`): serves and floors
SERVE_BIN = BENCH_DIR / ".venvs" / "modelport" / "bin"
BODY = b'{"instances":[[5.1,3.5,1.4,0.2]]}'
PREDICT = "/v1/models/iris-lr:predict"
TIMEOUT_S = 120.0
#: Scenarios: (gRPC on, database file already migrated by an earlier start).
SCENARIOS: dict[str, tuple[bool, bool]] = {
    "grpc-off": (False, True),
    "grpc-on": (True, True),
    "grpc-off-new-db": (False, False),
}
#: Libraries an iris-lr-only server should not need; reported when a run imported them.
HEAVY = [
    "alembic",
    "mako",
    "grpc",
    "google",
    "pandas",
    "pyarrow",
    "jsonschema",
    "redis",
    "skops",
    "xgboost",
    "lightgbm",
    "onnxruntime",
    "onnx",
    "sqlalchemy",
    "fastapi",
    "scipy",
    "sklearn",
]
_LOAD = "import joblib, sys; joblib.load(sys.argv[1])"
#: (label, code) run as ``python -c code``: what the libraries cost on their own.
FLOORS: list[tuple[str, str]] = [
    ("python itself", "pass"),
    ("numpy", "import numpy"),
    ("joblib.load(iris-lr): scikit-learn + SciPy + pandas", _LOAD),
    ("the same with pandas hidden", "import sys; sys.modules['pandas'] = None\n" + _LOAD),
    ("fastapi + uvicorn + uvloop + httptools", "import fastapi, uvicorn, uvloop, httptools"),
    ("the same + joblib.load(iris-lr)", "import fastapi, uvicorn, uvloop, httptools\n" + _LOAD),
    ("pydantic-settings", "import pydantic_settings"),
    ("sqlalchemy (Core)", "import sqlalchemy"),
    ("alembic (command)", "import alembic.command"),
    ("grpc + grpc.aio", "import grpc, grpc.aio"),
    ("pandas", "import pandas"),
    ("modelport serve's imports, no model (this checkout)", "import modelport.cli, modelport.api"),
]


@dataclass(frozen=True)
class Variant:
    """What to run: modelport's sources at ``src``, with extra environment variables."""

    label: str
    src: Path
    env: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Variant:
        """``LABEL=SRC[,KEY=VALUE...]``."""
        label, _, rest = text.partition("=")
        src, *pairs = rest.split(",")
        env = dict(pair.split("=", 1) for pair in pairs)
        return cls(label, Path(src).resolve(), env)


@dataclass
class Run:
    seconds: float
    cpu_s: float  # user + system CPU of the process tree until the first 200
    rss_ready_mb: float
    rss_traffic_mb: float


@dataclass
class Results:
    runs: dict[str, list[Run]] = field(default_factory=dict)  # "<variant>/<scenario>"
    imports: dict[str, dict[str, float]] = field(default_factory=dict)  # variant -> pkg -> s
    heavy: dict[str, list[str]] = field(default_factory=dict)  # variant -> imported HEAVY
    floors: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # (s, MB)
    #: Floors whose code failed: a library the bench's modelport venv does not have.
    floors_missing: set[str] = field(default_factory=set)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


#: Not passed on: settings, other code on the path, and PYTHONDONTWRITEBYTECODE, which
#: would make every start compile modelport's sources again (an installed package has
#: its .pyc files; the unmeasured first start of each variant writes them here).
_DROPPED = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE"}


def _env(src: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment; a PYTHONPATH in ``extra`` goes after ``src``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MODELPORT_") and key not in _DROPPED
    }
    extra = dict(extra or {})
    path = os.pathsep.join([str(src), *filter(None, [extra.pop("PYTHONPATH", "")])])
    return {**env, "PYTHONPATH": path, **extra}


def _traffic(port: int, requests: int, threads: int) -> None:
    """``requests`` predictions spread over ``threads`` keep-alive connections."""

    def worker(count: int) -> None:
        connection = http.client.HTTPConnection(procs.HOST, port, timeout=30)
        try:
            for _ in range(count):
                connection.request("POST", PREDICT, BODY, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status} during traffic")
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(requests // threads,)) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def start_once(
    variant: Variant,
    models: Path,
    data_dir: Path,
    grpc: bool,
    log_path: Path,
    cpus: str | None,
    env_extra: dict[str, str] | None = None,
) -> procs.Server:
    port = procs.free_port()
    argv = [
        str(SERVE_BIN / "modelport"),
        "serve",
        str(models),
        "--host",
        procs.HOST,
        "--port",
        str(port),
        "--grpc-port",
        str(procs.free_port() if grpc else 0),
        "--data-dir",
        str(data_dir),
    ]
    launch = procs.Launch(argv, _env(variant.src, {**variant.env, **(env_extra or {})}), data_dir)
    return procs.start(log_path.stem, launch, port, log_path, cpus)


def measure(
    variant: Variant,
    models: Path,
    data_dir: Path,
    grpc: bool,
    workdir: Path,
    args: argparse.Namespace,
) -> Run:
    log_path = workdir / f"server-{time.monotonic_ns()}.log"
    server = start_once(variant, models, data_dir, grpc, log_path, args.cpus)
    try:
        seconds = procs.wait_first_200(server, PREDICT, BODY, TIMEOUT_S)
        # CPU time says what the start cost with less of the machine's load in it.
        cpu_s = procs.cpu_ticks(server.proc.pid) / os.sysconf("SC_CLK_TCK")
        rss_ready = procs.rss_mb(server.proc.pid)
        _traffic(server.port, args.requests, args.threads)
        rss_traffic = procs.rss_mb(server.proc.pid)
    finally:
        procs.stop(server)
    return Run(seconds, cpu_s, rss_ready, rss_traffic)


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)")


def parse_importtime(text: str) -> tuple[dict[str, float], set[str]]:
    """Self time (s) by top-level package, and every module imported, from -X importtime."""
    by_package: Counter[str] = Counter()
    modules: set[str] = set()
    for line in text.splitlines():
        match = _IMPORT_LINE.match(line)
        if match is None:
            continue
        modules.add(match.group(3))
        by_package[match.group(3).split(".")[0]] += int(match.group(1))
    return {name: us / 1e6 for name, us in by_package.most_common()}, modules


def profile_imports(variant: Variant, models: Path, workdir: Path, args: argparse.Namespace) -> str:
    """Start once with -X importtime (gRPC off, migrated database) until the first 200."""
    data_dir = Path(tempfile.mkdtemp(prefix="imports-", dir=workdir))
    measure(variant, models, data_dir, False, workdir, args)  # migrate first
    log_path = workdir / f"importtime-{time.monotonic_ns()}.log"
    server = start_once(
        variant, models, data_dir, False, log_path, args.cpus, {"PYTHONPROFILEIMPORTTIME": "1"}
    )
    try:
        procs.wait_first_200(server, PREDICT, BODY, TIMEOUT_S)
    finally:
        procs.stop(server)
    return log_path.read_text(errors="replace")


def measure_floor(code: str, artifact: Path) -> tuple[float, float] | None:
    """Seconds from starting ``python -c code`` until the code has run (the interpreter's
    exit is not counted: it is slow with many modules), and its peak RSS (VmHWM, MB);
    None when the code fails."""
    script = (
        f"{code}\n"
        "import re, time\n"
        "status = open('/proc/self/status').read()\n"
        "print(time.monotonic(), int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)))\n"
    )
    began = time.monotonic()  # CLOCK_MONOTONIC: the same clock in the child
    done = subprocess.run(
        [str(SERVE_BIN / "python"), "-c", script, str(artifact)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_env(REPO_DIR / "src"),
    )
    if done.returncode != 0:  # e.g. grpc or pandas: not in the venv modelport[sklearn] makes
        return None
    ended, peak_kb = done.stdout.split()[-2:]
    return float(ended) - began, int(peak_kb) * 1024 / 1e6


def installed(names: list[str]) -> set[str]:
    """Which of the top-level packages ``names`` the venv has (-X importtime also lists
    imports that failed, e.g. pandas trying pyarrow)."""
    code = (
        "import importlib.util, sys\n"
        "print(' '.join(n for n in sys.argv[1:] if importlib.util.find_spec(n)))\n"
    )
    done = subprocess.run(
        [str(SERVE_BIN / "python"), "-c", code, *names],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=_env(REPO_DIR / "src"),
    )
    return set(done.stdout.split())


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def render(res: Results, variants: list[str], scenarios: list[str], meta: dict[str, Any]) -> str:
    lines = [
        f"# Cold start, iris-lr alone ({meta['started']})",
        "",
        f"Load average at start {meta['load_start']}, at end {meta['load_end']} "
        f"({os.cpu_count()} cores); {meta['runs']} runs per cell, interleaved; medians "
        f"(min-max). CPU = user + system time of the server's processes (10 ms ticks). "
        f"RSS = VmRSS summed over the process tree, at the first 200 and after "
        f"{meta['requests']} predictions on {meta['threads']} connections.",
        "",
        "| variant | scenario | first 200: s | CPU until then: s | RSS at first 200: MB "
        "| RSS after traffic: MB |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for variant in variants:
        for scenario in scenarios:
            runs = res.runs.get(f"{variant}/{scenario}", [])
            if not runs:
                continue
            cells = []
            for values in (
                [r.seconds for r in runs],
                [r.cpu_s for r in runs],
                [r.rss_ready_mb for r in runs],
                [r.rss_traffic_mb for r in runs],
            ):
                fmt = "{:.2f}" if max(values) < 20 else "{:.0f}"
                cells.append(
                    f"{fmt.format(_median(values))} "
                    f"({fmt.format(min(values))}-{fmt.format(max(values))})"
                )
            lines.append(f"| {variant} | {scenario} | {' | '.join(cells)} |")
    if res.imports:
        lines += ["", "Import time by top-level package (self time, one run, gRPC off):", ""]
        packages: list[str] = []
        for variant in variants:
            for name in list(res.imports.get(variant, {}))[:14]:
                if name not in packages:
                    packages.append(name)
        lines.append("| package | " + " | ".join(f"{v}: s" for v in variants) + " |")
        lines.append("| --- |" + " ---: |" * len(variants))
        for name in packages:
            row = [f"{res.imports.get(v, {}).get(name, 0.0):.3f}" for v in variants]
            lines.append(f"| {name} | {' | '.join(row)} |")
        totals = [f"{sum(res.imports.get(v, {}).values()):.3f}" for v in variants]
        lines.append(f"| **all imports** | {' | '.join(totals)} |")
        lines += ["", "Imported by the first 200, of the installed " + ", ".join(HEAVY) + ":", ""]
        for variant in variants:
            lines.append(f"- {variant}: {', '.join(res.heavy.get(variant, [])) or 'none'}")
    if res.floors:
        lines += [
            "",
            "Floors: `python -c '...'` alone, medians: seconds from the process start until "
            "the code has run, and peak RSS:",
            "",
            "| what | s | MB |",
            "| --- | ---: | ---: |",
        ]
        for label, samples in res.floors.items():
            seconds = _median([s for s, _ in samples])
            mb = _median([m for _, m in samples])
            lines.append(f"| {label} | {seconds:.2f} | {mb:.0f} |")
        if res.floors_missing:
            missing = ", ".join(sorted(res.floors_missing))
            lines += ["", f"Not measured (the library is not in the venv): {missing}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="starts per variant and scenario")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=SRC[,KEY=VALUE...]",
        help="sources to run, with extra environment (repeatable); default: current=src",
    )
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="default: all"
    )
    parser.add_argument("--requests", type=int, default=2000, help="traffic after the start")
    parser.add_argument("--threads", type=int, default=16, help="connections for the traffic")
    parser.add_argument("--cpus", default=None, help="taskset the servers, e.g. 0")
    parser.add_argument("--no-imports", action="store_true", help="skip the -X importtime run")
    parser.add_argument("--no-floors", action="store_true", help="skip the library floors")
    parser.add_argument("--out", type=Path, default=None, help="also write <out>.md and .json")
    args = parser.parse_args(argv)
    chosen = [Variant.parse(text) for text in args.variant or [f"current={REPO_DIR / 'src'}"]]
    variants = {variant.label: variant for variant in chosen}
    scenarios = args.scenario or list(SCENARIOS)
    res = Results()
    meta: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_start": loadavg(),
        "serving_venv": str(SERVE_BIN.parent),
        "runs": args.runs,
        "requests": args.requests,
        "threads": args.threads,
        "variants": {k: {"src": str(v.src), "env": v.env} for k, v in variants.items()},
    }
    with tempfile.TemporaryDirectory(prefix="modelport-coldstart-") as tmp:
        workdir = Path(tmp)
        subprocess.run(
            [str(VENV_BIN / "modelport"), "train-examples", str(workdir / "all")],
            check=True,
            capture_output=True,
            timeout=300,
            env=_env(REPO_DIR / "src"),
        )
        models = workdir / "models-lr"
        shutil.copytree(workdir / "all" / "iris-lr", models / "iris-lr")
        artifact = models / "iris-lr" / "1" / "model.joblib"
        # One migrated database per variant and scenario, made by an unmeasured start.
        data_dirs: dict[tuple[str, str], Path] = {}
        for label, variant in variants.items():
            for scenario in scenarios:
                data_dir = workdir / f"data-{label}-{scenario}"
                data_dir.mkdir()
                data_dirs[label, scenario] = data_dir
                if SCENARIOS[scenario][1]:
                    measure(variant, models, data_dir, SCENARIOS[scenario][0], workdir, args)
        for repeat in range(args.runs):
            for scenario in scenarios:
                grpc, migrated = SCENARIOS[scenario]
                for label, variant in variants.items():
                    data_dir = data_dirs[label, scenario]
                    if not migrated:
                        data_dir = Path(tempfile.mkdtemp(prefix="new-db-", dir=workdir))
                    run = measure(variant, models, data_dir, grpc, workdir, args)
                    res.runs.setdefault(f"{label}/{scenario}", []).append(run)
                    log(
                        f"{repeat + 1}/{args.runs} {label}/{scenario}: {run.seconds:.2f} s, "
                        f"{run.rss_ready_mb:.0f} MB, {run.rss_traffic_mb:.0f} MB after traffic"
                    )
        if not args.no_imports:
            have = installed(HEAVY)
            for label, variant in variants.items():
                text = profile_imports(variant, models, workdir, args)
                res.imports[label], modules = parse_importtime(text)
                res.heavy[label] = [name for name in HEAVY if name in modules and name in have]
        if not args.no_floors:
            for _ in range(args.runs):
                for label, code in FLOORS:
                    floor = measure_floor(code, artifact)
                    if floor is None:
                        res.floors_missing.add(label)
                    else:
                        res.floors.setdefault(label, []).append(floor)
    meta["load_end"] = loadavg()
    table = render(res, list(variants), scenarios, meta)
    print(table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(table)
        raw = {
            "meta": meta,
            "runs": {k: [vars(r) for r in v] for k, v in res.runs.items()},
            "imports": res.imports,
            "heavy": res.heavy,
            "floors": res.floors,
        }
        args.out.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
