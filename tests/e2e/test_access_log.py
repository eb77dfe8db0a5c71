"""The access log, from the operator's side: one line per request, readable or JSON, and
the request id the client sent (or its trace id) in the answer, the access line and the
prediction log."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import tritonclient.grpc as triton

from .conftest import Server, StartServer

ROW = [5.1, 3.5, 1.4, 0.2]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def lines_of(server: Server) -> list[dict[str, Any]]:
    """Every line the server wrote, each parsed as JSON (a line that is not fails)."""
    return [json.loads(line) for line in server.log().splitlines() if line.strip()]


def access_lines(server: Server, request_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found = [
            line
            for line in lines_of(server)
            if line["logger"] == "modelport.access" and line["request_id"] == request_id
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_json_lines_carry_the_clients_request_id_everywhere(
    trained_models: Path, start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server([str(trained_models), "--log-format", "json"])
    server.wait_ready()
    answer = httpx.post(
        f"{server.url}/v1/models/iris-lr:predict",
        json={"instances": [ROW]},
        headers={"X-Request-ID": "abc"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == "abc"
    (line,) = access_lines(server, "abc")
    assert line["level"] == "info"
    assert (line["method"], line["path"], line["status"]) == (
        "POST",
        "/v1/models/iris-lr:predict",
        200,
    )
    assert (line["model"], line["version"], line["protocol"], line["rows"]) == (
        "iris-lr",
        1,
        "native",
        1,
    )
    assert line["client"] == "127.0.0.1" and line["duration_ms"] > 0
    assert line["time"].endswith("Z")
    # The prediction log's row of that request has the same id.
    deadline = time.monotonic() + 15
    while True:
        rows = httpx.get(
            f"{server.url}/v1/models/iris-lr/predictions", headers=server.admin, timeout=10
        ).json()
        ids = [row["request_id"] for row in rows["predictions"]]
        if "abc" in ids or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "abc" in ids
    # A bad request is a line too, with its status; a trace id stands in for a missing id.
    bad = httpx.post(
        f"{server.url}/v2/models/iris-lr/infer",
        json={"inputs": []},
        headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
        timeout=10,
    )
    assert bad.status_code == 400 and bad.headers["x-request-id"] == TRACE_ID
    (line,) = access_lines(server, TRACE_ID)
    assert (line["path"], line["status"], line["model"]) == ("/v2/models/iris-lr/infer", 400, None)
    # gRPC requests are lines too, under their method.
    client = triton.InferenceServerClient(server.grpc_target)
    try:
        tensor = triton.InferInput("x", [1, 4], "FP64")
        tensor.set_data_from_numpy(np.array([ROW]))
        client.infer("iris-lr", [tensor], headers={"x-request-id": "grpc-1"})
    finally:
        client.close()
    (line,) = access_lines(server, "grpc-1")
    assert (line["method"], line["path"], line["status"], line["protocol"]) == (
        "gRPC",
        "ModelInfer",
        "OK",
        "v2-grpc",
    )
    # Every line the server wrote, start-up included, is one JSON object, and no line
    # holds the admin token.
    everything = lines_of(server)
    assert any(line["logger"] == "modelport.registry" for line in everything)
    assert server.admin_token not in server.log()


def test_text_access_lines_read_well_and_no_access_log_silences_them(
    trained_models: Path, start_server: StartServer
) -> None:
    server = start_server([str(trained_models)])  # on by default
    server.wait_ready()
    httpx.post(
        f"{server.url}/v1/models/iris-lr:predict",
        json={"instances": [ROW]},
        headers={"X-Request-ID": "text-1"},
        timeout=10,
    )
    deadline = time.monotonic() + 10
    while "[text-1]" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    (line,) = [ln for ln in server.log().splitlines() if "[text-1]" in ln]
    assert line.startswith(
        'INFO:     modelport.access: 127.0.0.1 "POST /v1/models/iris-lr:predict" 200 '
    )
    assert line.endswith(" ms iris-lr v1 1 row(s) [text-1]")
    # A line logged after a request (through logging) comes after its access line.
    httpx.post(
        f"{server.url}/v1/models/iris-lr:predict",
        json={"instances": [ROW]},
        headers={"X-Request-ID": "text-2"},
        timeout=10,
    )
    unloaded = httpx.post(
        f"{server.url}/v1/admin/models/iris-lr/unload", headers=server.admin, timeout=30
    )
    assert unloaded.status_code == 200
    deadline = time.monotonic() + 10
    while "model 'iris-lr' unloaded" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = server.log()
    assert text.index("[text-2]") < text.index("model 'iris-lr' unloaded")
    quiet = start_server([str(trained_models), "--no-access-log"])
    quiet.wait_ready()
    answer = httpx.post(
        f"{quiet.url}/v1/models/iris-lr:predict",
        json={"instances": [ROW]},
        headers={"X-Request-ID": "quiet-1"},
        timeout=10,
    )
    assert answer.headers["x-request-id"] == "quiet-1"
    # The server stops cleanly: every line it had is written by then.
    quiet.stop()
    assert "quiet-1" not in quiet.log()
    assert "modelport.access" not in quiet.log()


def test_the_start_up_block_says_what_serves_and_hides_passwords(
    trained_models: Path, start_server: StartServer
) -> None:
    server = start_server(
        [str(trained_models), "--redis-url", "redis://:s3cret-pw@127.0.0.1:6379/5", "--cache"]
    )
    server.wait_ready()
    text = server.log()
    block = text[text.index("model(s) ready from") :]
    assert f"HTTP        http://127.0.0.1:{server.port} (1 worker(s))" in block
    assert f"gRPC        127.0.0.1:{server.grpc_port}" in block
    assert "database    sqlite:///" in block
    assert "cache       Redis redis://:***@127.0.0.1:6379/5, on for every model" in block
    assert "metrics     GET /metrics" in block
    assert "access log  text" in block
    assert "s3cret-pw" not in text
