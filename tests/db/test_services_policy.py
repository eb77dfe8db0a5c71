"""The missing-service policy: skip with the reason, or fail when services are required."""

from __future__ import annotations

import pytest

from services import REQUIRE_ENV, free_port, port_open, unavailable


def test_a_missing_service_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="MariaDB not available"):
        unavailable("MariaDB", "connection refused")


def test_a_missing_service_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="required"):
        unavailable("MariaDB", "connection refused")


def test_port_probe() -> None:
    assert port_open("127.0.0.1", free_port(), timeout=0.5) is False
