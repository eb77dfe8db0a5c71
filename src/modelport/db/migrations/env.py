"""Alembic environment: runs on the connection that ``modelport.db.migrate`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from modelport.db.migrate import VERSION_TABLE
from modelport.db.models import metadata
from modelport.errors import ModelportError

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    # Migrations run through modelport.db.migrate(), which holds the start-up lock;
    # the alembic command line would bypass it.
    raise ModelportError("run migrations with modelport.db.migrate(url), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things: batch mode recreates the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
