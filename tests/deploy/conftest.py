"""Fixtures of the deployment tests: the real-server ones of the end-to-end tests."""

from __future__ import annotations

from e2e.conftest import start_server

__all__ = ["start_server"]
