"""prediction_log.truncation: what was left out of a too-big input or output.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

A nullable column: adding it rewrites no rows on any backend (SQLite ADD COLUMN,
PostgreSQL 11+, MariaDB 10.3+ instant ADD COLUMN), and a modelport that predates it keeps
inserting rows without it during a rolling upgrade.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _long_text() -> sa.types.TypeEngine[Any]:
    # What JSONText is on each backend (db/coltypes.py), spelled out as 0001 does.
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.add_column("prediction_log", sa.Column("truncation", _long_text(), nullable=True))


def downgrade() -> None:
    op.drop_column("prediction_log", "truncation")
