"""A slow database: another connection holds a lock on the prediction log's table for
several seconds while predictions keep coming (SQLite: an open ``BEGIN EXCLUSIVE`` on the
server's own database file). No prediction fails, none waits for the lock (the log is
written off the request path), every prediction is a row once the lock is gone or counted
as dropped, and a management action asked for meanwhile either waits and succeeds or is a
JSON 503, within the request timeout, never a 500."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from databases import empty_database

from .conftest import Server, StartServer
from .faultload import Traffic

pytestmark = pytest.mark.e2e

ADMIN = "admin-token-for-database-faults"
#: How long the test holds the lock: several times the log's flush interval.
HOLD_S = 4.0
REQUEST_TIMEOUT_S = 3.0


def stats(http: httpx.Client) -> dict[str, Any]:
    answer = http.get("/v1/admin/stats")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["prediction_log"]
    return result


def logged_ids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT request_id FROM prediction_log WHERE request_id LIKE 't-%'")
            ).all()
    finally:
        engine.dispose()
    return [row[0] for row in rows]


@contextlib.contextmanager
def held_lock(url: str) -> Iterator[None]:
    """Another connection holds a lock on the prediction log until the block ends."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        locker = sqlite3.connect(parsed.database or "", timeout=0, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # nobody else writes the file now
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("LOCK TABLES prediction_log WRITE")  # nobody reads it
            try:
                yield
            finally:
                connection.exec_driver_sql("UNLOCK TABLES")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "mariadb"])
def served(
    request: pytest.FixtureRequest,
    start_server: StartServer,
    trained_models: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, str]]:
    models = tmp_path / "models"
    shutil.copytree(trained_models / "iris-lr", models / "iris-lr")
    databases = empty_database(request.param, tmp_path_factory)
    url = next(databases)
    args = [str(models), "--admin-token", ADMIN, "--log-flush-interval", "0.2"]
    args += ["--request-timeout", str(REQUEST_TIMEOUT_S)]
    if request.param == "sqlite":
        url = f"sqlite:///{models / '.modelport' / 'modelport.db'}"  # its default place
    else:
        args += ["--database-url", url]
    started = start_server(args)
    started.wait_ready()
    yield started, url
    started.stop()
    next(databases, None)  # its cleanup: drops a MariaDB database of its own


def test_a_held_lock_on_the_log_fails_no_prediction_and_loses_no_row(
    served: tuple[Server, str],
) -> None:
    server, url = served
    admin = httpx.Client(base_url=server.url, timeout=30, headers=server.admin)
    traffic = Traffic(server.url)
    sender = threading.Thread(target=traffic.run, name="traffic")
    sender.start()
    actions: list[tuple[str, int, float, str]] = []
    try:
        while len(traffic.sent) < 50:
            time.sleep(0.05)
        before = time.monotonic()
        with held_lock(url):
            locked = time.monotonic()
            # Management actions while the lock is held: a write, and reads (the log's too).
            for what, method, path, payload in (
                ("alias", "PUT", "/v1/admin/models/iris-lr/aliases/prod", {"version": 1}),
                ("audit", "GET", "/v1/admin/audit", None),
                ("log", "GET", "/v1/models/iris-lr/predictions", None),
            ):
                started = time.monotonic()
                answer = admin.request(method, path, json=payload)
                took = time.monotonic() - started
                actions.append((what, answer.status_code, took, answer.text[:200]))
            time.sleep(max(0.0, HOLD_S - (time.monotonic() - locked)))
            during = stats(admin)
        released = time.monotonic()
        deadline = released + 30
        # Written again: the backlog of the lock is gone (traffic keeps a few rows waiting).
        while time.monotonic() < deadline and (
            not (now := stats(admin))["database_up"] or now["buffered"] > 100
        ):
            time.sleep(0.05)
        recovered = time.monotonic() - released
        time.sleep(0.3)
    finally:
        traffic.stop.set()
        sender.join(timeout=60)
    deadline = time.monotonic() + 30
    while (final := stats(admin))["buffered"] and time.monotonic() < deadline:
        time.sleep(0.1)
    admin.close()

    failed = traffic.failed()
    ids = logged_ids(url)
    lost = len(traffic.sent) - len(set(ids)) - final["dropped"]
    held = traffic.between(locked, released)
    usual = traffic.between(before - 5, locked)
    print(
        f"\n{url.split(':')[0]}: lock held {released - locked:.1f} s: "
        f"{len(traffic.sent)} predictions, "
        f"{len(failed)} failed; {len(held)} during the lock, slowest {max(held):.3f} s "
        f"(before it {max(usual):.3f} s); rows {len(ids)}, dropped {final['dropped']}, "
        f"lost {lost}; log written again {recovered:.2f} s after the release; "
        f"buffered during the lock {during['buffered']}, database_up {during['database_up']}"
    )
    for what, status, took, body in actions:
        print(f"  {what} during the lock: {status} in {took:.2f} s: {body}")
    assert failed == [], failed[:5]
    assert len(held) >= 20, "too few predictions during the lock to say anything"
    # Not held by the lock: no prediction waited anywhere near it.
    assert max(held) < 1.0, sorted(held)[-5:]
    assert during["buffered"] > 0, during  # the rows waited, the answers did not
    assert lost == 0 and len(ids) == len(set(ids)), (len(ids), final)
    assert recovered < 10
    for what, status, took, body in actions:
        assert status in (200, 503), (what, status, body)
        assert took < REQUEST_TIMEOUT_S + 1.5, (what, took)
        if status == 503:
            assert body.startswith("{") and '"error"' in body, body
    assert "Traceback" not in server.log() or "Internal" not in server.log()
