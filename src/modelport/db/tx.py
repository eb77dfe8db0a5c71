"""Transactions for the store functions: read or write, UTC times, races and outages."""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from modelport.db.engine import SQLITE_DEFERRED
from modelport.db.errors import DatabaseUnavailableError
from modelport.errors import ConflictError, InvalidRequestError

__all__ = ["as_utc", "guarded", "now", "reading", "retrying", "writing"]

T = TypeVar("T")
P = ParamSpec("P")

ATTEMPTS = 30
# Errors that mean "another transaction got there first; run yours again":
# PostgreSQL unique violation, serialization failure, deadlock (SQLSTATE);
_PG_RACES = {"23505", "40001", "40P01"}
# MySQL/MariaDB duplicate key, deadlock (error numbers). Not a lock wait timeout (1205):
# another session held the lock for the whole wait (request_timeout, see engine.py), so
# waiting again would hold the request past it; it is a busy database, a 503.
_MYSQL_RACES = {1062, 1213}
# SQLite unique or primary key violation (Python 3.11+ names the error).
_SQLITE_RACES = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime, what: str) -> datetime:
    """``value`` as UTC; a naive datetime is refused, since its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequestError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only (on SQLite it does not take the write lock)."""
    with engine.connect() as connection:
        connection.execution_options(**{SQLITE_DEFERRED: True})
        yield connection


def writing(engine: Engine) -> contextlib.AbstractContextManager[Connection]:
    """One transaction, committed on success and rolled back on error."""
    return engine.begin()


def retrying(work: Callable[[], T]) -> T:
    """Run ``work`` (one whole transaction) again when it lost a race to another writer."""
    for attempt in range(ATTEMPTS):
        try:
            return work()
        except DBAPIError as exc:
            if not lost_race(exc) or attempt == ATTEMPTS - 1:
                raise
            # Jittered back-off, so that the writers that collided do not collide again.
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311  not a secret
    raise AssertionError("unreachable")


def lost_race(exc: DBAPIError) -> bool:
    """Whether ``exc`` only says that a concurrent transaction won; retrying may succeed."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _PG_RACES:
        return True
    if getattr(orig, "sqlite_errorname", None) in _SQLITE_RACES:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in _MYSQL_RACES


def guarded(function: Callable[P, T]) -> Callable[P, T]:
    """Turn the driver's errors into modelport's: outages and lost races get a status."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except DBAPIError as exc:
            if lost_race(exc):  # still losing after every retry
                raise ConflictError(
                    f"{function.__name__}: too many concurrent changes, try again"
                ) from exc
            if isinstance(exc, OperationalError | InterfaceError):
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                raise DatabaseUnavailableError(f"the database is unavailable: {reason}") from exc
            raise  # anything else is a bug: keep the driver's full story

    return wrapper
