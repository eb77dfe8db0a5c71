"""Overload: does the server shed load fast when it is sent 4x what it can answer?

wrk (closed loop) cannot push a rate, so this sends an open-loop rate (requests leave on a
fixed schedule whatever the answers) from asyncio
(raw HTTP/1.1, a connection per request), at a model that burns a fixed
amount of CPU per call (``--burn-ms``, 10 ms by default) so that the sustainable rate is
low enough for one Python process to send 4x of it. Phases, one server, same run:

1. sustainable rate: wrk at 4 connections for 10 s (closed loop, the server's best);
2. normal: 0.5x that rate for 15 s (the admitted p99 to compare with);
3. overload: 4x for 30 s;
4. recovery: 0.5x for 30 s.

A thread asks ``/health/ready`` every 100 ms throughout. Reports the share shed, their
statuses and Retry-After, how fast a shed answer comes back, p99 of admitted requests
against normal, health latency during the overload, and the time to recover.
Run with ``make soak-overload`` (= ``bench/soak.py --overload``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from loadgen import run_wrk
from machine import loadavg
from procs import HOST
from soak import log, start_server
from soak_models import ROW, SLOW_MODEL, write_models

PATH = f"/v1/models/{SLOW_MODEL}:predict"
BODY = {"instances": [ROW]}
SHED = {429, 503}


async def _post(port: int, request: bytes) -> tuple[int, str | None]:
    """One request on its own connection (Connection: close): (status, Retry-After).
    Raw asyncio streams: an HTTP client's connection pool costs too much CPU per request
    at a few hundred outstanding requests, and the generator would fall behind."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        await reader.read()  # the body, until the server closes
    finally:
        writer.close()
    retry = next(
        (ln.split(":", 1)[1].strip() for ln in head if ln.lower().startswith("retry-after:")),
        None,
    )
    return int(head[0].split()[1]), retry


async def open_loop(port: int, rate: float, seconds: float, phase: str) -> list[dict[str, Any]]:
    """Send ``rate`` requests/s for ``seconds`` on a fixed schedule; one record per request."""
    records: list[dict[str, Any]] = []
    body = json.dumps(BODY).encode()
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body

    async def one(sent: float) -> None:
        status, retry = 0, None
        # No answer (refused, reset, 30 s gone, garbled): status 0.
        with contextlib.suppress(TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            status, retry = await asyncio.wait_for(_post(port, request), timeout=30)
        records.append(
            {"phase": phase, "sent": sent, "ms": (time.monotonic() - sent) * 1000,
             "status": status, "retry_after": retry}
        )  # fmt: skip

    tasks = []
    began = time.monotonic()
    total = int(rate * seconds)
    for i in range(total):
        due = began + i / rate
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(time.monotonic())))
    await asyncio.gather(*tasks)
    return records


class Health(threading.Thread):
    """GET /health/ready every 100 ms; (monotonic time, ms, status) per probe."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.stop, self.probes = (
            base,
            threading.Event(),
            list[tuple[float, float, int]](),
        )

    def run(self) -> None:
        while not self.stop.wait(0.1):
            began, status = time.monotonic(), 0
            try:
                with urllib.request.urlopen(self.base + "/health/ready", timeout=10) as answer:
                    status = int(answer.status)
            except OSError:
                pass
            self.probes.append((began, (time.monotonic() - began) * 1000, status))


def p99(values: list[float]) -> float:
    return float(np.percentile(values, 99)) if values else 0.0


def recovery_s(records: list[dict[str, Any]], began: float, limit_ms: float) -> float | None:
    """Seconds from the drop to 0.5x until every later 1-s bin is all 200 within limit_ms."""
    bins: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        bins.setdefault(int(r["sent"] - began), []).append(r)
    good = {
        b: all(r["status"] == 200 for r in rs) and p99([r["ms"] for r in rs]) <= limit_ms
        for b, rs in bins.items()
    }
    for start in sorted(good):
        if all(good[b] for b in good if b >= start):
            return float(start)
    return None


def overload(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="modelport-overload-") as tmp:
        work = Path(tmp)
        models = write_models(work / "models", slow_burn_ms=args.burn_ms)
        # The queues' time budget is what sheds this load: on here, off by default.
        extra = (
            ["--max-queue-wait-ms", "10"] if args.server_args is None else args.server_args.split()
        )
        server, _ = start_server(work, models, extra)
        try:
            body = work / "slow.json"
            body.write_text('{"instances": [[5.1, 3.5, 1.4, 0.2]]}')
            run_wrk(server.base_url + PATH, body, 4, 3, None)  # warm-up
            best = run_wrk(server.base_url + PATH, body, 4, 10, None)
            # Answers only: a refusal (429) is fast and would count as capacity.
            rate = (best.requests - best.non_2xx) / best.seconds
            log(
                f"sustainable: {rate:.0f} req/s answered (wrk c=4, p99 {best.p99_ms:.1f} ms, "
                f"{best.non_2xx} refused)"
            )
            health = Health(server.base_url)
            health.start()
            marks: dict[str, float] = {}
            records: list[dict[str, Any]] = []
            for phase, factor, seconds in (
                ("normal", 0.5, 15),
                ("overload", 4.0, args.overload_seconds),
                ("recovery", 0.5, 30),
            ):
                marks[phase] = time.monotonic()
                log(f"{phase}: {factor * rate:.0f} req/s for {seconds} s")
                records += asyncio.run(open_loop(server.port, factor * rate, seconds, phase))
            marks["end"] = time.monotonic()
            health.stop.set()
            health.join()
        finally:
            from procs import stop

            stop(server)
    return analyse(records, health.probes, marks, rate, best.p99_ms, args, extra)


def analyse(
    records: list[dict[str, Any]],
    probes: list[tuple[float, float, int]],
    marks: dict[str, float],
    rate: float,
    closed_p99: float,
    args: argparse.Namespace,
    extra: list[str],
) -> dict[str, Any]:
    phases: dict[str, Any] = {}
    for phase in ("normal", "overload", "recovery"):
        rs = [r for r in records if r["phase"] == phase]
        ok = [r["ms"] for r in rs if r["status"] == 200]
        shed = [r for r in rs if r["status"] in SHED]
        phases[phase] = {
            "sent": len(rs),
            "ok": len(ok),
            "shed": len(shed),
            "other": dict(Counter(r["status"] for r in rs if r["status"] not in SHED | {200})),
            "shed_statuses": dict(Counter(r["status"] for r in shed)),
            "retry_after": dict(Counter(str(r["retry_after"]) for r in shed)),
            "shed_with_retry_after": sum(1 for r in shed if r["retry_after"]),
            "p50_ok_ms": float(np.percentile(ok, 50)) if ok else 0.0,
            "p99_ok_ms": p99(ok),
            "p99_shed_ms": p99([r["ms"] for r in shed]),
        }
        span = (marks[phase], marks[_next(phase)])
        hs = [p for p in probes if span[0] <= p[0] < span[1]]
        phases[phase]["health_probes"] = len(hs)
        phases[phase]["health_ok"] = sum(1 for p in hs if p[2] == 200)
        phases[phase]["health_p99_ms"] = p99([p[1] for p in hs])
    normal = phases["normal"]["p99_ok_ms"]
    recover = recovery_s(
        [r for r in records if r["phase"] == "recovery"], marks["recovery"], 2 * max(normal, 1)
    )
    return {
        "kind": "overload",
        "burn_ms": args.burn_ms,
        "server_args": extra,
        "sustainable_rps": rate,
        "closed_loop_p99_ms": closed_p99,
        "phases": phases,
        "recovery_s": recover,
        "loadavg": loadavg(),
    }


def _next(phase: str) -> str:
    return {"normal": "overload", "overload": "recovery", "recovery": "end"}[phase]


def overload_md(result: dict[str, Any]) -> str:
    ph = result["phases"]
    rate = result["sustainable_rps"]
    lines = [
        f"# Overload: 4x the sustainable rate ({result['burn_ms']} ms of CPU per call)",
        "",
        f"Sustainable rate (wrk, 4 connections): {rate:.0f} req/s. Server flags: "
        f"{' '.join(result['server_args']) or '(defaults)'}. Load average: {result['loadavg']}.",
        "",
        "| phase | rate | sent | 200 | shed (429/503) | other | p99 admitted | "
        "p99 shed answer | Retry-After | health ok | health p99 |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for name, factor in (("normal", 0.5), ("overload", 4.0), ("recovery", 0.5)):
        p = ph[name]
        share = p["shed"] / p["sent"] if p["sent"] else 0.0
        lines.append(
            f"| {name} | {factor * rate:.0f}/s | {p['sent']} | {p['ok']} | {p['shed']} "
            f"({share:.0%}) {p['shed_statuses'] or ''} | {p['other'] or '-'} | "
            f"{p['p99_ok_ms']:.1f} ms | {p['p99_shed_ms']:.1f} ms | {p['retry_after'] or '-'} | "
            f"{p['health_ok']}/{p['health_probes']} | {p['health_p99_ms']:.1f} ms |"
        )
    normal, over = ph["normal"]["p99_ok_ms"], ph["overload"]["p99_ok_ms"]
    ratio = over / normal if normal else 0.0
    recover = result["recovery_s"]
    lines += [
        "",
        f"- p99 of admitted requests under overload is {ratio:.1f}x normal (target <= 2x): "
        f"**{'ok' if ratio <= 2 else 'NOT MET'}**",
        f"- Shed answers: {ph['overload']['shed']}, with Retry-After: "
        f"{ph['overload']['shed_with_retry_after']}",
        "- Recovered (every later second all 200 within 2x normal p99) "
        + (f"{recover:.0f} s after the load dropped" if recover is not None else "**never**"),
    ]
    return "\n".join(lines) + "\n"
