"""The audit log: entries round-trip, newest first, filtered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from modelport.db import store
from modelport.errors import InvalidRequestError


def test_entries_round_trip(engine: Engine) -> None:
    detail = {"version": 3, "sha256": "ab" * 32, "note": "déjà vu ✓ 🚀", "sizes": [1, 2.5, None]}
    added = store.add_audit(
        engine,
        actor="alice",
        action="upload",
        target="iris",
        outcome="ok",
        client_address="2001:db8::1",
        detail=detail,
    )
    [read] = store.list_audit(engine)
    assert read == added
    assert read.detail == detail
    assert read.at.tzinfo is UTC


def test_newest_first_filters_and_limit(engine: Engine) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute, (actor, action, target, outcome) in enumerate(
        [
            ("alice", "upload", "iris", "ok"),
            ("bob", "alias", "iris", "ok"),
            ("bob", "delete", "wine", "refused"),
            ("anonymous", "upload", "wine", "unauthorized"),
        ]
    ):
        store.add_audit(
            engine,
            actor=actor,
            action=action,
            target=target,
            outcome=outcome,
            at=start + timedelta(minutes=minute),
        )
    assert [e.action for e in store.list_audit(engine)] == ["upload", "delete", "alias", "upload"]
    assert [e.actor for e in store.list_audit(engine, target="iris")] == ["bob", "alice"]
    assert [e.target for e in store.list_audit(engine, actor="bob")] == ["wine", "iris"]
    assert [e.actor for e in store.list_audit(engine, action="upload")] == ["anonymous", "alice"]
    since = store.list_audit(engine, since=start + timedelta(minutes=2))
    assert [e.outcome for e in since] == ["unauthorized", "refused"]
    assert len(store.list_audit(engine, limit=1)) == 1
    with pytest.raises(InvalidRequestError):
        store.list_audit(engine, limit=0)
