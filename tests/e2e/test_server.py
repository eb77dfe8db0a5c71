"""The server process as an operator sees it: start-up, readiness, docs, settings, workers,
shutdown."""

from __future__ import annotations

import concurrent.futures
import pickle
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import StartServer, make_quirky_model

pytestmark = pytest.mark.e2e

GOOD = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


class _SleepsWhenLoaded:
    """Unpickles as ``time.sleep(3)`` (None): a slow, and in the end failing, model load."""

    def __reduce__(self) -> tuple[Any, tuple[float]]:
        return (time.sleep, (3.0,))


def test_ready_waits_for_every_model_while_live_answers(
    start_server: StartServer, model_dir: Path
) -> None:
    (model_dir / "sleepy" / "1").mkdir(parents=True)
    (model_dir / "sleepy" / "1" / "model.pkl").write_bytes(pickle.dumps(_SleepsWhenLoaded()))
    server = start_server([str(model_dir)])
    deadline = time.monotonic() + 30
    while True:
        try:
            live = httpx.get(f"{server.url}/health/live", timeout=2)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
    assert live.status_code == 200
    ready = httpx.get(f"{server.url}/health/ready")
    assert ready.status_code == 503
    assert ready.json()["error"] == "not_ready"
    server.wait_ready()
    models = {m["name"]: m for m in httpx.get(f"{server.url}/v1/models").json()["models"]}
    assert models["sleepy"]["state"] == "failed"
    assert "no predict() method" in models["sleepy"]["error"]
    assert models["iris-lr"]["ready"] is True


def test_missing_model_dir_serves_nothing_but_runs(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server([str(tmp_path / "absent")])
    server.wait_ready()
    assert httpx.get(f"{server.url}/v1/models").json() == {"models": []}
    assert "does not exist" in server.log()


def test_offline_docs_and_openapi(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert len(script.content) > 100_000
    assert client.get("/static/swagger-ui/swagger-ui.css").status_code == 200
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/v1/models/{name}:predict"]["post"]
    schema = predict["requestBody"]["content"]["application/json"]["schema"]
    assert {"instances", "inputs", "dataframe_split", "dataframe_records"} <= set(
        schema["properties"]
    )
    assert "/v1/models/{name}/versions/{version}:predict" in spec["paths"]
    assert "/health/ready" in spec["paths"]


def test_toml_file_then_env_then_flags(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    (tmp_path / "modelport.toml").write_text(
        f'model_dir = "{trained_models}"\nmax_body_size = 2048\nrequest_timeout = 9\n'
    )
    big = {"instances": [[5.1, 3.5, 1.4, 0.2]] * 200}  # ~4.4 KB
    from_file = start_server([], cwd=tmp_path)
    from_env = start_server([], cwd=tmp_path, env={"MODELPORT_MAX_BODY_SIZE": "3000"})
    from_flag = start_server(
        ["--max-body-size", "100000"], cwd=tmp_path, env={"MODELPORT_MAX_BODY_SIZE": "3000"}
    )
    for server in (from_file, from_env, from_flag):
        server.wait_ready()
    predict = "/v1/models/iris-lr:predict"
    assert "2048 bytes" in httpx.post(from_file.url + predict, json=big).json()["message"]
    assert "3000 bytes" in httpx.post(from_env.url + predict, json=big).json()["message"]
    assert httpx.post(from_flag.url + predict, json=big).status_code == 200
    # The model_dir from the TOML file was used by all three.
    assert httpx.post(from_file.url + predict, json=GOOD).json()["predictions"] == ["setosa"]


def test_bad_settings_fail_fast_with_a_message(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server([str(tmp_path), "--request-timeout", "-1"])
    assert server.process.wait(timeout=30) == 2
    assert "request_timeout" in server.log()
    missing = start_server([str(tmp_path), "--config", str(tmp_path / "nope.toml")])
    assert missing.process.wait(timeout=30) == 2
    assert "does not exist" in missing.log()


def test_many_workers_share_one_port(start_server: StartServer, trained_models: Path) -> None:
    server = start_server([str(trained_models), "--workers", "2"])
    server.wait_ready()
    with httpx.Client(base_url=server.url) as http:
        answers = {
            tuple(http.post("/v1/models/iris-lr:predict", json=GOOD).json()["predictions"])
            for _ in range(20)
        }
    assert answers == {("setosa",)}
    assert server.stop() == 0


def test_sigterm_stops_cleanly(start_server: StartServer, model_dir: Path) -> None:
    server = start_server([str(model_dir)])
    server.wait_ready()
    assert httpx.post(f"{server.url}/v1/models/iris-dt:predict", json=GOOD).status_code == 200
    assert server.stop() == 0
    assert "Application shutdown complete" in server.log()


def test_served_from_a_copied_bare_file(
    start_server: StartServer, tmp_path: Path, trained_models: Path
) -> None:
    models = tmp_path / "bare"
    models.mkdir()
    shutil.copy(trained_models / "iris-dt" / "1" / "model.joblib", models / "dt_iris.model")
    (models / "README.md").write_text("not a model")
    server = start_server([str(models)])
    server.wait_ready()
    names = [m["name"] for m in httpx.get(f"{server.url}/v1/models").json()["models"]]
    assert names == ["dt_iris.model"]


def test_pid_file_for_process_managers(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "run" / "modelport.pid"
    server = start_server([str(trained_models), "--pid-file", str(pid_file)])
    server.wait_ready()
    assert pid_file.read_text().strip() == str(server.process.pid)
    second = start_server([str(trained_models), "--pid-file", str(pid_file)])
    assert second.process.wait(timeout=30) == 2
    assert "names running process" in second.log()
    server.stop()
    assert not pid_file.exists()


def test_sigterm_finishes_in_flight_requests_first(
    start_server: StartServer, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    make_quirky_model(models / "quirky" / "1" / "model.pkl")
    server = start_server([str(models)])
    server.wait_ready()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(
            httpx.post,
            f"{server.url}/v1/models/quirky:predict",
            json={"instances": [[2, 0]]},  # the model sleeps 2 s
            timeout=30,
        )
        time.sleep(0.7)
        server.process.send_signal(signal.SIGTERM)
        response = in_flight.result()
    assert response.status_code == 200, (response.text, server.log())
    assert response.json()["predictions"] == [2.0]
    assert server.process.wait(timeout=30) == 0


def test_a_full_queue_answers_429_with_retry_after_and_keeps_serving(
    start_server: StartServer, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    make_quirky_model(models / "quirky" / "1" / "model.pkl")
    server = start_server([str(models)], env={"MODELPORT_MAX_QUEUE_SIZE": "2"})
    server.wait_ready()
    url = f"{server.url}/v1/models/quirky:predict"

    def ask(first: float) -> tuple[httpx.Response, float]:
        answer = httpx.post(url, json={"instances": [[first, 0]]}, timeout=30)
        return answer, time.monotonic()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        # Two slow calls (2 s each) take both of the model's call slots ...
        slow = [pool.submit(ask, 2.0) for _ in range(2)]
        time.sleep(0.5)
        # ... so these wait in the queue: two fit, the other four are refused.
        queued = [future.result() for future in [pool.submit(ask, 0) for _ in range(6)]]
        slow_done = [future.result() for future in slow]
    assert [answer.status_code for answer, _ in slow_done] == [200, 200]
    assert sorted(answer.status_code for answer, _ in queued) == [200, 200, 429, 429, 429, 429]
    refused = [(answer, at) for answer, at in queued if answer.status_code == 429]
    for answer, at in refused:
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"] == "queue_full"
        assert "max_queue_size" in answer.json()["message"]
        # Refused at once: while the slow calls still held the model, not after them.
        assert at < min(done_at for _, done_at in slow_done)
    answer, _ = ask(0)
    assert answer.status_code == 200  # and the server goes on
