"""make_engine: URLs per backend, SQLite's settings, and a missing driver named by extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from modelport.config import ConfigError
from modelport.db import default_sqlite_url, make_engine, migrate, store
from modelport.db.engine import normalize_url
from modelport.db.errors import DatabaseUnavailableError
from modelport.errors import MissingDependencyError
from services import free_port


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
        ("mysql://u:p@h/db", "mysql+pymysql://u:***@h/db?charset=utf8mb4"),
        ("mysql+pymysql://u@h/db?charset=utf8", "mysql+pymysql://u@h/db?charset=utf8"),
        ("mariadb://u@h:3307/db", "mariadb+pymysql://u@h:3307/db?charset=utf8mb4"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_urls_get_modelports_drivers(given: str, expected: str) -> None:
    assert str(normalize_url(given)) == expected


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:x?mode=memory&cache=shared&uri=true",
    ],
)
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="in-memory"):
        make_engine(url)


@pytest.mark.parametrize(
    "url", ["oracle://u@h/db", "mysql+mysqldb://u@h/db", "postgresql+asyncpg://h/db", "not a url"]
)
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        normalize_url(url)


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("mysql+pymysql://root@127.0.0.1/test", "pymysql", "mysql"),
        ("postgresql+psycopg://root@127.0.0.1/test", "psycopg", "postgres"),
    ],
)
def test_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, extra: str
) -> None:
    # None in sys.modules makes `import <module>` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError) as caught:
        make_engine(url)
    assert caught.value.extra == extra
    assert f"pip install 'modelport[{extra}]'" in caught.value.message


def test_sqlite_settings(tmp_path: Path) -> None:
    url = default_sqlite_url(tmp_path / "data" / "nested")
    assert url.endswith("/data/nested/modelport.db")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert pragma == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 30_000,
            "synchronous": 1,
        }
        assert (tmp_path / "data" / "nested" / "modelport.db").is_file()
    finally:
        engine.dispose()


def test_server_pools_ping_and_recycle(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    if engine.dialect.name != "sqlite":
        assert engine.pool._pre_ping
        assert engine.pool._recycle == 1800


@pytest.mark.parametrize("scheme", ["mysql+pymysql://root", "postgresql+psycopg://postgres"])
def test_an_unreachable_database_is_a_503_not_a_crash(scheme: str) -> None:
    engine = make_engine(f"{scheme}@127.0.0.1:{free_port()}/test")
    try:
        with pytest.raises(DatabaseUnavailableError, match="unavailable") as caught:
            store.list_versions(engine, "iris")
        assert caught.value.status_code == 503
        with pytest.raises(DatabaseUnavailableError):
            store.add_audit(engine, actor="a", action="x", target="t")
        with pytest.raises(DatabaseUnavailableError):
            migrate(engine)
    finally:
        engine.dispose()
