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
