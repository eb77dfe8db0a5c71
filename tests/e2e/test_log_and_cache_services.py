"""Issue 6 end to end, on the real servers: the prediction log on every database, 1,000
predictions -> 1,000 rows on MariaDB, a cached answer shared by workers and servers
through Redis, and Redis and the database stopped mid-run without one failed prediction.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from databases import empty_database
from e2e.faultload import Traffic, varied_row
from services import unavailable
from throwaway import ThrowawayMariaDB, ThrowawayRedis

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN = "admin-token-for-outage-tests"
SETOSA = [5.1, 3.5, 1.4, 0.2]


def with_cache(model_dir: Path, name: str) -> None:
    config = model_dir / name / "model.yaml"
    config.write_text(config.read_text() + "cache: true\n")


#: One client for the whole module: making one costs ~80 ms (its TLS context), far more
#: than a prediction. "Connection: close" still gives each request a connection of its
#: own, so that requests spread over a server's workers.
_HTTP = httpx.Client(timeout=30, headers={"connection": "close"})


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    _HTTP.close()


def post(url: str, row: list[float], request_id: str, model: str = "iris-lr") -> httpx.Response:
    return _HTTP.post(
        f"{url}/v1/models/{model}:predict",
        json={"instances": [row]},
        headers={"x-request-id": request_id},
    )


def stats(server: Server) -> dict[str, Any]:
    answer = _HTTP.get(f"{server.url}/v1/admin/stats", headers=server.admin)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def count_rows(database_url: str, prefix: str) -> tuple[int, set[str]]:
    """(rows, distinct request ids) of the log whose request id starts with ``prefix``."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            ids = [
                row[0]
                for row in connection.execute(
                    text("SELECT request_id FROM prediction_log WHERE request_id LIKE :p"),
                    {"p": f"{prefix}%"},
                )
            ]
    finally:
        engine.dispose()
    return len(ids), set(ids)


def wait_rows(database_url: str, prefix: str, want: int, timeout_s: float = 30) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        rows, _ = count_rows(database_url, prefix)
        if rows >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def mariadb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of its own on the machine's MariaDB."""
    yield from empty_database("mariadb", tmp_path_factory)


@pytest.fixture
def cache_namespace() -> Iterator[str]:
    """A key prefix of its own on the machine's Redis; its keys are deleted afterwards."""
    if not redis_reachable():
        unavailable("Redis", f"{REDIS_URL} does not answer")
    import redis

    namespace = f"mp-test-{uuid.uuid4().hex[:12]}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{namespace}:*"):
        client.delete(key)
    client.close()


@pytest.mark.services
def test_1000_predictions_make_1000_rows_and_workers_share_cached_answers(
    # The database and the key prefix first: they are cleaned up after the servers stop.
    mariadb_url: str,
    cache_namespace: str,
    start_server: StartServer,
    model_dir: Path,
) -> None:
    with_cache(model_dir, "iris-dt")
    common = ["--database-url", mariadb_url, "--redis-url", REDIS_URL]
    common += ["--cache-namespace", cache_namespace]
    first = start_server([str(model_dir), "--workers", "2", *common])
    second = start_server([str(model_dir), *common])
    first.wait_ready()
    second.wait_ready()

    # One worker computes the answer; the other worker, and the other server, reuse it.
    assert post(first.url, SETOSA, "cache-0", "iris-dt").headers["x-modelport-cache"] == "miss"
    workers: dict[int, dict[str, Any]] = {}
    for i in range(200):
        answer = post(first.url, SETOSA, f"cache-{i + 1}", "iris-dt")
        assert answer.headers["x-modelport-cache"] == "hit", f"request {i + 1} missed"
        seen = stats(first)
        workers[seen["pid"]] = seen["response_cache"]
        if len(workers) == 2 and all(w["hits"] > 0 for w in workers.values()):
            break
    assert len(workers) == 2, "every request reached the same worker"
    assert all(w["backend"] == "redis" for w in workers.values())
    assert sum(w["misses"] for w in workers.values()) == 1  # computed once, in one worker
    assert all(w["hits"] > 0 for w in workers.values())
    assert post(second.url, SETOSA, "cache-other", "iris-dt").headers["x-modelport-cache"] == "hit"

    # 1,000 predictions, 8 at a time, distinct inputs: 1,000 rows in MariaDB.
    def one(i: int) -> int:
        row = [4.0 + (i % 40) / 10, 3.0, 1.0 + (i % 50) / 10, 0.2]
        return post(first.url, row, f"load-{i}").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(1000)))
    assert statuses == [200] * 1000
    assert wait_rows(mariadb_url, "load-", 1000) == 1000
    rows, ids = count_rows(mariadb_url, "load-")
    assert rows == 1000 and ids == {f"load-{i}" for i in range(1000)}


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Until the server shows what the outage should cause (bounded polling)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.services
def test_stopping_redis_and_the_database_fails_no_prediction(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    redis_server = ThrowawayRedis(tmp_path / "redis")
    mariadb = ThrowawayMariaDB(tmp_path / "mariadb")
    try:
        redis_server.start()
        mariadb.start()
        mariadb.create_database("modelport")
        url = mariadb.url("modelport")
        server = start_server(
            [
                str(model_dir),
                *("--database-url", url, "--redis-url", redis_server.url, "--cache"),
                *("--admin-token", ADMIN, "--log-buffer-size", "200"),
                *("--log-flush-interval", "0.2"),
            ]
        )
        server.wait_ready()
        traffic = Traffic(server.url, row=varied_row, pause_s=0.006)
        sender = threading.Thread(target=traffic.run, name="traffic")
        sender.start()
        # Each step waits for the server to show the last one's effect, not for a time.
        try:
            wait_for(lambda: traffic.hits_since(0) >= 20, "cache hits from Redis")
            redis_server.stop()
            wait_for(lambda: stats(server)["response_cache"]["redis_failures"] >= 1, "a miss")
            mariadb.stop()
            # Down, and the log buffer (200) overflowed: predictions go on, rows are dropped.
            wait_for(
                lambda: (
                    not (log := stats(server)["prediction_log"])["database_up"]
                    and log["dropped"] > 0
                ),
                "the log to count rows dropped while the database is down",
            )
            during = stats(server)["prediction_log"]
            mariadb.start()  # back: it accepts connections from here on
            back = time.monotonic()
            wait_for(lambda: stats(server)["prediction_log"]["database_up"], "the database")
            redis_server.start()
            redis_back = time.monotonic()
            # The cache leaves a failed Redis alone for 5 s, then hits again.
            wait_for(lambda: traffic.hits_since(redis_back) >= 20, "hits from Redis again")
        finally:
            traffic.stop.set()
            sender.join(timeout=60)
        failed = traffic.failed()
        assert failed == [], f"{len(failed)} of {len(traffic.sent)} predictions failed"
        assert all(sent.cache in ("hit", "miss") for sent in traffic.sent)
        # The overflow was counted, and exposed while the database was down.
        assert during["database_up"] is False and during["dropped"] > 0, during
        deadline = time.monotonic() + 30
        while (final := stats(server)["prediction_log"])["buffered"] and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        assert final["buffered"] == 0 and final["database_up"] is True, final
        # Every prediction made after the database came back is in the log...
        rows, ids = count_rows(url, "t-")
        after = traffic.since(back)
        assert len(after) > 100
        assert set(after) <= ids, f"{len(set(after) - ids)} rows missing after the return"
        # ...and each one is either a row or counted as dropped, none lost unseen.
        assert len(ids) + final["dropped"] == len(traffic.sent), (len(ids), final)
        assert rows == len(ids)  # nothing written twice
        print(
            f"outage run: {len(traffic.sent)} predictions, 0 failed; {len(ids)} logged, "
            f"{final['dropped']} dropped (buffer 200); {len(after)} after the database "
            "returned, all logged"
        )
        # Redis is back too: the cache answers again.
        repeat = [post(server.url, [7.0, 3.2, 4.7, 1.4], f"r-{i}") for i in range(2)]
        assert [r.headers["x-modelport-cache"] for r in repeat] == ["miss", "hit"]
        cache = stats(server)["response_cache"]
        assert cache["redis_failures"] >= 1 and cache["hits"] > 0
        assert "buffer full" in server.log()
    finally:
        redis_server.close()
        mariadb.close()


def test_every_database_logs_pages_and_exports(
    start_server: StartServer, model_dir: Path, database_url: str, tmp_path: Path
) -> None:
    server = start_server([str(model_dir), "--database-url", database_url])
    server.wait_ready()
    for i in range(30):
        assert post(server.url, SETOSA, f"db-{i}").status_code == 200
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(got) < 30 and time.monotonic() < deadline:
        answer = _HTTP.get(f"{server.url}/v1/models/iris-lr/predictions", headers=server.admin)
        got = answer.json()["predictions"]
        time.sleep(0.1)
    assert [row["request_id"] for row in got] == [f"db-{i}" for i in range(30)]
    assert got[0]["output"] == {"predictions": ["setosa"]} and got[0]["protocol"] == "native"
    export = subprocess.run(
        [
            str(Path(sys.executable).with_name("modelport")),
            *("predictions", "export", "iris-lr", "--database-url", database_url),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert export.returncode == 0, export.stderr
    rows = list(csv.DictReader(io.StringIO(export.stdout)))
    assert [row["request_id"] for row in rows] == [f"db-{i}" for i in range(30)]
