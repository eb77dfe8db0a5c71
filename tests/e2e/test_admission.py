"""A burst past ``max_concurrent_requests``: the requests over the limit get 429 queue_full
with Retry-After at once, the admitted ones are answered, health checks answer throughout,
and the server takes new requests as soon as the burst is over."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from e2e.conftest import Server, StartServer

pytestmark = pytest.mark.e2e

LIMIT = 2
BURST = 8
SLOW_S = 1.5
SLOW_MODEL = (
    "import time\n\n\n"
    "def predict(x: float) -> float:\n"
    "    if x > 0:\n"
    f"        time.sleep({SLOW_S})\n"
    "    return x\n"
)


def wait_for_log(server: Server, *parts: str) -> None:
    """Until one line of the server's log has every part (access lines are written in
    batches, a tenth of a second apart)."""
    deadline = time.monotonic() + 10
    while not any(all(p in line for p in parts) for line in server.log().splitlines()):
        assert time.monotonic() < deadline, f"no log line with {parts}"
        time.sleep(0.1)


def test_a_burst_past_the_limit_is_refused_fast_while_health_answers(
    start_server: StartServer, tmp_path: Path
) -> None:
    (tmp_path / "models" / "slow" / "1").mkdir(parents=True)
    (tmp_path / "models" / "slow" / "1" / "model.py").write_text(SLOW_MODEL)
    server = start_server(
        [str(tmp_path / "models"), "--max-concurrent-requests", str(LIMIT), "--no-batching"]
    )
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=30) as http:

        def call(number: int) -> tuple[int, float, httpx.Response]:
            began = time.monotonic()
            answer = http.post(
                "/v1/models/slow:predict",
                json={"instances": [[1.0]]},
                headers={"X-Request-ID": f"burst-{number}"},
            )
            return answer.status_code, time.monotonic() - began, answer

        with ThreadPoolExecutor(BURST) as clients:
            calls = [clients.submit(call, i) for i in range(BURST)]
            time.sleep(SLOW_S / 3)  # the burst is in: the slow calls hold the server
            health = [http.get(path) for path in ("/health/live", "/health/ready")]
            answers = [c.result() for c in calls]

    assert [h.status_code for h in health] == [200, 200]
    ok = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    assert len(ok) + len(refused) == BURST, [a[0] for a in answers]
    assert 1 <= len(ok) <= LIMIT
    assert len(refused) >= BURST - LIMIT
    for _, seconds, answer in refused:
        assert seconds < SLOW_S / 2  # at once, not after waiting behind the slow calls
        assert answer.headers["retry-after"] == "1"
        body = answer.json()
        assert body["error"] == "queue_full"
        assert "max_concurrent_requests" in body["message"]
        # Refused, yet traceable like any answer: its id comes back and is logged.
        request_id = answer.headers["x-request-id"]
        assert request_id.startswith("burst-")
        wait_for_log(server, " 429 ", request_id)
    # Over: the next request is admitted and answered.
    again = httpx.post(f"{server.url}/v1/models/slow:predict", json={"instances": [[0.0]]})
    assert again.status_code == 200, again.text
    assert again.json()["predictions"] == [0.0]


def refused_so_far(server: Server, series: str) -> float:
    """The value of one series of /metrics (0 before it appears)."""
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith(series + " ") or line.startswith(series + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_refusals_past_the_concurrency_limit_are_counted_in_metrics(
    start_server: StartServer, tmp_path: Path
) -> None:
    (tmp_path / "models" / "slow" / "1").mkdir(parents=True)
    (tmp_path / "models" / "slow" / "1" / "model.py").write_text(SLOW_MODEL)
    server = start_server([str(tmp_path / "models"), "--max-concurrent-requests", "1"])
    server.wait_ready()
    with ThreadPoolExecutor(4) as clients:
        statuses = list(
            clients.map(
                lambda _: (
                    httpx.post(
                        f"{server.url}/v1/models/slow:predict",
                        json={"instances": [[1.0]]},
                        timeout=30,
                    ).status_code
                ),
                range(4),
            )
        )
    assert statuses.count(429) >= 2, statuses
    deadline = time.monotonic() + 10  # the counters are brought up to date every second
    while refused_so_far(server, "modelport_requests_refused_total") < statuses.count(429):
        assert time.monotonic() < deadline, "the refusals never showed in /metrics"
        time.sleep(0.2)


QUEUED_S = 0.2
#: Sleeps per row: a batch of n rows takes n times as long, like a model that runs
#: Python for each row.
PER_ROW_MODEL = (
    f"import time\n\n\ndef predict(x: float) -> float:\n    time.sleep({QUEUED_S})\n    return x\n"
)


def test_a_request_that_would_wait_past_the_queued_work_budget_is_refused_at_once(
    start_server: StartServer, tmp_path: Path
) -> None:
    (tmp_path / "models" / "rowwise" / "1").mkdir(parents=True)
    (tmp_path / "models" / "rowwise" / "1" / "model.py").write_text(PER_ROW_MODEL)
    server = start_server([str(tmp_path / "models"), "--max-queue-wait-ms", "10"])
    server.wait_ready()
    url = f"{server.url}/v1/models/rowwise:predict"
    assert httpx.post(url, json={"instances": [[0.0]]}).status_code == 200  # its pace
    burst = 24
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=burst)) as http:

        def call(_: int) -> tuple[int, float, httpx.Response]:
            began = time.monotonic()
            answer = http.post(url, json={"instances": [[1.0]]})
            return answer.status_code, time.monotonic() - began, answer

        with ThreadPoolExecutor(burst) as clients:
            answers = list(clients.map(call, range(burst)))
    ok = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    assert len(ok) + len(refused) == burst, [a[0] for a in answers]
    # Without the budget all 24 would be admitted, the last answered after about
    # 24 x 0.2 s / 2 = 2.4 s; with it, what waits is two calls' worth (0.4 s) of rows.
    assert 2 <= len(ok) <= 10, len(ok)
    assert max(seconds for _, seconds, _ in ok) < 1.7
    for _, seconds, answer in refused:
        assert seconds < 2 * QUEUED_S, seconds  # not after the queue (1.6 s)
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"] == "queue_full"
        assert "max_queue_wait_ms" in answer.json()["message"]
    series = (
        'modelport_requests_total{model="rowwise",protocol="native",status="queue_full",'
        'version="1"}'
    )
    deadline = time.monotonic() + 10
    while refused_so_far(server, series) < len(refused):
        assert time.monotonic() < deadline, "the refusals never showed in /metrics"
        time.sleep(0.2)
    # The burst is over: the model answers again.
    assert httpx.post(url, json={"instances": [[2.0]]}).status_code == 200
