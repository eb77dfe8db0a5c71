"""Migrations: idempotent, safe from several processes at once, and equal to the models."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from databases import Server
from modelport.db import make_engine, migrate
from modelport.db.migrate import (
    HEAD_REVISION,
    VERSION_TABLE,
    at_head,
    current_revision,
    head_revision,
)
from modelport.db.models import metadata
from modelport.errors import ModelportError

TABLES = {"model_versions", "aliases", "audit_log", "api_tokens", "prediction_log", "rollouts"}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_twice_is_a_no_op(server: Server) -> None:
    url = server.create_database()
    engine = make_engine(url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        migrate(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    migrate(url)  # and from a URL, with an engine of its own
    assert _tables(url) == TABLES | {VERSION_TABLE}


def test_the_head_revision_constant_is_alembics_head() -> None:
    # The start-up check compares with the constant; a new migration must update it.
    assert head_revision() == HEAD_REVISION


def test_a_database_at_head_is_recognised_without_alembic(server: Server) -> None:
    url = server.create_database()
    engine = make_engine(url)
    try:
        assert not at_head(engine)
        migrate(engine)
        assert at_head(engine)
    finally:
        engine.dispose()
    code = (
        "import sys; from modelport.db import migrate; migrate(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_two_processes_migrate_at_once(server: Server) -> None:
    url = server.create_database()
    code = "import sys; from modelport.db import migrate; migrate(sys.argv[1])"
    children = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for child in children:
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr.decode()
    assert _tables(url) == TABLES | {VERSION_TABLE}


def test_threads_migrate_at_once(server: Server) -> None:
    url = server.create_database()
    with ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(migrate, url) for _ in range(3)]:
            future.result()
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_database_from_a_newer_modelport_is_refused(server: Server) -> None:
    url = server.create_database()
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'f00d'"))
        assert not at_head(engine)
        with pytest.raises(ModelportError, match="newer version of modelport"):
            migrate(engine)
    finally:
        engine.dispose()


def test_migrations_create_exactly_the_models(server: Server, migrated_url: str) -> None:
    engine = server.engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
