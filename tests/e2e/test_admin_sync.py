"""Every process agrees: concurrent uploads, several workers, watch mode, a killed upload."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e

ROWS = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
#: The issue's bound for every worker (or a watched folder) to serve a change.
WITHIN_S = 2.0


def upload(server: Server, data: bytes, name: str = "iris-lr") -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/admin/models/{name}/versions",
        params={"filename": "model.joblib"},
        content=data,
        headers=server.admin,
        timeout=60,
    )


def served_version(url: str, name: str = "iris-lr", alias: str | None = None) -> int | None:
    # A fresh connection each time, so that each request may reach another worker.
    path = f"{name}:predict" if alias is None else f"{name}/versions/{alias}:predict"
    response = httpx.post(f"{url}/v1/models/{path}", json=ROWS, timeout=30)
    return response.json()["model_version"] if response.status_code == 200 else None


def test_concurrent_uploads_get_distinct_consecutive_versions(
    start_server: StartServer, model_dir: Path, trained_models: Path, database_url: str
) -> None:
    server = start_server(
        [str(model_dir), "--workers", "2", "--database-url", database_url, "--allow-pickle-uploads"]
    )
    server.wait_ready()
    data = (trained_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: upload(server, data), range(6)))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert sorted(a.json()["version"] for a in answers) == [2, 3, 4, 5, 6, 7]
    assert sorted(p.name for p in (model_dir / "iris-lr").iterdir() if p.is_dir()) == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
    ]


def converged_after(url: str, expected: int, since: float, alias: str | None = None) -> float:
    """Seconds from ``since`` to the last of the answers that were not ``expected``, once 40
    requests in a row (each on its own connection, so spread over the workers) answer it."""
    streak, last_wrong = 0, since
    deadline = since + 15
    while streak < 40 and time.monotonic() < deadline:
        if served_version(url, alias=alias) == expected:
            streak += 1
        else:
            streak, last_wrong = 0, time.monotonic()
    assert streak >= 40, f"workers still disagree {deadline - since:.0f} s after the change"
    return last_wrong - since


@pytest.mark.slow  # measures how soon every worker follows (real time)
@pytest.mark.parametrize("redis", [False, True], ids=["db-polling", "redis"])
def test_every_worker_serves_an_upload_within_2_s(
    start_server: StartServer, model_dir: Path, trained_models: Path, redis: bool
) -> None:
    args = [str(model_dir), "--workers", "4", "--allow-pickle-uploads"]
    if redis:
        from services import port_open, unavailable

        if not port_open("127.0.0.1", 6379):
            unavailable("Redis", "nothing listens on 127.0.0.1:6379")
        args += ["--redis-url", "redis://127.0.0.1:6379/0", "--sync-interval", "5"]
    server = start_server(args)
    server.wait_ready()
    for _ in range(20):  # every worker has served iris-lr version 1 at least once
        assert served_version(server.url) == 1
    data = (trained_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    created = upload(server, data)
    assert created.status_code == 201, created.text
    lag = converged_after(server.url, 2, time.monotonic())
    assert lag <= WITHIN_S, f"a worker served version 1 for {lag:.2f} s after the upload"

    # An alias move reaches every worker the same way.
    moved = httpx.put(
        f"{server.url}/v1/admin/models/iris-lr/aliases/production",
        json={"version": 1},
        headers=server.admin,
    )
    assert moved.status_code == 200
    lag = converged_after(server.url, 1, time.monotonic(), alias="production")
    assert lag <= WITHIN_S, f"a worker did not know 'production' {lag:.2f} s after the move"


@pytest.mark.slow  # a real file watcher, a slow writer, and how soon it serves
def test_watch_serves_a_copied_model_within_2_s(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    server = start_server([str(model_dir), "--watch"])
    server.wait_ready()
    # A new model folder, copied in the way `cp -r` does: file by file, in place.
    started = time.monotonic()
    shutil.copytree(model_dir / "iris-lr", model_dir / "iris-copy")
    while time.monotonic() < started + 10 and served_version(server.url, "iris-copy") is None:
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    assert served_version(server.url, "iris-copy") == 1
    assert elapsed <= WITHIN_S, f"served after {elapsed:.2f} s"

    # A file written slowly is not loaded half-way: it is served once complete.
    data = (model_dir / "iris-lr" / "1" / "model.joblib").read_bytes()
    target = model_dir / "slow.joblib"
    with target.open("wb") as handle:
        for start in range(0, len(data), max(1, len(data) // 5)):
            handle.write(data[start : start + max(1, len(data) // 5)])
            handle.flush()
            time.sleep(0.1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and served_version(server.url, "slow.joblib") is None:
        time.sleep(0.05)
    assert served_version(server.url, "slow.joblib") == 1
    assert "slow.joblib' version 1 failed" not in server.log()

    # A removed model is dropped.
    shutil.rmtree(model_dir / "iris-copy")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and served_version(server.url, "iris-copy") is not None:
        time.sleep(0.05)
    assert served_version(server.url, "iris-copy") is None


def test_killing_the_server_during_an_upload_leaves_no_partial_version(
    start_server: StartServer, model_dir: Path, trained_models: Path, tmp_path: Path
) -> None:
    server = start_server([str(model_dir), "--allow-pickle-uploads"])
    server.wait_ready()
    data = (trained_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    killed = threading.Event()

    def held_body() -> Iterator[bytes]:
        yield data[: len(data) // 2]
        killed.wait(30)  # the rest is due only once the server is dead
        yield data[len(data) // 2 :]

    answered: list[httpx.Response] = []

    def send() -> None:
        # The server dies under it: that is the point.
        with contextlib.suppress(httpx.TransportError):
            answer = httpx.post(
                f"{server.url}/v1/admin/models/iris-lr/versions",
                params={"filename": "model.joblib"},
                content=held_body(),
                headers=server.admin,
                timeout=30,
            )
            answered.append(answer)

    sender = threading.Thread(target=send)
    sender.start()
    # The server streams the body into MODEL_DIR/.uploads: it is mid-upload once the file is.
    deadline = time.monotonic() + 30
    while not any((model_dir / ".uploads").glob("*")):
        assert time.monotonic() < deadline, f"the upload never began:\n{server.log()}"
        time.sleep(0.01)
    server.process.kill()  # SIGKILL: no clean-up of any kind
    server.process.wait()
    killed.set()
    sender.join(30)
    assert answered == [], "the server answered an upload whose body never finished"

    again = start_server([str(model_dir), "--allow-pickle-uploads"])
    again.wait_ready()
    history = httpx.get(f"{again.url}/v1/admin/models/iris-lr/versions", headers=again.admin).json()
    assert [v["version"] for v in history["versions"]] == [1]
    assert sorted(p.name for p in (model_dir / "iris-lr").iterdir() if p.is_dir()) == ["1"]
    assert served_version(again.url) == 1
    # and the next upload is whole
    created = upload(again, data)
    assert created.status_code == 201 and created.json()["version"] == 2
    assert served_version(again.url) == 2
