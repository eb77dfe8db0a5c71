"""GET /metrics, scraped from a real server with two workers: every prediction sent over
every protocol is counted exactly, by model, protocol and status; batches add up to the
rows sent; cache hits are the repeated requests; made-up model names add no series."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from prometheus_client.parser import text_string_to_metric_families

from services import free_port

from .conftest import Server, StartServer

ROUTES_YAML = "routes:\n  - {path: /iris/species, handler: species}\n"
ROUTES_PY = """
from modelport.routes import RouteRequest, ServerHandle


def species(request: RouteRequest, server: ServerHandle) -> dict:
    row = [request.arg(name, 1.0, float) for name in ("a", "b", "c", "d")]
    return {"label": server.predict("iris-lr", row).predictions[0]}
"""
REDIS = "redis://127.0.0.1:6379/0"
ROW = [5.1, 3.5, 1.4, 0.2]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
#: The one series a request for an unknown model adds (on the native protocol).
NOBODY = (
    "modelport_requests_total",
    (("model", ""), ("protocol", "native"), ("status", "not_found"), ("version", "")),
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: Server, **headers: str) -> Samples:
    answer = httpx.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape_once_counted(server: Server, before: Samples, name: str, count: float) -> Samples:
    """A scrape once ``count`` more ``name`` samples (summed over labels) are in it: the
    scraped worker counts its own requests at once, the other worker's within a quarter
    second (each folds its observations that often)."""
    deadline = time.monotonic() + 10
    while True:
        after = scrape(server)
        added = sum(v for (n, _), v in after.items() if n == name) - sum(
            v for (n, _), v in before.items() if n == name
        )
        if added >= count or time.monotonic() > deadline:
            return after


def fresh_row() -> list[float]:
    """A row no earlier run sent: the response cache (Redis, shared) cannot know it."""
    return [round(random.uniform(4, 8), 6), 3.0, round(random.uniform(1, 6), 6), 1.0]


@pytest.fixture(scope="module")
def server(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("metrics")
    models = folder / "models"
    (models / "iris-lr").mkdir(parents=True)
    source = trained_models / "iris-lr"
    for item in source.rglob("*"):
        target = models / "iris-lr" / item.relative_to(source)
        if item.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.write_bytes(item.read_bytes())
    (models / "routes.yaml").write_text(ROUTES_YAML)
    (models / "routes.py").write_text(ROUTES_PY)
    running = Server(
        [
            str(models),
            "--workers",
            "2",
            "--data-dir",
            str(folder),
            # One response cache for both workers, in keys no other run uses.
            "--cache",
            "--redis-url",
            REDIS,
            "--cache-namespace",
            f"metrics-test-{uuid.uuid4().hex}",
        ],
        folder,
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_every_protocol_is_counted_exactly_across_two_workers(
    server: Server, start_server: StartServer
) -> None:
    before = scrape(server)
    url = server.url
    with httpx.Client(timeout=30) as http:
        for _ in range(6):
            ok = http.post(f"{url}/v1/models/iris-lr:predict", json={"instances": [fresh_row()]})
            assert ok.status_code == 200, ok.text
        for _ in range(2):
            bad = http.post(f"{url}/v1/models/iris-lr:predict", json={"instances": [[1, 2]]})
            assert bad.status_code == 422
        unknown = http.post(f"{url}/v1/models/nope:predict", json={"instances": [[1]]})
        assert unknown.status_code == 404
        repeated = {"instances": [fresh_row()]}
        verdicts = [
            http.post(f"{url}/v1/models/iris-lr:predict", json=repeated).headers.get(
                "x-modelport-cache"
            )
            for _ in range(5)
        ]
        for _ in range(4):
            tensor = {"name": "x", "datatype": "FP64", "shape": [1, 4], "data": fresh_row()}
            ok = http.post(f"{url}/v2/models/iris-lr/infer", json={"inputs": [tensor]})
            assert ok.status_code == 200, ok.text
        short = {"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}
        bad = http.post(f"{url}/v2/models/iris-lr/infer", json={"inputs": [short]})
        assert bad.status_code == 400, bad.text  # V2 answers invalid input with 400
        for _ in range(2):
            split = {"dataframe_split": {"columns": FEATURES, "data": [fresh_row()]}}
            ok = http.post(f"{url}/v1/models/iris-lr/invocations", json=split)
            assert ok.status_code == 200, ok.text
        for _ in range(2):
            a, b, c, d = fresh_row()
            ok = http.get(f"{url}/iris/species", params={"a": a, "b": b, "c": c, "d": d})
            assert ok.status_code == 200, ok.text
    client = triton.InferenceServerClient(server.grpc_target)
    try:
        for _ in range(3):
            tensor = triton.InferInput("x", [1, 4], "FP64")
            tensor.set_data_from_numpy(np.array([fresh_row()]))
            client.infer("iris-lr", [tensor])
    finally:
        client.close()
    assert verdicts == ["miss", "hit", "hit", "hit", "hit"]

    after = scrape_once_counted(server, before, "modelport_requests_total", 26)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    lr = {"model": "iris-lr", "version": "1"}
    expected = {
        ("native", "ok"): 11,
        ("native", "invalid_input"): 2,
        ("v2-rest", "ok"): 4,
        ("v2-rest", "invalid_input"): 1,
        ("mlflow", "ok"): 2,
        ("route", "ok"): 2,
        ("v2-grpc", "ok"): 3,
    }
    for (protocol, status), count in expected.items():
        got = added("modelport_requests_total", **lr, protocol=protocol, status=status)
        assert got == count, (protocol, status, got)
    nobody = {"model": "", "version": "", "protocol": "native", "status": "not_found"}
    assert added("modelport_requests_total", **nobody) == 1
    for protocol in ("native", "v2-rest", "mlflow", "route", "v2-grpc"):
        answered = sum(c for (p, _), c in expected.items() if p == protocol)
        labels = {**lr, "protocol": protocol}
        assert added("modelport_request_duration_seconds_count", **labels) == answered
    # Every row that reached the model, once: the good requests but the 4 cache hits.
    rows = 6 + 1 + 4 + 2 + 2 + 3
    assert added("modelport_batch_rows_sum", **lr) == rows
    calls = added("modelport_batch_rows_count", **lr)
    assert 1 <= calls <= rows
    assert added("modelport_model_call_duration_seconds_count", **lr) == calls
    assert added("modelport_queue_duration_seconds_count", **lr) == rows
    assert added("modelport_cache_lookups_total", model="iris-lr", result="hit") == 4
    assert added("modelport_cache_lookups_total", model="iris-lr", result="miss") == rows
    assert value(after, "modelport_model_state", **lr, state="ready") == 1
    assert value(after, "modelport_build_info", version=_version()) == 1
    assert_one_series_per_worker(after, 2)


def assert_one_series_per_worker(samples: Samples, workers: int) -> None:
    """Each worker's own process: its memory, open files and CPU time, by pid."""
    pids = {
        dict(labels)["pid"]
        for name, labels in samples
        if name == "modelport_process_resident_memory_bytes"
    }
    assert len(pids) == workers, pids
    for pid in pids:
        assert value(samples, "modelport_process_resident_memory_bytes", pid=pid) > 10_000_000
        assert value(samples, "modelport_process_open_fds", pid=pid) > 3
        assert value(samples, "modelport_process_cpu_seconds_total", pid=pid) > 0


def test_made_up_model_names_add_no_series(server: Server) -> None:
    before = scrape(server)
    with httpx.Client(timeout=30) as http:
        for _ in range(10_000 // 50):
            for _ in range(50):
                name = uuid.uuid4().hex[:12]
                http.post(f"{server.url}/v1/models/{name}:predict", json={"instances": [[1]]})
    after = scrape_once_counted(server, before, "modelport_requests_total", 10_000)
    assert set(after) - set(before) <= {NOBODY}
    assert (
        value(after, *NOBODY[:1], **dict(NOBODY[1])) - value(before, *NOBODY[:1], **dict(NOBODY[1]))
        == 10_000
    )


def test_openmetrics_when_the_scraper_asks(server: Server) -> None:
    answer = httpx.get(
        f"{server.url}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=10,
    )
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.rstrip().endswith("# EOF")


def test_metrics_need_the_api_token_when_one_is_set_and_can_be_turned_off(
    trained_models: Path, start_server: StartServer, tmp_path: Path
) -> None:
    guarded = start_server([str(trained_models), "--api-token", "scrape-me"])
    guarded.wait_ready()
    assert httpx.get(f"{guarded.url}/metrics", timeout=10).status_code == 401
    samples = scrape(guarded, Authorization="Bearer scrape-me")
    assert any(name == "modelport_build_info" for name, _ in samples)
    off = start_server([str(trained_models), "--no-metrics"])
    off.wait_ready()
    assert httpx.get(f"{off.url}/metrics", timeout=10).status_code == 404


def _version() -> str:
    from modelport import __version__

    return __version__


def test_triton_and_kserve_names_when_asked(
    trained_models: Path, start_server: StartServer, server: Server
) -> None:
    assert not [name for name, _ in scrape(server) if name.startswith(("nv_", "request_"))]
    compat = start_server([str(trained_models), "--metrics-compat", "triton,kserve"])
    compat.wait_ready()
    with httpx.Client(timeout=30) as http:
        for _ in range(3):
            ok = http.post(f"{compat.url}/v1/models/iris-lr:predict", json={"instances": [ROW]})
            assert ok.status_code == 200
        bad = http.post(f"{compat.url}/v1/models/iris-lr:predict", json={"instances": [[1]]})
        assert bad.status_code == 422
    samples = scrape(compat)
    lr = {"model": "iris-lr", "version": "1"}
    assert value(samples, "nv_inference_request_success", **lr) == 3
    assert value(samples, "nv_inference_request_failure", **lr, reason="invalid_input") == 1
    assert value(samples, "nv_inference_count", **lr) == 3
    assert 1 <= value(samples, "nv_inference_exec_count", **lr) <= 3
    assert value(samples, "nv_inference_queue_duration_us", **lr) > 0
    assert value(samples, "nv_inference_compute_infer_duration_us", **lr) > 0
    assert value(samples, "request_predict_seconds_count", model_name="iris-lr") == 3


def test_metrics_on_a_port_of_their_own_for_every_worker(
    trained_models: Path, start_server: StartServer
) -> None:
    port = free_port()
    own = start_server(
        [str(trained_models), "--workers", "2", "--metrics-port", str(port), "--api-token", "t"]
    )
    own.wait_ready()
    token = {"Authorization": "Bearer t"}
    with httpx.Client(timeout=30) as http:
        for _ in range(4):
            ok = http.post(
                f"{own.url}/v1/models/iris-lr:predict", json={"instances": [ROW]}, headers=token
            )
            assert ok.status_code == 200
        assert http.get(f"{own.url}/metrics", headers=token).status_code == 404
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        assert http.get(metrics_url).status_code == 401
        assert http.get(f"http://127.0.0.1:{port}/other", headers=token).status_code == 404
        # Each worker folds its counts in within a quarter second; then fresh connections,
        # whichever worker they reach, answer with both workers' counts.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = http.get(metrics_url, headers=token).text
            if 'status="ok",version="1"} 4.0' in text:
                break
        for _ in range(4):
            with httpx.Client(timeout=30) as fresh:
                text = fresh.get(metrics_url, headers=token).text
            samples = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
            }
            labels = {"model": "iris-lr", "version": "1", "protocol": "native", "status": "ok"}
            assert value(samples, "modelport_requests_total", **labels) == 4
    assert own.stop() == 0
