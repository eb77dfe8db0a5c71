"""The Open Inference Protocol over gRPC: modelport against MLServer, same run.

Load comes from ``h2load`` (Debian's nghttp2-client) posting one pre-encoded
``ModelInferRequest`` (the 5-byte gRPC frame header and the message) over HTTP/2, one
stream per connection, pinned like wrk. h2load reports HTTP statuses only, and gRPC puts
its own status in trailers, so every server's answer is checked first with a real gRPC
client; percentiles come from h2load's per-request log.
"""

from __future__ import annotations

import json
import statistics
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import procs
from loadgen import Sample
from procs import HOST, Launch, free_port
from servers import MODELPORT_VENV, VENVS, _clean_env

from modelport.api.proto import grpc_predict_v2_pb2 as pb
from modelport.api.proto import grpc_predict_v2_pb2_grpc as pb_grpc

__all__ = [
    "GRPC_POINTS",
    "GRPC_SERVERS",
    "GrpcServer",
    "check_grpc",
    "grpc_body",
    "measure_grpc",
    "run_h2load",
]

METHOD = "/inference.GRPCInferenceService/ModelInfer"
#: (workload key, rows, connections): single rows at c=16 and c=64, 1,000 rows at c=4.
GRPC_POINTS: list[tuple[str, int, int]] = [
    ("grpc-lr-1", 1, 16),
    ("grpc-lr-1", 1, 64),
    ("grpc-lr-1000", 1000, 4),
]
IRIS_ROW = [5.1, 3.5, 1.4, 0.2]


@dataclass(frozen=True)
class GrpcServer:
    """One gRPC column: how to start it, given (work dir, model folder, HTTP, gRPC port)."""

    key: str
    title: str
    launch: Callable[[Path, Path, int, int], Launch]
    venv: Path


def _modelport(workdir: Path, models: Path, http_port: int, grpc_port: int) -> Launch:
    argv = [
        str(MODELPORT_VENV / "bin" / "modelport"),
        *("serve", str(models), "--host", HOST, "--port", str(http_port)),
        *("--grpc-port", str(grpc_port)),
    ]
    return Launch(argv, _clean_env(), workdir)


def _mlserver(workdir: Path, models: Path, http_port: int, grpc_port: int) -> Launch:
    """MLServer's defaults, with the ports and host set, on the same joblib files."""
    repo = workdir / f"mlserver-grpc-{grpc_port}"
    repo.mkdir()
    settings = {
        "host": HOST,
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": free_port(),
    }
    (repo / "settings.json").write_text(json.dumps(settings, indent=2))
    artifact = models / "iris-lr" / "1" / "model.joblib"
    (repo / "iris-lr").mkdir()
    model_settings = {
        "name": "iris-lr",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(artifact), "version": "1"},
    }
    (repo / "iris-lr" / "model-settings.json").write_text(json.dumps(model_settings))
    return Launch(
        [str(VENVS / "mlserver" / "bin" / "mlserver"), "start", str(repo)], _clean_env(), repo
    )


GRPC_SERVERS = [
    GrpcServer("modelport-grpc", "modelport, V2 gRPC", _modelport, MODELPORT_VENV),
    GrpcServer("mlserver-grpc", "MLServer, V2 gRPC, defaults", _mlserver, VENVS / "mlserver"),
]


def _request(rows: int) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="iris-lr")
    tensor = request.inputs.add(name="input-0", datatype="FP64", shape=[rows, 4])
    tensor.contents.fp64_contents.extend(IRIS_ROW * rows)
    return request


def grpc_body(rows: int, target: Path) -> Path:
    """The request as it travels: uncompressed flag, big-endian length, message."""
    message = _request(rows).SerializeToString()
    target.write_bytes(b"\x00" + struct.pack(">I", len(message)) + message)
    return target


def check_grpc(port: int, rows: int) -> str | None:
    """None when the server answers ``rows`` predictions through a real gRPC client."""
    try:
        with grpc.insecure_channel(f"{HOST}:{port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
            answer = stub.ModelInfer(_request(rows), timeout=30)
    except grpc.RpcError as exc:
        return f"gRPC {exc.code()}: {exc.details()}"
    if not answer.outputs:
        return "no outputs"
    shape = list(answer.outputs[0].shape)
    return None if shape and shape[0] == rows else f"answer shape {shape}, not {rows} rows"


def run_h2load(port: int, body: Path, connections: int, seconds: float, cpus: str | None) -> Sample:
    """h2load for ``seconds`` (pinned unless cpus is None); latency from its request log."""
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        argv = [
            "h2load",
            *("-t", "1", "-c", str(connections), "-m", "1"),
            *("-D", str(max(1, round(seconds)))),
            *("-d", str(body), "-H", "content-type: application/grpc", "-H", "te: trailers"),
            f"--log-file={log.name}",
            f"http://{HOST}:{port}{METHOD}",
        ]
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"h2load failed ({done.returncode}): {done.stderr or done.stdout}")
        rows = [line.split("\t") for line in Path(log.name).read_text().splitlines() if line]
    statuses = [int(row[1]) for row in rows]
    latency_ms = np.array([int(row[2]) / 1000 for row in rows])
    started_us = [int(row[0]) for row in rows]
    wall = max(1e-6, (max(started_us) - min(started_us)) / 1e6) if rows else 0.0
    requests = len(rows)
    return Sample(
        requests=requests,
        seconds=wall,
        rps=requests / wall if wall else 0.0,
        p50_ms=float(np.percentile(latency_ms, 50)) if requests else 0.0,
        p90_ms=float(np.percentile(latency_ms, 90)) if requests else 0.0,
        p99_ms=float(np.percentile(latency_ms, 99)) if requests else 0.0,
        mean_ms=statistics.fmean(latency_ms) if requests else 0.0,
        non_2xx=sum(1 for status in statuses if not 200 <= status < 300),
        socket_errors=0,
    )


def measure_grpc(
    workdir: Path,
    models: Path,
    repeats: int,
    seconds: float,
    cpus: tuple[str | None, str | None],
    add: Callable[[str, str, int, int, Sample], None],
    errors: dict[str, str],
    log: Callable[[str], None],
) -> None:
    """Every gRPC server up at once (idle ones cost nothing), points interleaved across
    them; ``add(server, workload, connections, repeat, sample)`` records each."""
    server_cpus, load_cpus = cpus
    started: dict[str, tuple[procs.Server, int]] = {}
    bodies = {rows: grpc_body(rows, workdir / f"grpc-{rows}.bin") for _, rows, _ in GRPC_POINTS}
    try:
        for spec in GRPC_SERVERS:
            if not (spec.venv / "bin" / "python").exists():
                errors[spec.key] = f"{spec.venv} is missing (bench/setup_env.py)"
                continue
            http_port, grpc_port = free_port(), free_port()
            logs = workdir / "logs"
            logs.mkdir(exist_ok=True)
            launch = spec.launch(workdir, models, http_port, grpc_port)
            server = procs.start(spec.key, launch, http_port, logs / f"{spec.key}.log", server_cpus)
            started[spec.key] = (server, grpc_port)
            problem = _wait_checked(grpc_port)
            if problem is not None:
                errors[spec.key] = problem
                log(f"{spec.key}: left out: {problem}")
                procs.stop(started.pop(spec.key)[0])
                continue
            log(f"{spec.key}: gRPC ready on port {grpc_port}, answers checked")
        for workload, rows, connections in GRPC_POINTS:
            for repeat in range(repeats):
                for key, (server, grpc_port) in started.items():
                    sample = run_h2load(grpc_port, bodies[rows], connections, seconds, load_cpus)
                    procs.wait_idle(server.proc.pid, 60.0)
                    add(key, workload, connections, repeat, sample)
                    log(
                        f"{workload} c={connections} #{repeat + 1} {key}: "
                        f"{sample.rps:,.0f} req/s, p50 {sample.p50_ms:.2f} ms, "
                        f"p99 {sample.p99_ms:.2f} ms"
                    )
    finally:
        procs.stop(*(server for server, _ in started.values()))


def _wait_checked(port: int, timeout_s: float = 120.0) -> str | None:
    """Wait until the server answers single rows and 1,000 rows over gRPC."""
    deadline = time.monotonic() + timeout_s
    problem: str | None = "not started"
    while time.monotonic() < deadline:
        problem = check_grpc(port, 1) or check_grpc(port, 1000)
        if problem is None:
            return None
        time.sleep(0.5)
    return problem
