"""prediction_log.error: the message a failed prediction's client got.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

A nullable column, as 0002's: adding it rewrites no rows on any backend, and a modelport
that predates it keeps inserting rows without it during a rolling upgrade.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _long_text() -> sa.types.TypeEngine[Any]:
    # long_text() on each backend (db/coltypes.py), spelled out as 0001 does.
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.add_column("prediction_log", sa.Column("error", _long_text(), nullable=True))


def downgrade() -> None:
    op.drop_column("prediction_log", "error")
