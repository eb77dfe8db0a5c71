"""In-process fixtures: the app with its lifespan on an event loop in a helper thread,
driven by httpx through ``ASGITransport`` (Starlette's TestClient is deprecated with httpx).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from modelport.api import create_app
from modelport.config import Settings

#: The management token of apps built here, unless a test gives its own.
TEST_ADMIN_TOKEN = "admin-token-of-in-process-tests"


class AppClient:
    """A synchronous face on ``httpx.AsyncClient(transport=ASGITransport(app))``."""

    def __init__(
        self,
        app: FastAPI,
        portal: anyio.from_thread.BlockingPortal,
        asgi: Callable[..., Any] | None = None,
    ) -> None:
        self.app = app
        self.portal = portal
        transport = httpx.ASGITransport(app=asgi or app)
        # A host name the server answers to by default (its Host allow-list).
        self._client = httpx.AsyncClient(transport=transport, base_url="http://localhost")

    @property
    def admin(self) -> dict[str, str]:
        """Headers of a management request: the app's admin token."""
        return {"Authorization": f"Bearer {self.app.state.settings.admin_token}"}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self._client.aclose)

    def routed(self) -> AppClient:
        """A client of the same app whose requests all go through the framework's routing
        and middleware: the fast lanes skipped (close it after use)."""
        return AppClient(self.app, self.portal, partial(FastAPI.__call__, self.app))


@contextlib.contextmanager
def running_app(model_dir: Path, **settings: Any) -> Iterator[AppClient]:
    """The app, lifespan started and every model tried; gRPC off unless asked for."""
    options: dict[str, Any] = {
        "grpc_port": 0,
        "data_dir": model_dir.parent,
        "admin_token": TEST_ADMIN_TOKEN,
        **settings,
    }
    app = create_app(Settings(model_dir=model_dir, **options))
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        client = AppClient(app, portal)
        deadline = time.monotonic() + 60
        while not app.state.registry.startup_complete:
            if time.monotonic() > deadline:
                raise RuntimeError("models did not load within 60 s")
            time.sleep(0.02)
        try:
            yield client
        finally:
            client.close()


MakeClient = Callable[..., AppClient]


IRIS = ("iris-lr", "iris-dt")


def copy_iris(trained_models: Path, target: Path) -> Path:
    """Copy only the two scikit-learn iris examples (quick to load) into ``target``."""
    for name in IRIS:
        shutil.copytree(trained_models / name, target / name)
    return target


@pytest.fixture(scope="module")
def iris(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    """One app over iris-lr and iris-dt, for read-only tests."""
    models = copy_iris(trained_models, tmp_path_factory.mktemp("iris") / "models")
    with running_app(models) as client:
        yield client


@pytest.fixture
def iris_models(trained_models: Path, tmp_path: Path) -> Path:
    """A private, modifiable model folder holding iris-lr and iris-dt."""
    return copy_iris(trained_models, tmp_path / "models")


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """``make_client(model_dir, **settings)``: an app of its own, stopped after the test."""
    with contextlib.ExitStack() as stack:

        def make(model_dir: Path, **settings: Any) -> AppClient:
            return stack.enter_context(running_app(model_dir, **settings))

        yield make
