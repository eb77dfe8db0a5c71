"""The server process as an operator sees it: start-up, readiness, docs, settings, workers,
shutdown."""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import os
import pickle
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import StartServer, make_quirky_model

pytestmark = pytest.mark.e2e

GOOD = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


class _WaitsWhenLoaded:
    """Unpickles as ``os.open(fifo, O_RDONLY)``, which blocks until the test opens the FIFO
    for writing; then the load fails (a file descriptor has no predict())."""

    def __init__(self, fifo: Path) -> None:
        self.fifo = fifo

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return (os.open, (str(self.fifo), os.O_RDONLY))


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    """Wait for something another process does (bounded: fails after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


def release_reader(fifo: Path) -> bool:
    """Open the FIFO for writing once its reader is there, which lets the reader go."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # nobody reading yet
            return False
        raise
    return True


@contextlib.contextmanager
def released_at_exit(hold: Path) -> Iterator[None]:
    """Let go of the held model calls however the test ends (a failed test too)."""
    try:
        yield
    finally:
        (hold / "release").touch()


def calls_started(hold: Path) -> int:
    """Calls of the quirky model that are held (its -3 command)."""
    return len(list(hold.glob("started-*")))


def test_ready_waits_for_every_model_while_live_answers(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "load-gate"
    os.mkfifo(fifo)
    (model_dir / "waits" / "1").mkdir(parents=True)
    (model_dir / "waits" / "1" / "model.pkl").write_bytes(pickle.dumps(_WaitsWhenLoaded(fifo)))
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
    wait_until(lambda: release_reader(fifo), "the server to load the waiting model")
    server.wait_ready()
    models = {m["name"]: m for m in httpx.get(f"{server.url}/v1/models").json()["models"]}
    assert models["waits"]["state"] == "failed"
    assert "no predict() method" in models["waits"]["error"]
    assert models["iris-lr"]["ready"] is True


def test_missing_model_dir_with_watch_serves_nothing_but_runs(
    start_server: StartServer, tmp_path: Path
) -> None:
    # Without --watch it stops with exit 2: see test_first_minutes.py.
    server = start_server([str(tmp_path / "absent"), "--watch"])
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
    assert names == ["dt_iris"]  # named without its ending


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
    models, hold = tmp_path / "models", tmp_path / "hold"
    make_quirky_model(models / "quirky" / "1" / "model.pkl")
    hold.mkdir()
    server = start_server([str(models)], env={"QUIRKY_HOLD": str(hold)})
    server.wait_ready()
    with concurrent.futures.ThreadPoolExecutor(1) as pool, released_at_exit(hold):
        in_flight = pool.submit(
            httpx.post,
            f"{server.url}/v1/models/quirky:predict",
            json={"instances": [[-3, 0]]},  # the model holds the call until released
            timeout=30,
        )
        wait_until(lambda: calls_started(hold) == 1, "the model call")
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "Shutting down" in server.log(), "the server to begin its shutdown")
        assert not in_flight.done()
        (hold / "release").touch()
        response = in_flight.result()
    assert response.status_code == 200, (response.text, server.log())
    assert response.json()["predictions"] == [-3.0]
    assert server.process.wait(timeout=30) == 0


def test_a_full_queue_answers_429_with_retry_after_and_keeps_serving(
    start_server: StartServer, tmp_path: Path
) -> None:
    models, hold = tmp_path / "models", tmp_path / "hold"
    make_quirky_model(models / "quirky" / "1" / "model.pkl")
    hold.mkdir()
    server = start_server(
        [str(models)], env={"MODELPORT_MAX_QUEUE_SIZE": "2", "QUIRKY_HOLD": str(hold)}
    )
    server.wait_ready()
    url = f"{server.url}/v1/models/quirky:predict"

    def ask(first: float) -> httpx.Response:
        return httpx.post(url, json={"instances": [[first, 0]]}, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(8) as pool, released_at_exit(hold):
        # Two held calls take both of the model's call slots (one at a time, so that the
        # two requests are not batched into one call) ...
        held = [pool.submit(ask, -3)]
        wait_until(lambda: calls_started(hold) == 1, "the first held call")
        held.append(pool.submit(ask, -3))
        wait_until(lambda: calls_started(hold) == 2, "the second held call")
        # ... so these wait in the queue: two fit, the other four are refused at once,
        # while the held calls still have the model.
        asked = [pool.submit(ask, 0) for _ in range(6)]
        wait_until(lambda: sum(future.done() for future in asked) >= 4, "the refusals")
        early = [future.result() for future in asked if future.done()]
        assert not any(future.done() for future in held)
        (hold / "release").touch()
        queued = [future.result() for future in asked]
        held_answers = [future.result() for future in held]
    assert [answer.status_code for answer in held_answers] == [200, 200]
    assert sorted(answer.status_code for answer in queued) == [200, 200, 429, 429, 429, 429]
    assert [answer.status_code for answer in early] == [429] * 4
    for answer in early:
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"] == "queue_full"
        assert "max_queue_size" in answer.json()["message"]
    assert ask(0).status_code == 200  # and the server goes on
