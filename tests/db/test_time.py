"""Times are UTC in and out, whatever the server's session time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import StatementError

from modelport.db import store
from modelport.db.models import audit_log
from modelport.errors import InvalidRequestError

INDIA = timezone(timedelta(hours=5, minutes=30))
NEW_YORK = timezone(timedelta(hours=-5))


def test_the_server_sessions_are_not_in_utc(engine: Engine) -> None:
    # The fixtures set a far-off session zone; make sure it took, or the tests prove less.
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            assert connection.exec_driver_sql("SHOW timezone").scalar() == "Asia/Kolkata"
        elif engine.dialect.name in ("mysql", "mariadb"):
            zone = connection.exec_driver_sql("SELECT @@session.time_zone").scalar()
            assert zone == "+05:30"


def test_an_instant_survives_any_zone(engine: Engine) -> None:
    local = datetime(2026, 6, 30, 23, 59, 58, 123456, tzinfo=NEW_YORK)
    store.add_audit(engine, actor="a", action="x", target="t", at=local)
    [entry] = store.list_audit(engine)
    assert entry.at == local  # the same instant...
    assert entry.at.tzinfo is UTC  # ...told in UTC
    assert entry.at == datetime(2026, 7, 1, 4, 59, 58, 123456, tzinfo=UTC)  # microseconds kept


def test_since_compares_instants(engine: Engine) -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    store.add_audit(engine, actor="a", action="x", target="t", at=at)
    # 17:29 in India is 11:59 UTC: before the entry; 17:31 is after it.
    assert len(store.list_audit(engine, since=datetime(2026, 1, 1, 17, 29, tzinfo=INDIA))) == 1
    assert store.list_audit(engine, since=datetime(2026, 1, 1, 17, 31, tzinfo=INDIA)) == []


def test_the_store_writes_utc_now(engine: Engine) -> None:
    before = datetime.now(UTC)
    added = store.add_audit(engine, actor="a", action="x", target="t")
    [read] = store.list_audit(engine)
    assert read.at == added.at
    assert before - timedelta(seconds=1) <= read.at <= datetime.now(UTC) + timedelta(seconds=1)


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(InvalidRequestError):
        store.add_audit(engine, actor="a", action="x", target="t", at=naive)
    with pytest.raises(InvalidRequestError):
        store.list_audit(engine, since=naive)
    # Even past the store, the column type refuses to guess.
    values = {"at": naive, "actor": "a", "action": "x", "target": "t", "outcome": "ok"}
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as connection:
        connection.execute(insert(audit_log).values(**values))
