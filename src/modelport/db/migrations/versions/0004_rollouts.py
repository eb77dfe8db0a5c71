"""rollouts: a model's traffic split and shadow version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

A new table: a modelport that predates it never reads it, so a rolling upgrade is safe.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# As 0001 spells them: later changes to modelport.db never change what this created.
_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def _utc() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column(
            "traffic",
            sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"),
            nullable=True,
        ),
        sa.Column("shadow", sa.String(64), nullable=True),
        sa.Column("shadow_sample_rate", sa.Double(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_rollouts"),
        **_MYSQL,
    )


def downgrade() -> None:
    op.drop_table("rollouts")
