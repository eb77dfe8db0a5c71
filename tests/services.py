"""The policy for tests that need a real server (MariaDB, PostgreSQL, Redis).

A server that does not answer skips its tests with the reason, unless
``MODELPORT_TEST_REQUIRE_SERVICES=1`` (set by ``.ci/run``): then the test fails loudly.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

__all__ = ["REQUIRE_ENV", "free_port", "port_open", "services_required", "unavailable"]

REQUIRE_ENV = "MODELPORT_TEST_REQUIRE_SERVICES"


def services_required() -> bool:
    """True when a missing service must fail the test run instead of skipping."""
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable(service: str, reason: str) -> NoReturn:
    """Skip (or, when services are required, fail) because ``service`` cannot be used."""
    if services_required():
        pytest.fail(
            f"{service} is required ({REQUIRE_ENV}=1) but unusable: {reason}", pytrace=False
        )
    pytest.skip(f"{service} not available ({reason}); set {REQUIRE_ENV}=1 to fail instead")


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port nothing listens on right now (for throw-away servers, or refusals).

    Never the same port twice in one test run: a test that starts several servers picks
    all their ports before any binds, and the kernel may offer a just-freed one again.
    """
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
