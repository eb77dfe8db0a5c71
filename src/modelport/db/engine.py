"""Build the one SQLAlchemy Engine for a database URL: SQLite, MySQL/MariaDB or PostgreSQL.

Per-backend settings live here so the rest of ``modelport.db`` is backend-agnostic.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from modelport.config import ConfigError
from modelport.errors import MissingDependencyError

__all__ = [
    "SQLITE_DEFERRED",
    "default_sqlite_url",
    "make_engine",
    "normalize_url",
]

# Execution option: the next transaction only reads, so SQLite may BEGIN DEFERRED.
SQLITE_DEFERRED = "modelport_sqlite_deferred"

# Seconds a SQLite writer waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30
CONNECT_TIMEOUT_S = 10

# The drivers modelport supports, and the extra that installs each one.
_DRIVERS: dict[str, tuple[str, str, str]] = {
    # backend: (driver, module, extra)
    "mysql": ("pymysql", "pymysql", "mysql"),
    "mariadb": ("pymysql", "pymysql", "mysql"),
    "postgresql": ("psycopg", "psycopg", "postgres"),
}


def default_sqlite_url(data_dir: Path) -> str:
    """The embedded default: ``sqlite:///<data_dir>/modelport.db``."""
    return f"sqlite:///{data_dir.expanduser().resolve() / 'modelport.db'}"


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; bare ``mysql://`` and ``postgresql://`` get modelport's drivers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":  # Heroku-style URLs
        backend = "postgresql"
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ConfigError(f"unsupported SQLite driver '{driver}'; use sqlite:///path.db")
        return parsed
    if backend not in _DRIVERS:
        raise ConfigError(
            f"unsupported database '{parsed.drivername}'; use sqlite:///path.db, "
            "mysql+pymysql://user:pass@host/db or postgresql+psycopg://user@host/db"
        )
    wanted = _DRIVERS[backend][0]
    if driver not in ("", wanted):
        raise ConfigError(f"unsupported driver '{driver}' for {backend}; use {backend}+{wanted}")
    parsed = parsed.set(drivername=f"{backend}+{wanted}")
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        # Without it PyMySQL talks utf8mb3 and model names or inputs with emoji fail.
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def make_engine(url: str | URL, *, lock_wait_s: float | None = None, **overrides: Any) -> Engine:
    """An Engine for ``url`` with server-friendly pool settings; ``overrides`` win.

    ``lock_wait_s`` bounds how long one statement waits for a lock another connection
    holds (SQLite's busy timeout, MariaDB/MySQL's lock wait timeouts, PostgreSQL's
    lock_timeout): the server passes its request_timeout, so that a management request
    behind a held lock is a 503 within it instead of a hang.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        busy_s = SQLITE_BUSY_TIMEOUT_S if lock_wait_s is None else lock_wait_s
        return _sqlite_engine(parsed, overrides, min(float(SQLITE_BUSY_TIMEOUT_S), busy_s))
    _, module, extra = _DRIVERS[backend]
    options: dict[str, Any] = {
        "pool_size": 5,
        "max_overflow": 10,
        "pool_timeout": 30,
        # Servers drop idle connections (MariaDB wait_timeout, proxies); recycle before
        # that and ping on checkout so a restarted database costs no failed request.
        "pool_recycle": 1800,
        "pool_pre_ping": True,
        # Reuse the most recent connection: the extra ones stay idle and get recycled.
        "pool_use_lifo": True,
        "connect_args": {"connect_timeout": CONNECT_TIMEOUT_S},
    }
    wait_s = None if lock_wait_s is None else max(1, int(lock_wait_s + 0.999))
    if backend == "postgresql":
        options["connect_args"]["application_name"] = "modelport"  # shows in pg_stat_activity
        if wait_s is not None:
            options["connect_args"]["options"] = f"-c lock_timeout={wait_s * 1000}"
    else:
        if wait_s is not None:
            # lock_wait_timeout covers LOCK TABLES and metadata locks, innodb_ one row locks.
            options["connect_args"]["init_command"] = (
                f"SET SESSION lock_wait_timeout={wait_s}, innodb_lock_wait_timeout={wait_s}"
            )
        # PostgreSQL's default; InnoDB's REPEATABLE READ adds gap locks (and deadlocks)
        # that the store's unique-key-and-retry pattern does not need.
        options["isolation_level"] = "READ COMMITTED"
    _merge(options, overrides)
    try:
        return create_engine(parsed, **options)
    except (ImportError, NoSuchModuleError) as exc:
        raise MissingDependencyError(module, extra) from exc


def _sqlite_engine(url: URL, overrides: dict[str, Any], busy_s: float) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in str(url):
        # SQLAlchemy gives each thread its own in-memory database: the server's threads
        # would silently see different data.
        raise ConfigError(
            f"in-memory SQLite ('{url}') is not supported; use a file: sqlite:///path/modelport.db"
        )
    if not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"timeout": busy_s}}
    _merge(options, overrides)
    engine = create_engine(url, **options)
    event.listen(engine, "connect", functools.partial(_sqlite_on_connect, busy_s=busy_s))
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _merge(options: dict[str, Any], overrides: dict[str, Any]) -> None:
    # connect_args are merged key by key, so adding one keeps the timeouts set here.
    for key, value in overrides.items():
        if key == "connect_args":
            options["connect_args"] = {**options["connect_args"], **value}
        else:
            options[key] = value


def _sqlite_on_connect(
    dbapi_connection: sqlite3.Connection, _record: Any, *, busy_s: float
) -> None:
    # Take BEGIN away from the sqlite3 module (it skips it before SELECT and DDL, see
    # SQLAlchemy's "sqlite_transactions" docs); _sqlite_on_begin emits it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
        # WAL: readers never block the writer and vice versa, across processes too.
        _enter_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default, per connection
    finally:
        cursor.close()


def _enter_wal(cursor: sqlite3.Cursor) -> None:
    # Switching a new database to WAL needs it to itself, and SQLite answers "database is
    # locked" at once (no busy timeout) while another connection is switching too or
    # inside a transaction. Once the file is in WAL mode this is a no-op that cannot fail.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_on_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" when another process wrote in between (the busy timeout does not apply), so
    # every transaction takes the write lock up front unless it declared itself read-only.
    if connection.get_execution_options().get(SQLITE_DEFERRED):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
