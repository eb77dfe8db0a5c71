"""The tables, as SQLAlchemy Core ``Table`` objects; only ``modelport.db`` sees them.

Core, not ORM classes: nothing here maps rows to objects, and ``sqlalchemy.orm`` cost
every server start about 0.08 s and 6 MB.

String lengths keep every index under MariaDB's 3072-byte key limit in utf8mb4 (4 bytes
a character). The migrations in ``migrations/versions`` create exactly these tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from modelport.db.coltypes import JSONText, UTCDateTime, long_text

__all__ = [
    "ALIAS_LENGTH",
    "MYSQL_TABLE",
    "NAME_LENGTH",
    "aliases",
    "api_tokens",
    "audit_log",
    "metadata",
    "model_versions",
    "prediction_log",
    "rollouts",
]

NAME_LENGTH = 128  # model names: see repository.scan.validate_model_name
ALIAS_LENGTH = 64
ACTOR_LENGTH = 128
ADDRESS_LENGTH = 64  # an IPv6 address with zone id fits

# Named constraints, so that migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# MySQL/MariaDB: utf8mb4 and a binary collation, so that names compare exactly as they do
# on PostgreSQL and SQLite (the default collation ignores case; utf8mb4_bin still ignores
# trailing spaces, which validated names never have).
MYSQL_TABLE: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

# Autoincrement keys of the tables that grow without bound: BIGINT, except on SQLite,
# where only INTEGER PRIMARY KEY is the rowid alias that autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


metadata = MetaData(naming_convention=NAMING)

#: One version of one model: its artifact's digest and what became of it.
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64)),
    Column("size", BigInteger),
    Column("runtime", String(32)),
    Column("state", String(16), nullable=False),
    Column("error", long_text()),
    Column("source", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(ACTOR_LENGTH)),
    UniqueConstraint("name", "version"),
    **MYSQL_TABLE,
)

#: A movable name (``production``) for one version of one model.
aliases = Table(
    "aliases",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("alias", String(ALIAS_LENGTH), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(ACTOR_LENGTH)),
    # The database itself refuses to drop a version that an alias still points at.
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    Index(None, "name", "version"),
    **MYSQL_TABLE,
)

#: One management action: who did what to which target, from where, and how it went.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(ACTOR_LENGTH), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("client_address", String(ADDRESS_LENGTH)),
    Column("outcome", String(32), nullable=False),
    Column("detail", JSONText, nullable=True),
    Index(None, "at"),
    Index(None, "target", "at"),
    **MYSQL_TABLE,
)

#: A bearer token for the management API, kept only as a salted hash.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(ACTOR_LENGTH), nullable=False),
    Column("token_hash", String(160), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("revoked", Boolean, nullable=False, default=False),
    UniqueConstraint("name"),
    **MYSQL_TABLE,
)

#: One logged prediction: its input (or only its hash), output, latency and status.
prediction_log = Table(
    "prediction_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("model", String(NAME_LENGTH), nullable=False),
    Column("version", Integer),
    Column("protocol", String(16), nullable=False),
    Column("input", JSONText, nullable=True),
    Column("input_hash", String(64)),
    Column("output", JSONText, nullable=True),
    Column("latency_ms", Double, nullable=False),
    Column("status", String(32), nullable=False),
    Column("client_address", String(ADDRESS_LENGTH)),
    # Set only when the input or output was too big to log whole (log_max_input_bytes):
    # the full JSON's size and sha256, per part (predlog_rows.py).
    Column("truncation", JSONText, nullable=True),
    # The message the client got, for a prediction that failed (e.g. its input rejected).
    Column("error", long_text(), nullable=True),
    Index(None, "model", "at"),
    Index(None, "at"),
    **MYSQL_TABLE,
)

#: A model's rollout: how its default traffic is split between aliases or versions, and
#: which one gets a shadow copy of each request. One row per model that has either.
rollouts = Table(
    "rollouts",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    # {"production": 90, "candidate": 10}: targets (aliases or version numbers) -> percent.
    Column("traffic", JSONText, nullable=True),
    Column("shadow", String(ALIAS_LENGTH)),
    Column("shadow_sample_rate", Double),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(ACTOR_LENGTH)),
    **MYSQL_TABLE,
)
