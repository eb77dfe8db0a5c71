"""The webhook: a receiver that fails at first gets the document once it answers 2xx."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pytest

from modelport.monitor.profile import is_numeric
from modelport.monitor.webhook import ATTEMPTS, post_with_retries


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Any], list[int]]]:
    """(url, documents received, status codes to answer in turn, then 204)."""
    received: list[Any] = []
    answers: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(answers.pop(0) if answers else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received, answers
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_receiver_is_retried_until_it_answers(
    receiver: tuple[str, list[Any], list[int]],
) -> None:
    url, received, answers = receiver
    answers.extend([500, 503])
    delivered = asyncio.run(post_with_retries(url, {"status": "alert"}, pause=0.01))
    assert delivered
    assert received == [{"status": "alert"}] * 3


def test_a_receiver_that_never_answers_2xx_gets_every_attempt(
    receiver: tuple[str, list[Any], list[int]],
) -> None:
    url, received, answers = receiver
    answers.extend([500] * ATTEMPTS)
    assert not asyncio.run(post_with_retries(url, {"status": "ok"}, pause=0.01))
    assert len(received) == ATTEMPTS


def test_nested_values_are_not_numbers() -> None:
    assert not is_numeric(pd.Series([[1, 2], [3, 4]], dtype=object))
    assert is_numeric(pd.Series(["1.5", None, "2"], dtype=object))
