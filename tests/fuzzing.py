"""The fuzz tests' two budgets: a short, reproducible one that ``make test`` runs, and a
long one (``-m fuzz``, ``make fuzz``) with many more random examples.

A fuzz test takes the ``budget`` fixture and runs its property under
``budget.settings(examples)``, where ``examples`` is its share of the short run; the long
run gives each property ``MODELPORT_FUZZ_SCALE`` (default 50) times as many, random ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings

__all__ = ["Budget", "budget"]

#: Health checks that judge the strategies, not the code under test: a server's answer
#: takes milliseconds, and a body of a few KiB is what a fuzzer should send.
_RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


@dataclass(frozen=True)
class Budget:
    """How many examples each property gets, and whether they are the same every run."""

    long: bool

    def settings(self, examples: int, deadline_ms: float | None = 2000) -> settings:
        # The short run is derandomized (the same examples on every machine, so a CI
        # failure reproduces) and keeps no example database; the long one explores.
        if self.long:
            return settings(
                max_examples=examples * int(os.environ.get("MODELPORT_FUZZ_SCALE", "50")),
                deadline=deadline_ms,
                database=None,
                suppress_health_check=_RELAXED,
                print_blob=True,
            )
        return settings(
            max_examples=examples,
            deadline=deadline_ms,
            derandomize=True,
            database=None,
            suppress_health_check=_RELAXED,
        )


@pytest.fixture(params=["short", pytest.param("long", marks=pytest.mark.fuzz)])
def budget(request: pytest.FixtureRequest) -> Budget:
    """Each fuzz test twice: the short run (``make test``) and the long one (``make fuzz``)."""
    return Budget(long=request.param == "long")
