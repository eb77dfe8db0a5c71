"""The server sets Python's switch interval it is given: shorter, model threads running
Python code hand the interpreter back to the event loop sooner (under overload, the loop
that refuses requests is otherwise held up 5 ms at each step)."""

from __future__ import annotations

import sys
from pathlib import Path

from .conftest import MakeClient


def test_a_server_sets_the_switch_interval_it_is_given(
    make_client: MakeClient, iris_models: Path
) -> None:
    before = sys.getswitchinterval()
    try:
        client = make_client(iris_models, switch_interval_ms=0.7)
        assert sys.getswitchinterval() == 0.0007
        assert client.get("/health/live").status_code == 200
    finally:
        sys.setswitchinterval(before)
