"""Column types that behave the same on SQLite, MySQL/MariaDB and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["JSONText", "UTCDateTime", "long_text", "utc_datetime"]


def utc_datetime() -> TypeEngine[datetime]:
    """The stored form of a UTC timestamp (used by the migrations, which stay frozen)."""
    # timestamptz on PostgreSQL; elsewhere a naive column holding UTC. MySQL's DATETIME
    # would drop the microseconds without fsp=6, and its TIMESTAMP ends in 2038.
    return DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def long_text() -> TypeEngine[str]:
    """Unbounded text: MySQL's TEXT stops at 64 KiB, so LONGTEXT there."""
    return Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, whatever the backend stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive datetime is ambiguous (local time? UTC?); refuse it rather than guess.
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "postgresql":
            return value
        # SQLite and MySQL store no offset: keep UTC wall time so that text order is time order.
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # PostgreSQL answers in the session's time zone: same instant, shown as UTC.
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """A JSON value stored as text: same bytes back on every backend, no dialect JSON quirks."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # Not through dialect.type_descriptor(): psycopg's adaptation of Text renders as
        # VARCHAR in DDL, while the migrations (and alembic's comparison) say TEXT.
        if dialect.name in ("mysql", "mariadb"):
            return mysql.LONGTEXT()
        return Text()

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
