"""Bring the database schema up to date at start-up: Alembic ``upgrade head``, under a lock.

Every worker process of every server calls :func:`migrate`; the lock lets exactly one of
them run the migrations while the others wait and then find nothing left to do. A
database already at :data:`HEAD_REVISION` (every start but the first after an install or
upgrade) is recognised with one query, without importing Alembic, which costs a
serving process about a quarter of a second and several MB.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import URL

from modelport.db.engine import SQLITE_DEFERRED, make_engine
from modelport.db.errors import DatabaseUnavailableError
from modelport.db.tx import guarded
from modelport.errors import ModelportError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD_REVISION",
    "LOCK_TIMEOUT_S",
    "VERSION_TABLE",
    "at_head",
    "current_revision",
    "head_revision",
    "migrate",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Not alembic's default name, so modelport can share a database with another Alembic app.
VERSION_TABLE = "modelport_alembic_version"
#: The newest revision in ``migrations/versions``, spelled out so that a start-up can
#: compare without Alembic; tests/db/test_migrate.py checks it against Alembic's head.
HEAD_REVISION = "0004"
LOCK_NAME = "modelport.migrate"
LOCK_TIMEOUT_S = 300


def _config() -> Config:
    from alembic.config import Config

    config = Config()  # no alembic.ini: everything it would say is set here
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of modelport, as Alembic finds it."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # the package ships at least one migration
        raise ModelportError(f"no database migrations found in {MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        connection.execution_options(**{SQLITE_DEFERRED: True})
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def at_head(engine: Engine) -> bool:
    """Whether the database is at :data:`HEAD_REVISION` (read without Alembic or a lock).

    Safe without the lock: migrations only move forward, and the version row commits
    with (PostgreSQL, SQLite) or after (MySQL) the schema changes it records.
    """
    with engine.connect() as connection:
        connection.execution_options(**{SQLITE_DEFERRED: True})
        if not inspect(connection).has_table(VERSION_TABLE):
            return False
        query = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608  a constant name
        rows = connection.execute(query).scalars()
        return list(rows) == [HEAD_REVISION]


@guarded  # an unreachable database becomes DatabaseUnavailableError, not a traceback
def migrate(engine_or_url: Engine | str | URL) -> None:
    """Run every pending migration; safe to call from many processes at once, idempotent."""
    if isinstance(engine_or_url, Engine):
        _upgrade(engine_or_url)
        return
    engine = make_engine(engine_or_url)
    try:
        _upgrade(engine)
    finally:
        engine.dispose()


def _upgrade(engine: Engine) -> None:
    if at_head(engine):  # the usual case: nothing to do, and no Alembic import
        return
    from alembic import command
    from alembic.util import CommandError

    config = _config()
    # One transaction around everything: on SQLite its BEGIN IMMEDIATE is the lock; on
    # PostgreSQL the DDL is transactional too. Alembic sees the transaction already open
    # and neither begins nor commits one of its own.
    with (
        engine.connect() as connection,
        _migration_lock(connection),
        connection.begin(),
    ):
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            # Typically a database migrated by a newer modelport than this one.
            raise ModelportError(
                f"cannot migrate the database to revision {head_revision()}: {exc}; "
                "is it used by a newer version of modelport?"
            ) from exc


@contextlib.contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """Hold a server-side lock for the whole upgrade (none needed on SQLite)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # Advisory locks are scoped to the current database; the key is any fixed bigint.
        key = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
        # SET takes no bound parameters; set_config does. false: for the session.
        connection.execute(
            text("SELECT set_config('lock_timeout', :ms, false)"),
            {"ms": f"{LOCK_TIMEOUT_S * 1000}"},
        )
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        connection.commit()  # a session-level lock outlives the transaction that took it
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.execute(text("RESET lock_timeout"))
            connection.commit()
    elif dialect in ("mysql", "mariadb"):
        # GET_LOCK names are server-wide: include the database so two schemas do not queue.
        database = connection.execute(text("SELECT DATABASE()")).scalar_one()
        name = f"{LOCK_NAME}:{database}"[:64]
        got = connection.execute(
            text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": LOCK_TIMEOUT_S}
        ).scalar()
        connection.commit()
        if got != 1:
            raise DatabaseUnavailableError(
                f"could not take the migration lock '{name}' within {LOCK_TIMEOUT_S} s; "
                "another modelport process may be stuck migrating this database"
            )
        try:
            yield
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            connection.commit()
    else:
        yield
