"""The doorbell that tells processes to look at the audit log: this process's own ring,
and a Redis outage costing only latency."""

from __future__ import annotations

import asyncio
import logging

import pytest

from modelport.sync import Doorbell
from services import free_port


def test_a_ring_wakes_this_process_even_when_redis_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        # Nothing listens on that port: the publish fails at once.
        bell = Doorbell(f"redis://127.0.0.1:{free_port()}/0")
        await bell.ring()  # logged, not raised
        await asyncio.wait_for(bell.wait(60), 5)  # rung: no need to wait the interval
        await bell.close()

    with caplog.at_level(logging.WARNING, "modelport.sync"):
        asyncio.run(scenario())
    assert "could not publish to Redis" in caplog.text


def test_without_redis_there_is_nothing_to_listen_to() -> None:
    async def scenario() -> None:
        bell = Doorbell(None)
        await asyncio.wait_for(bell.listen(), 5)
        await bell.ring()
        await asyncio.wait_for(bell.wait(60), 5)

    asyncio.run(scenario())
