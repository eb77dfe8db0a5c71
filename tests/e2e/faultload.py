"""Background prediction traffic for the fault tests: what a client saw while a test broke
something under it (one place for the loops those tests share)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["SETOSA", "Predictor", "Sent", "Traffic"]

SETOSA = [5.1, 3.5, 1.4, 0.2]


def varied_row(index: int) -> list[float]:
    """Every other request repeats an input, so a response cache has something to hit."""
    return SETOSA if index % 2 else [4.0 + (index % 40) / 10, 3.0, 1.0 + (index % 50) / 10, 0.2]


@dataclass(frozen=True)
class Sent:
    request_id: str
    at: float
    status: int  # 0: no answer (a connection error)
    took: float
    cache: str | None


class Traffic:
    """Single-row iris-lr predictions one after the other, each with its request id, from
    ``run`` (in a thread) until ``stop`` is set or ``limit_s`` pass."""

    def __init__(
        self,
        url: str,
        row: Callable[[int], list[float]] = lambda _: SETOSA,
        pause_s: float = 0.005,
        limit_s: float = 120.0,
    ) -> None:
        self.url = url
        self.row = row
        self.pause_s = pause_s
        self.limit_s = limit_s
        self.sent: list[Sent] = []
        self.stop = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=30) as http:
            index = 0
            while not self.stop.is_set() and time.monotonic() - began < self.limit_s:
                request_id = f"t-{index}"
                at = time.monotonic()
                try:
                    answer = http.post(
                        "/v1/models/iris-lr:predict",
                        json={"instances": [self.row(index)]},
                        headers={"x-request-id": request_id},
                    )
                    status, cache = answer.status_code, answer.headers.get("x-modelport-cache")
                except httpx.HTTPError:
                    status, cache = 0, None
                self.sent.append(Sent(request_id, at, status, time.monotonic() - at, cache))
                index += 1
                time.sleep(self.pause_s)

    def failed(self) -> list[Sent]:
        return [sent for sent in self.sent if sent.status != 200]

    def between(self, start: float, end: float) -> list[float]:
        """How long each request sent between ``start`` and ``end`` took."""
        return [sent.took for sent in self.sent if start <= sent.at <= end]

    def since(self, moment: float) -> list[str]:
        return [sent.request_id for sent in self.sent if sent.at >= moment]

    def hits_since(self, moment: float) -> int:
        return sum(sent.cache == "hit" for sent in self.sent[:] if sent.at >= moment)


class Predictor:
    """A thread sending good predictions until the ``with`` block ends: each of ``calls``
    (a path and its body) in turn; a call whose answer is not 200, or not the expected
    predictions, is a failure."""

    def __init__(
        self,
        base_url: str,
        calls: Sequence[tuple[str, Any]],
        expected: Mapping[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url
        self.calls = calls
        self.expected = expected or {}
        self.sent = 0
        self.failed: list[str] = []
        self.answers: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            while not self._stop.is_set():
                for path, body in self.calls:
                    self.sent += 1
                    try:
                        answer = http.post(path, json=body)
                    except httpx.HTTPError as exc:
                        self.failed.append(f"{path}: {exc!r}")
                        continue
                    if answer.status_code != 200:
                        self.failed.append(f"{path}: {answer.status_code} {answer.text[:200]}")
                        continue
                    predictions = answer.json()["predictions"]
                    if path in self.expected and predictions != self.expected[path]:
                        self.failed.append(f"{path}: wrong answer {answer.text[:200]}")
                    self.answers.add(str(predictions))
                time.sleep(0.005)

    def __enter__(self) -> Predictor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)
