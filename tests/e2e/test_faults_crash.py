"""``kill -9`` of the whole server (its supervisor and workers, by the pids the test
started) while an upload streams in slowly, while another one is being loaded, and while an
alias moves back and forth in a loop; then the server starts again on the same folder and
database. What a user sees after the restart: no partial version served or listed, the
alias on a version that exists and serves, and every action whose answer came back before
the kill in the audit log, as well as the upload the kill caught while it loaded."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from databases import empty_database

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e

ADMIN = "admin-token-for-crash-tests"
SETOSA = [5.1, 3.5, 1.4, 0.2]
BOUNDARY = "crash-test-boundary"
#: A code model whose import waits while a file exists: an upload caught while it loads.
SLOW_LOADING = """\
import os
import time

while os.path.exists({hold!r}):
    time.sleep(0.05)


def predict(x: float) -> float:
    return x
"""


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            children = (task / "children").read_text(errors="replace").split()
            queue.extend(int(child) for child in children)
    return found


def kill_9(server: Server) -> int:
    """SIGKILL the server's supervisor and every worker at once; returns how many."""
    pids = process_tree(server.process.pid)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    for pid in pids:  # a worker left alive would keep the port and the files
        while Path(f"/proc/{pid}").exists() and "zombie" not in Path(
            f"/proc/{pid}/status"
        ).read_text(errors="replace"):
            assert time.monotonic() < deadline, f"process {pid} outlived SIGKILL"
            time.sleep(0.01)
    return len(pids)


def slow_upload(port: int, name: str, sent: list[int], stop: threading.Event) -> None:
    """A 64 MiB multipart upload, declared in full, sent 256 KiB at a time, never finished."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="model.joblib"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    size = 64 * 1024 * 1024
    length = len(head) + size + len(f"\r\n--{BOUNDARY}--\r\n")
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(
            (
                f"POST /v1/admin/models/{name}/versions HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {ADMIN}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {length}\r\n\r\n"
            ).encode()
            + head
        )
        chunk = b"\0" * (256 * 1024)
        try:
            while not stop.is_set() and sum(sent) < size // 2:
                conn.sendall(chunk)
                sent.append(len(chunk))
                time.sleep(0.02)
        except OSError:
            pass  # the server is gone
        stop.wait(30)


def move_alias(url: str, done: list[tuple[int, int]], stop: threading.Event) -> None:
    """Move alias prod between versions 1 and 2 until stopped; (version, status) of each
    answer that came back."""
    with httpx.Client(base_url=url, timeout=30, headers={"authorization": f"Bearer {ADMIN}"}) as h:
        index = 0
        while not stop.is_set():
            version = 1 + index % 2
            try:
                answer = h.put("/v1/admin/models/iris-lr/aliases/prod", json={"version": version})
            except httpx.TransportError:
                return  # killed mid-request: that move's answer never came back
            done.append((version, answer.status_code))
            index += 1


def wait_for(condition: Any, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_kill_9_mid_upload_and_mid_alias_move_then_restart(
    backend: str,
    start_server: StartServer,
    trained_models: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    models = tmp_path / "models"
    for number in ("1", "2"):
        shutil.copytree(trained_models / "iris-lr" / "1", models / "iris-lr" / number)
    hold = tmp_path / "hold-the-load"
    hold.touch()
    databases = empty_database(backend, tmp_path_factory)
    url = next(databases)
    args = [str(models), "--admin-token", ADMIN, "--allow-pickle-uploads"]
    # A supervisor and two workers on SQLite; one process on MariaDB (the time it costs).
    args += ["--workers", "2"] if backend == "sqlite" else ["--database-url", url]
    server = start_server(args)
    server.wait_ready()
    stop = threading.Event()
    moves: list[tuple[int, int]] = []
    sent: list[int] = []
    threads = [
        threading.Thread(target=move_alias, args=(server.url, moves, stop)),
        threading.Thread(target=slow_upload, args=(server.port, "iris-lr", sent, stop)),
    ]
    loading: dict[str, Any] = {}

    def upload_slow_loading() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as h:
            try:
                loading["answer"] = h.post(
                    "/v1/admin/models/iris-lr/versions",
                    files={"file": ("model.py", SLOW_LOADING.format(hold=str(hold)))},
                    headers=server.admin,
                )
            except httpx.TransportError as exc:
                loading["error"] = exc

    threads.append(threading.Thread(target=upload_slow_loading))
    try:
        for thread in threads:
            thread.start()
        # Kill once: the slow upload is part-way, the other one's number is taken and its
        # folder written (it is loading), and alias moves have come back.
        wait_for(lambda: (models / "iris-lr" / "3").is_dir(), "the loading upload's folder")
        wait_for(lambda: sum(sent) >= 4 * 1024 * 1024 and len(moves) >= 10, "traffic")
        time.sleep(0.05 + (time.monotonic_ns() % 100) / 1000)  # a moment of its own
        killed_at = time.monotonic()
        killed = kill_9(server)
        completed = [entry for entry in moves if entry[1] == 200]
        assert len(completed) == len(moves), moves[-5:]
    finally:
        hold.unlink(missing_ok=True)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert "answer" not in loading, loading  # it was caught mid-load

    joined = time.monotonic() - killed_at
    restarted = time.monotonic()
    again = start_server(args)
    again.wait_ready()
    recovered = time.monotonic() - restarted
    with httpx.Client(base_url=again.url, timeout=30, headers=again.admin) as http:
        history = http.get("/v1/admin/models/iris-lr/versions").json()
        listed = [v["version"] for v in history["versions"]]
        public = http.get("/v1/models/iris-lr").json()
        served = [(v["version"], v["state"]) for v in public["versions"]]
        audit = http.get("/v1/admin/audit", params={"limit": 1000}).json()["entries"]
        alias = history.get("aliases", {})
        print(
            f"\n{backend}: killed {killed} processes after {len(completed)} alias moves and "
            f"{sum(sent) / 2**20:.0f} MiB of a 64 MiB upload; threads done in {joined:.1f} s; "
            f"restarted and ready in {recovered:.2f} s; versions listed {listed}, "
            f"aliases {alias}; served {served}"
        )
        moves_logged = [e for e in audit if e["action"] == "alias.set"]
        missing = len(completed) - len(moves_logged)
        print(f"  audit: {len(moves_logged)} alias moves for {len(completed)} answered")
        assert missing <= 0, f"{missing} answered alias moves are not in the audit log"
        # The upload killed while it loaded has its entry too, for the admin who sent it,
        # written once by the restarted server that found its folder whole.
        uploads = [e for e in audit if e["action"] == "upload"]
        assert [e["detail"]["version"] for e in uploads] == [3][: len(listed) - 2], uploads
        assert all(e["actor"] == moves_logged[0]["actor"] for e in uploads), uploads
        assert all(e["outcome"] == "ok" for e in uploads), uploads
        # No partial version: what is listed is whole, ready and serves. The upload cut
        # off mid-stream never got a number; the one caught while loading had its folder
        # written in one rename, so it is whole: the restart loads it like any folder.
        assert listed in ([1, 2], [1, 2, 3]), history
        assert all(v["state"] == "ready" for v in history["versions"]), history
        assert served == [(number, "ready") for number in listed], public
        for number in listed:
            row = [1.0] if number == 3 else SETOSA  # 3 is the one-feature code model
            answer = http.post(
                f"/v1/models/iris-lr/versions/{number}:predict", json={"instances": [row]}
            )
            assert answer.status_code == 200, answer.text
        assert not (models / "iris-lr" / "4").exists()
        assert not list((models / "iris-lr").glob(".tmp-*"))
        deleted = http.get(
            "/v1/admin/models/iris-lr/versions", params={"include_deleted": "true"}
        ).json()
        assert all(v["state"] in ("ready", "deleted") for v in deleted["versions"]), deleted
        # The alias is on a version that exists and serves.
        prod = alias["prod"] if isinstance(alias, dict) else None
        assert prod in (1, 2), history
        last = [version for version, _ in completed][-1]
        # The last move answered before the kill, or the one in flight when it came.
        assert prod in (last, 3 - last), (prod, last)
        # The next upload works and gets a number of its own.
        fresh = http.post(
            "/v1/admin/models/iris-lr/versions",
            files={
                "file": ("model.joblib", (models / "iris-lr" / "1" / "model.joblib").read_bytes())
            },
        )
        assert fresh.status_code == 201, fresh.text
    next(databases, None)  # its cleanup: drops a MariaDB database of its own
