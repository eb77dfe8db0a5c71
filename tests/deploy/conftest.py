"""Fixtures of the deployment tests: the real-server ones of the end-to-end tests, and the
``image`` marker of the container image test (run by ``make image-test`` only)."""

from __future__ import annotations

import pytest

from e2e.conftest import start_server

__all__ = ["start_server"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "image: builds and runs the container image with Docker; `make image-test` runs it "
        "(MODELPORT_IMAGE_TEST=1), other runs skip it",
    )
