"""A worker's side of recycling: past its request limit or its memory limit it asks the
supervisor for a successor (once) and closes each connection after its answer; a limit
below a fresh worker's memory is said, not acted on (it would replace workers forever)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest
from starlette.types import Message

from modelport.api.recycling import Recycler
from modelport.config import Settings, load_settings


def _settings(tmp_path: Path, **given: int) -> Settings:
    return load_settings(model_dir=tmp_path, **given)


def _answer(recycler: Recycler) -> list[Message]:
    """What a request's answer sends through the recycler's ``send``."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def answer() -> None:
        wrapped = recycler.on_request(send)
        await wrapped({"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]})
        await wrapped({"type": "http.response.body", "body": b"{}"})

    asyncio.run(answer())
    return sent


def test_past_max_requests_it_asks_once_and_closes_connections(tmp_path: Path) -> None:
    recycler = Recycler(_settings(tmp_path, max_requests=10), tmp_path)
    assert 10 <= recycler.request_limit <= 11  # up to 10% more, drawn per worker
    for _ in range(recycler.request_limit - 1):
        start = _answer(recycler)[0]
        assert (b"connection", b"close") not in start["headers"]
    assert list(tmp_path.glob("*.json")) == []
    start, body = _answer(recycler)
    assert start["headers"] == [(b"a", b"1"), (b"connection", b"close")]
    assert body == {"type": "http.response.body", "body": b"{}"}
    ask = json.loads((tmp_path / f"{os.getpid()}.json").read_text())
    assert ask["reason"] == "requests"
    assert f"it answered {recycler.request_limit} requests (max_requests 10" in ask["why"]
    (tmp_path / f"{os.getpid()}.json").unlink()
    assert (b"connection", b"close") in _answer(recycler)[0]["headers"]
    assert list(tmp_path.iterdir()) == []  # asked once only


def test_past_max_worker_memory_it_asks_for_a_successor(tmp_path: Path) -> None:
    recycler = Recycler(_settings(tmp_path, max_worker_memory_mb=10**6), tmp_path)

    async def grow_past_the_limit() -> None:
        watching = asyncio.create_task(recycler.watch_memory())
        await asyncio.sleep(0.05)  # the first look: below the limit
        recycler.memory_limit_mb = 1  # as if the process had grown past it since
        await asyncio.wait_for(watching, timeout=5)

    asyncio.run(grow_past_the_limit())
    ask = json.loads((tmp_path / f"{os.getpid()}.json").read_text())
    assert ask["reason"] == "memory"
    assert ask["why"].startswith("its memory is ")
    assert ask["why"].endswith("MiB (max_worker_memory_mb 1)")
    assert recycler.retiring


def test_a_limit_below_a_fresh_workers_memory_is_said_not_acted_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recycler = Recycler(_settings(tmp_path, max_worker_memory_mb=1), tmp_path)
    with caplog.at_level(logging.WARNING, logger="modelport.api.recycling"):
        asyncio.run(asyncio.wait_for(recycler.watch_memory(), timeout=5))
    assert "max_worker_memory_mb 1 is below a fresh worker's memory" in caplog.text
    assert not recycler.retiring
    assert list(tmp_path.iterdir()) == []


def test_without_limits_or_supervisor_there_is_no_recycler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_RECYCLE_FOLDER", str(tmp_path))
    assert Recycler.from_environment(_settings(tmp_path)) is None
    assert Recycler.from_environment(_settings(tmp_path, max_requests=5)) is not None
    monkeypatch.delenv("MODELPORT_RECYCLE_FOLDER")
    assert Recycler.from_environment(_settings(tmp_path, max_requests=5)) is None
