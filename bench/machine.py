"""Describe the machine and software a benchmark ran on, for the results' header."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["describe", "loadavg"]


def _versions(venv: Path, dists: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for d in sys.argv[1:]:\n"
        "    try: out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *dists],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return dict(json.loads(done.stdout)) if done.returncode == 0 else {}


def describe(venvs: list[Path]) -> dict[str, Any]:
    """What the results depend on: processor, cores, load, kernel, software versions."""
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    dists = [
        "modelport",
        "mlserver",
        "mlserver-sklearn",
        "flask",
        "gunicorn",
        "fastapi",
        "uvicorn",
        "uvloop",
        "httptools",
        "scikit-learn",
        "numpy",
    ]
    versions: dict[str, dict[str, str]] = {}
    for venv in sorted(set(venvs)):
        name = "development" if venv.name == ".venv" else venv.name
        versions[f"{name} venv"] = _versions(venv, dists)
    wrk = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": sorted(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "wrk": " ".join((wrk.stdout or wrk.stderr or "wrk ?").split()[:2]),
        "versions": versions,
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
    }


def loadavg() -> list[float]:
    """The 1, 5 and 15-minute load averages: above ~0.5 the machine was not quiet."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
