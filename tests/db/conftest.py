"""One contract suite, every backend: SQLite, MariaDB and PostgreSQL.

Each backend gets databases of its own for the session (``mp_test_<hex>``), created here
and dropped at the end; nothing else on the servers is touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete

from databases import BACKENDS, Server, start_backend
from modelport.db import migrate
from modelport.db.models import aliases, api_tokens, audit_log, model_versions, prediction_log


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One backend; its throw-away databases are dropped when the session ends."""
    started = start_backend(request.param, tmp_path_factory)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="session")
def migrated_url(server: Server) -> str:
    """A database of the session with every migration applied."""
    url = server.create_database()
    migrate(url)
    return url


# Children first, so that foreign keys never object.
_TABLES: list[Any] = [aliases, model_versions, audit_log, api_tokens, prediction_log]


@pytest.fixture
def engine(server: Server, migrated_url: str) -> Iterator[Engine]:
    """An engine on the migrated database, emptied before the test."""
    engine = server.engine(migrated_url)
    with engine.begin() as connection:
        for table in _TABLES:
            connection.execute(delete(table))
    try:
        yield engine
    finally:
        engine.dispose()
