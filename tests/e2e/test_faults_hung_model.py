"""A model whose predict hangs past the request timeout, called more often than there
are inference threads: its clients get 504 (or a quick 429/503 once it holds its share of
the threads), and every other model keeps answering, with batching on and off."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from e2e.conftest import StartServer, make_quirky_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

THREADS = 2
#: How long each hung call sleeps: far past the 1 s timeout, and past the checks after.
HANG_S = 4
HUNG_CALLS = 3 * THREADS
IRIS = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


@pytest.mark.parametrize("batching", ["--batching", "--no-batching"])
def test_other_models_answer_while_one_hangs_in_every_call(
    start_server: StartServer, trained_models: Path, tmp_path: Path, batching: str
) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained_models, models)
    make_quirky_model(models / "quirky" / "1" / "model.pkl")
    server = start_server(
        [str(models), "--request-timeout", "1", "--inference-threads", str(THREADS), batching]
    )
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=HANG_S) as http:

        def hung(_: int) -> int:
            body = {"instances": [[HANG_S, 0]]}
            return http.post("/v1/models/quirky:predict", json=body).status_code

        with ThreadPoolExecutor(HUNG_CALLS) as clients:
            statuses = list(clients.map(hung, range(HUNG_CALLS)))
        # Each hung call is answered within its timeout: 504, or refused at once.
        assert set(statuses) <= {504, 429, 503}, statuses
        assert 504 in statuses
        # Every thread that the hung calls may take is still taken (they sleep on), yet
        # another model answers, again and again (a call waiting for a thread would have
        # got 504 at the 1 s timeout).
        for _ in range(5):
            answer = http.post("/v1/models/iris-lr:predict", json=IRIS)
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == ["setosa"]
        # The hung model's own new calls are answered too (not left waiting for HANG_S).
        again = http.post("/v1/models/quirky:predict", json={"instances": [[HANG_S, 0]]})
        assert again.status_code in (504, 429, 503), again.text
        assert "error" in again.json()
