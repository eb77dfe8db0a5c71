"""``kill -9`` of one worker of ``modelport serve --workers 2`` under load: the supervisor
starts a new one, the other keeps answering, the only requests that fail are those in
flight on the killed worker (a clean connection error for the client), and no client
ever gets a wrong answer."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from e2e.conftest import Server, StartServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIENTS = 8
#: Two inputs with different answers, so an answer sent to the wrong request would show.
ROWS = ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3])
RECOVERY_LIMIT_S = 30


def _workers(server: Server) -> set[int]:
    """The worker processes' ids (the supervisor's children that run the app)."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = set()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:  # gone meanwhile
            continue
        if b"spawn_main" in command:  # not multiprocessing's resource tracker
            found.add(int(child))
    return found


def _serving(server: Server) -> int:
    """How many workers have started serving since the server started (each logs it)."""
    return server.log().count("Application startup complete")


@dataclass
class Tally:
    ok_before: int = 0
    ok_during: int = 0
    ok_after: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(
    url: str,
    index: int,
    expected: list[object],
    tally: Tally,
    phase: list[str],
    stop: threading.Event,
) -> None:
    """One client on its own keep-alive connection, alternating the two inputs."""
    with httpx.Client(base_url=url, timeout=10) as http:
        turn = index
        while not stop.is_set():
            turn += 1
            which = turn % 2
            try:
                answer = http.post("/v1/models/iris-lr:predict", json={"instances": [ROWS[which]]})
            except httpx.TransportError as exc:
                with tally.lock:  # the phase when it failed: it was sent before
                    tally.errors.append(f"{phase[0]}: {type(exc).__name__}: {exc}")
                continue
            now = phase[0]
            right = answer.status_code == 200 and _predictions(answer) == expected[which]
            with tally.lock:
                if right:
                    setattr(tally, f"ok_{now}", getattr(tally, f"ok_{now}") + 1)
                else:
                    tally.wrong.append(f"{now}: {answer.status_code} {answer.text[:200]}")


def _predictions(answer: httpx.Response) -> object:
    """The answer's predictions; None for a body that is not the JSON of one."""
    try:
        return answer.json()["predictions"]
    except (ValueError, KeyError, TypeError):
        return None


def test_a_killed_worker_is_replaced_and_the_other_keeps_answering(
    start_server: StartServer, model_dir: Path
) -> None:
    server = start_server([str(model_dir), "--workers", "2"])
    server.wait_ready()
    deadline = time.monotonic() + 60
    while len(_workers(server)) < 2 or _serving(server) < 2:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    expected = []
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for row in ROWS:
            answer = http.post("/v1/models/iris-lr:predict", json={"instances": [row]})
            expected.append(answer.json()["predictions"])
    assert expected[0] != expected[1]

    tally = Tally()
    phase = ["before"]
    stop = threading.Event()

    threads = [
        threading.Thread(target=_client, args=(server.url, i, expected, tally, phase, stop))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        victim = min(_workers(server))
        survivors = _workers(server) - {victim}
        phase[0] = "during"
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        while True:
            # A new worker, and it says it serves: the two first ones and the new one.
            if _workers(server) - survivors - {victim} and _serving(server) == 3:
                break
            assert time.monotonic() - killed_at < RECOVERY_LIMIT_S, server.log()
            time.sleep(0.05)
        recovered_s = time.monotonic() - killed_at
        phase[0] = "after"
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    print(
        f"\nworker kill: recovered in {recovered_s:.1f} s; answered {tally.ok_before} before, "
        f"{tally.ok_during} while one worker was down, {tally.ok_after} after; "
        f"{len(tally.errors)} connection errors; {len(tally.wrong)} wrong answers"
    )
    assert not tally.wrong, tally.wrong[:5]
    # At most one request per client was in flight on the killed worker.
    assert len(tally.errors) <= CLIENTS, tally.errors
    assert all(error.startswith("during") for error in tally.errors), tally.errors
    assert tally.ok_during > 0, "the other worker kept answering"
    assert tally.ok_after > 0
    assert server.process.poll() is None, "the supervisor is still running"
