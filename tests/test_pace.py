"""The queued-work estimate that refuses a request (429) before it would wait too long,
and the shorter switch interval while a worker refuses."""

from __future__ import annotations

import asyncio
import sys

import pytest

from modelport.pace import Pace, PaceBook
from modelport.switching import OVERLOADED_INTERVAL_S, OverloadSwitch


def test_nothing_is_refused_before_the_model_has_a_pace() -> None:
    assert Pace(0.01).too_long(rows_ahead=1000, parallel=2) is None


def test_work_queued_past_the_budget_is_refused() -> None:
    pace = Pace(0.010)
    pace.record(rows=1, seconds=0.010, now=0.0)  # 10 ms a row
    assert pace.too_long(rows_ahead=4, parallel=2) is None  # 20 ms: two of its calls
    assert pace.too_long(rows_ahead=5, parallel=2) == pytest.approx(0.025)


def test_one_stalled_call_refuses_nothing() -> None:
    pace = Pace(0.010)
    for second in range(7):
        pace.record(rows=8, seconds=0.0008, now=second)  # 0.1 ms a row
    pace.record(rows=1, seconds=0.5, now=7.0)  # the machine busy elsewhere, once
    assert pace.too_long(rows_ahead=60, parallel=2) is None


def test_no_more_waiting_than_can_run_at_once_is_never_refused() -> None:
    pace = Pace(0.010)
    pace.record(rows=1, seconds=0.005, now=0.0)
    pace.record(rows=1, seconds=0.050, now=1.0)  # calls slower for good
    for second in range(2, 9):
        pace.record(rows=1, seconds=0.050, now=second)
    assert pace.budget_s() == pytest.approx(0.010)  # two of its quickest, 5 ms each
    assert pace.too_long(rows_ahead=2, parallel=2) is None  # 50 ms queued, yet not refused
    assert pace.too_long(rows_ahead=3, parallel=2) == pytest.approx(0.075)


def test_a_slow_model_queues_a_second_and_third_client_instead_of_refusing_them() -> None:
    pace = Pace(0.010)
    pace.record(rows=1, seconds=0.5, now=0.0)  # its quickest call: half a second
    assert pace.budget_s() == 1.0  # two of its calls
    assert pace.too_long(rows_ahead=2, parallel=1) is None
    assert pace.too_long(rows_ahead=3, parallel=1) == pytest.approx(1.5)


def test_the_quickest_call_is_forgotten_after_two_periods() -> None:
    pace = Pace(0.001)
    pace.record(rows=1, seconds=0.002, now=0.0)
    pace.record(rows=1, seconds=0.200, now=11.0)  # the next period: the old one still counts
    assert pace.budget_s() == 0.004
    pace.record(rows=1, seconds=0.200, now=22.0)
    assert pace.budget_s() == 0.400


def test_zero_turns_refusing_off() -> None:
    pace = Pace(0.0)
    pace.record(rows=1, seconds=1.0, now=0.0)
    assert pace.too_long(rows_ahead=10_000, parallel=1) is None


def test_the_book_keeps_a_pace_per_model_and_starts_afresh_when_full() -> None:
    book = PaceBook(0.01)
    first = book.of("a")
    assert book.of("a") is first
    for number in range(5000):
        book.of(number)
    assert book.of("a") is not first


def test_refusing_shortens_the_switch_interval_until_a_quiet_spell() -> None:
    before = sys.getswitchinterval()

    async def scenario() -> tuple[float, float, bool]:
        switch = OverloadSwitch(0.005, hold_s=0.1)
        switch.refused()
        during = sys.getswitchinterval()
        for _ in range(3):  # refusals keep it short
            await asyncio.sleep(0.05)
            switch.refused()
        still = sys.getswitchinterval()
        await asyncio.sleep(0.3)
        return during, still, switch.engaged

    try:
        sys.setswitchinterval(0.005)
        during, still, engaged = asyncio.run(scenario())
        assert during == pytest.approx(OVERLOADED_INTERVAL_S)
        assert still == pytest.approx(OVERLOADED_INTERVAL_S)
        assert not engaged
        assert sys.getswitchinterval() == pytest.approx(0.005)
    finally:
        sys.setswitchinterval(before)
