"""Soak: modelport under steady mixed load for minutes while models change under it.

``wrk`` drives native, V2 REST, MLflow and a custom route at once (64 connections split
among them) in back-to-back slices (30 s by default), so every slice has its own p99; a
thread sends V2 gRPC at a low rate; every 30 s a new version is uploaded and the
``production`` alias moved to it (the version before is deleted, so versions do not pile
up); every minute the model folder is reloaded through the admin API. A sampler reads the
RSS and open file descriptors of every server process every few seconds. At the end the
prediction log's rows (SQLite in the run's data folder) are compared with the predictions
answered. Usage::

    make soak                       # 10 minutes
    make soak SOAK_MINUTES=2        # a short run
    make soak-overload              # = make soak SOAK_ARGS=--overload (bench/overload.py)

Writes ``bench/results/<stamp>-soak[-short].json`` and ``.md``. Local addresses only.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import procs
from loadgen import Sample, run_wrk
from machine import describe, loadavg
from setup_env import ensure_tool
from soak_models import ROW, endpoints, function_code, write_models

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
MODELPORT = REPO_DIR / ".venv" / "bin" / "modelport"
TOKEN = "soak-admin-token-for-this-run-only"  # noqa: S105 (a loopback server of this run)
READY_TIMEOUT_S = 120.0
SAMPLE_EVERY_S = 5.0
#: RSS growth after warm-up above which the verdict says "grows".
GROWTH_LIMIT = 0.05


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def admin(base: str, method: str, path: str, body: bytes | None = None, kind: str = "") -> int:
    """One management call with the admin token; returns the status (0: no answer)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if kind:
        headers["Content-Type"] = kind
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)
    except OSError:
        return 0


def start_server(work: Path, models: Path, extra: list[str]) -> tuple[procs.Server, int]:
    data = work / "data"
    data.mkdir()
    port, grpc_port = procs.free_port(), procs.free_port()
    argv = [
        str(MODELPORT),
        "serve",
        str(models),
        *("--host", procs.HOST, "--port", str(port), "--grpc-port", str(grpc_port)),
        *("--data-dir", str(data), "--admin-token", TOKEN),
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    # Lets the server's debug memory report (if any) be switched on from the outside.
    env.update({k: v for k, v in os.environ.items() if k.startswith("MODELPORT_DEBUG_")})
    env["MODELPORT_ALLOW_PICKLE_UPLOADS"] = "true"  # the uploads are model.py files
    server = procs.start(
        "modelport", procs.Launch(argv, env, work), port, work / "server.log", None
    )
    try:
        procs.wait_get_200(server, "/health/ready", READY_TIMEOUT_S)
    except RuntimeError:
        procs.stop(server)
        log("the server's output:\n" + (work / "server.log").read_text()[-3000:])
        raise
    return server, grpc_port


def process_sample(root: int) -> list[dict[str, Any]]:
    """RSS (MB) and open fds of ``root`` and each descendant."""
    out = []
    for pid, _ in procs.process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        rss_kb = next(
            (int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:")), 0
        )
        out.append({"pid": pid, "rss_mb": round(rss_kb / 1024, 1), "fds": fds})
    return out


class Background:
    """The threads beside wrk: sampler, model changes, gRPC. Each stops with ``stop``."""

    def __init__(self, server: procs.Server, grpc_port: int, grpc_rate: float) -> None:
        self.server, self.grpc_port, self.grpc_rate = server, grpc_port, grpc_rate
        self.stop = threading.Event()
        self.began = time.monotonic()
        self.samples: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.grpc_ok = self.grpc_failed = 0
        self.threads = [
            threading.Thread(target=self._sampler, daemon=True),
            threading.Thread(target=self._changes, daemon=True),
        ]
        if grpc_rate > 0:
            self.threads.append(threading.Thread(target=self._grpc, daemon=True))

    def __enter__(self) -> Background:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _sampler(self) -> None:
        while True:
            at = round(time.monotonic() - self.began, 1)
            self.samples.append({"t_s": at, "processes": process_sample(self.server.proc.pid)})
            if self.stop.wait(SAMPLE_EVERY_S):
                return

    def _act(self, action: str, status: int, ok: set[int]) -> None:
        at = round(time.monotonic() - self.began, 1)
        self.actions.append({"t_s": at, "action": action, "status": status, "ok": status in ok})

    def _changes(self) -> None:
        """Every 30 s an upload and an alias move; every 60 s a reload of the folder."""
        base, version, tick = self.server.base_url, 1, 0
        while not self.stop.wait(30):
            tick += 1
            code = function_code(version + 1).encode()
            path = "/v1/admin/models/fn-a/versions?filename=model.py"
            status = admin(base, "POST", path, code, "application/octet-stream")
            self._act("upload", status, {201})
            if status == 201:
                version += 1
                body = json.dumps({"version": version}).encode()
                status = admin(
                    base,
                    "PUT",
                    "/v1/admin/models/fn-a/aliases/production",
                    body,
                    "application/json",
                )
                self._act("alias", status, {200})
                if version > 2:  # the one before the one production left; nothing points at it
                    path = f"/v1/admin/models/fn-a/versions/{version - 2}"
                    self._act("delete", admin(base, "DELETE", path), {200})
            if tick % 2 == 0:
                self._act("reload", admin(base, "POST", "/v1/admin/reload"), {200})

    def _grpc(self) -> None:
        import grpc  # only when gRPC runs

        from modelport.api.proto import grpc_predict_v2_pb2 as pb
        from modelport.api.proto import grpc_predict_v2_pb2_grpc as pb_grpc

        request = pb.ModelInferRequest(model_name="fn-b")
        tensor = request.inputs.add(name="input-0", datatype="FP64", shape=[1, 4])
        tensor.contents.fp64_contents.extend(ROW)
        with grpc.insecure_channel(f"{procs.HOST}:{self.grpc_port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
            while not self.stop.wait(1 / self.grpc_rate):
                try:
                    stub.ModelInfer(request, timeout=10)
                    self.grpc_ok += 1
                except grpc.RpcError:
                    self.grpc_failed += 1


def run_slice(server: procs.Server, work: Path, connections: int, seconds: float) -> dict[str, Any]:
    """One slice: a wrk per endpoint, all at once, the connections split among them."""
    kinds = endpoints(work)
    share = max(1, connections // len(kinds))
    with ThreadPoolExecutor(len(kinds)) as pool:
        futures = {
            e.key: pool.submit(run_wrk, server.base_url + e.path, e.body, share, seconds, None)
            for e in kinds
        }
        samples: dict[str, Sample] = {key: f.result() for key, f in futures.items()}
    return {key: s.to_json() for key, s in samples.items()}


def logged_rows(data: Path, server: procs.Server) -> int:
    """Rows in the prediction log once the writer has caught up (stable for 2 s, <= 30 s)."""
    last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(data / "modelport.db") as connection:
            (count,) = connection.execute("SELECT COUNT(*) FROM prediction_log").fetchone()
        if count != last:
            last, stable_since = int(count), time.monotonic()
        elif time.monotonic() - stable_since > 2:
            break
        time.sleep(0.5)
    return last


def growth(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """RSS and fds of the whole tree: first sample after warm-up against the last."""
    after = [s for s in samples if s["t_s"] >= warmup_s] or samples

    def total(sample: dict[str, Any], key: str) -> float:
        return float(sum(p[key] for p in sample["processes"]))

    first, last = after[0], after[-1]
    rss0, rss1 = total(first, "rss_mb"), total(last, "rss_mb")
    return {
        "warmup_s": first["t_s"],
        "rss_mb_after_warmup": rss0,
        "rss_mb_end": rss1,
        "rss_growth": (rss1 - rss0) / rss0 if rss0 else 0.0,
        "rss_mb_per_min": (rss1 - rss0) / max(1e-9, (last["t_s"] - first["t_s"]) / 60),
        "fds_after_warmup": total(first, "fds"),
        "fds_end": total(last, "fds"),
    }


def soak(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="modelport-soak-") as tmp:
        work = Path(tmp)
        models = write_models(work / "models", slow_burn_ms=5, monitor=not args.no_monitor)
        extra = [] if args.server_args is None else args.server_args.split()
        server, grpc_port = start_server(work, models, extra)
        slices: list[dict[str, Any]] = []
        try:
            total_s = args.minutes * 60
            began = time.monotonic()
            with Background(server, grpc_port, args.grpc_rate) as background:
                while (left := total_s - (time.monotonic() - began)) > 1:
                    seconds = min(args.slice_seconds, left)
                    result = run_slice(server, work, args.connections, seconds)
                    at = round(time.monotonic() - began, 1)
                    slices.append({"t_s": at, "endpoints": result})
                    p99 = max(r["p99_ms"] for r in result.values())
                    errors = sum(r["non_2xx"] + r["socket_errors"] for r in result.values())
                    rss = sum(p["rss_mb"] for p in background.samples[-1]["processes"])
                    log(f"t={at:.0f}s p99 {p99:.1f} ms, errors {errors}, RSS {rss:.0f} MB")
            answered = sum(
                r["requests"] - r["non_2xx"] for s in slices for r in s["endpoints"].values()
            )
            rows = logged_rows(work / "data", server)
            return {
                "kind": "soak",
                "minutes": args.minutes,
                "connections": args.connections,
                "server_args": extra,
                "monitor": not args.no_monitor,
                "slices": slices,
                "samples": background.samples,
                "actions": background.actions,
                "grpc": {"ok": background.grpc_ok, "failed": background.grpc_failed},
                "predictions_answered_http": answered,
                "prediction_log_rows": rows,
                # Past the drift monitor's first round (a minute in), whose one-time
                # import of its analysis libraries is a step, not growth.
                # (A run shorter than that can only look from its first quarter on.)
                "growth": growth(
                    background.samples,
                    warmup_s=min(90.0, max(70.0, total_s / 4)) if total_s >= 140 else total_s / 4,
                ),
            }
        finally:
            procs.stop(server)


def summary_md(result: dict[str, Any]) -> str:
    g = result["growth"]
    errors = sum(
        r["non_2xx"] + r["socket_errors"] for s in result["slices"] for r in s["endpoints"].values()
    )
    failed_actions = [a for a in result["actions"] if not a["ok"]]
    grpc_total = result["grpc"]["ok"] + result["grpc"]["failed"]
    answered = result["predictions_answered_http"] + result["grpc"]["ok"]
    lines = [
        f"# Soak: {result['minutes']} min at c={result['connections']}"
        + (" (SHORT RUN, not the 10-minute soak)" if result["minutes"] < 10 else ""),
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores. "
        f"Load average at the end: {result['loadavg']}.",
        f"Server flags: {' '.join(result['server_args']) or '(defaults)'}"
        + ("" if result["monitor"] else "; models with `monitor: false`"),
        "",
        "| t (s) | req/s | p99 native | p99 v2 | p99 mlflow | p99 route | errors | RSS MB | fds |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in result["slices"]:
        e = s["endpoints"]
        near = min(result["samples"], key=lambda x: abs(x["t_s"] - s["t_s"]))
        rss = sum(p["rss_mb"] for p in near["processes"])
        fds = sum(p["fds"] for p in near["processes"])
        err = sum(r["non_2xx"] + r["socket_errors"] for r in e.values())
        rps = sum(r["rps"] for r in e.values())
        p99 = " | ".join(f"{e[k]['p99_ms']:.1f}" for k in ("native", "v2", "mlflow", "route"))
        lines.append(f"| {s['t_s']:.0f} | {rps:.0f} | {p99} | {err} | {rss:.0f} | {fds:.0f} |")
    verdict = "ok" if g["rss_growth"] < GROWTH_LIMIT else "GROWS"
    lines += [
        "",
        f"- Errors (non-2xx + socket errors, HTTP): **{errors}** (target 0)",
        f"- gRPC V2 calls: {result['grpc']['ok']} ok of {grpc_total}",
        f"- Model changes: {len(result['actions'])} calls, failed: {failed_actions or 'none'}",
        f"- RSS after warm-up ({g['warmup_s']:.0f} s) {g['rss_mb_after_warmup']:.1f} MB, at the "
        f"end {g['rss_mb_end']:.1f} MB: {g['rss_growth']:+.1%} ({g['rss_mb_per_min']:+.2f} MB/min)"
        f", target < 5%: **{verdict}**",
        f"- Open fds after warm-up {g['fds_after_warmup']:.0f}, at the end {g['fds_end']:.0f}",
        f"- Predictions answered {answered} (HTTP 2xx + gRPC ok), prediction log rows "
        f"{result['prediction_log_rows']}",
    ]
    return "\n".join(lines) + "\n"


def save(result: dict[str, Any], name: str, markdown: str, out_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{stamp}-{name}"
    base.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    base.with_suffix(".md").write_text(markdown)
    return base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--slice-seconds", type=float, default=30.0)
    parser.add_argument("--grpc-rate", type=float, default=20.0, help="gRPC calls/s (0: none)")
    parser.add_argument("--server-args", help="extra modelport serve flags, one string")
    parser.add_argument(
        "--no-monitor", action="store_true", help="models without the drift monitor"
    )
    parser.add_argument("--overload", action="store_true", help="the overload run instead")
    parser.add_argument("--burn-ms", type=float, default=10.0, help="overload: CPU per call")
    parser.add_argument("--overload-seconds", type=float, default=30.0)
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    ensure_tool("wrk", "wrk")
    if args.overload:
        from overload import overload, overload_md

        result = overload(args)
        markdown, name = overload_md(result), "overload"
    else:
        result = soak(args)
        result["machine"], result["loadavg"] = describe([REPO_DIR / ".venv"]), loadavg()
        markdown = summary_md(result)
        name = "soak" if args.minutes >= 10 else "soak-short"
    base = save(result, name, markdown, args.results_dir)
    print(markdown)
    log(f"wrote {base}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
