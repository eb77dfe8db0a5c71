"""The tables, as SQLAlchemy 2 typed ORM classes; only ``modelport.db`` sees them.

String lengths keep every index under MariaDB's 3072-byte key limit in utf8mb4 (4 bytes
a character). The migrations in ``migrations/versions`` create exactly these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from modelport.db.coltypes import JSONText, UTCDateTime, long_text

__all__ = [
    "ALIAS_LENGTH",
    "MYSQL_TABLE",
    "NAME_LENGTH",
    "Alias",
    "ApiToken",
    "AuditEntry",
    "Base",
    "ModelVersionRow",
    "PredictionRow",
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
MYSQL_TABLE = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}

# Autoincrement keys of the tables that grow without bound: BIGINT, except on SQLite,
# where only INTEGER PRIMARY KEY is the rowid alias that autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class ModelVersionRow(Base):
    """One version of one model: its artifact's digest and what became of it."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    runtime: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(long_text())
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH))


class Alias(Base):
    """A movable name (``production``) for one version of one model."""

    __tablename__ = "aliases"
    __table_args__ = (
        # The database itself refuses to drop a version that an alias still points at.
        ForeignKeyConstraint(
            ["name", "version"], ["model_versions.name", "model_versions.version"]
        ),
        Index(None, "name", "version"),
        MYSQL_TABLE,
    )

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    alias: Mapped[str] = mapped_column(String(ALIAS_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH))


class AuditEntry(Base):
    """One management action: who did what to which target, from where, and how it went."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"), Index(None, "target", "at"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    client_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[Any] = mapped_column(JSONText, nullable=True)


class ApiToken(Base):
    """A bearer token for the management API, kept only as a salted hash."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("name"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class PredictionRow(Base):
    """One logged prediction: its input (or only its hash), output, latency and status."""

    __tablename__ = "prediction_log"
    __table_args__ = (Index(None, "model", "at"), Index(None, "at"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    version: Mapped[int | None] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(16))
    input: Mapped[Any] = mapped_column(JSONText, nullable=True)
    input_hash: Mapped[str | None] = mapped_column(String(64))
    output: Mapped[Any] = mapped_column(JSONText, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(32))
    client_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
