"""The threads one model may hold: all but one, handed over in order, and given back only
when a thread is really done with a call (an abandoned call holds its thread)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from modelport.slots import CallSlots


def test_a_model_may_hold_all_threads_but_one() -> None:
    slots = CallSlots(4)
    assert [slots.try_take("hung") for _ in range(4)] == [True, True, True, False]
    assert slots.try_take("other")  # the thread kept back
    assert CallSlots(1).limit == 1  # nothing to keep back


def test_a_finished_call_hands_its_thread_to_the_first_waiter() -> None:
    async def scenario() -> list[str]:
        slots = CallSlots(2)
        assert slots.try_take("m")
        order: list[str] = []

        async def wait(name: str) -> None:
            await slots.take("m")
            order.append(name)

        first = asyncio.create_task(wait("first"))
        second = asyncio.create_task(wait("second"))
        await asyncio.sleep(0)
        assert order == []
        slots.give_back("m")
        await first
        assert slots.held("m") == 1 and not second.done()
        slots.give_back("m")
        await second
        slots.give_back("m")
        assert slots.held("m") == 0
        return order

    assert asyncio.run(scenario()) == ["first", "second"]


def test_a_waiter_that_gives_up_takes_nothing() -> None:
    async def scenario() -> int:
        slots = CallSlots(2)
        assert slots.try_take("m")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await slots.take("m")
        slots.give_back("m")
        return slots.held("m")

    assert asyncio.run(scenario()) == 0


def test_an_abandoned_call_keeps_its_thread_until_it_returns() -> None:
    async def scenario() -> tuple[int, int]:
        slots = CallSlots(3)
        release = threading.Event()
        with ThreadPoolExecutor(3) as pool:
            assert slots.try_take("m")
            call, work = slots.submit("m", pool, release.wait, 5)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await call  # the deadline: the client is answered, the thread runs on
            slots.release("m", work)
            held_while_running = slots.held("m")
            release.set()
            for _ in range(500):  # the thread's done callback reaches the loop soon
                if not slots.held("m"):
                    break
                await asyncio.sleep(0.01)
            return held_while_running, slots.held("m")

    assert asyncio.run(scenario()) == (1, 0)
