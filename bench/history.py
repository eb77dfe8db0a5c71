"""Past ``make bench`` runs, from ``bench/results/history.jsonl`` (one run a line).

.venv/bin/python bench/history.py                 # list the runs: time, mode, load
.venv/bin/python bench/history.py 2026-11-24T03   # the table of the run(s) starting so
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from report import render

HISTORY = Path(__file__).resolve().parent / "results" / "history.jsonl"


def runs(path: Path = HISTORY) -> list[dict[str, Any]]:
    with path.open() as lines:
        return [json.loads(line) for line in lines if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stamp", nargs="?", help="the start time (or its beginning) of a run")
    parser.add_argument("--history", type=Path, default=HISTORY)
    args = parser.parse_args(argv)
    found = runs(args.history)
    if args.stamp is None:
        for run in found:
            meta = run["meta"]
            load = meta["loadavg_start"][0]
            sys.stdout.write(f"{meta['started_utc']}  {meta['mode']:5}  load {load:.2f}\n")
        return 0
    chosen = [run for run in found if run["meta"]["started_utc"].startswith(args.stamp)]
    if not chosen:
        sys.stderr.write(f"no run starts with {args.stamp!r}: run without arguments to list\n")
        return 1
    for run in chosen:
        sys.stdout.write(render(run) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
