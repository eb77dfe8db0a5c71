"""The prediction log: batched inserts, listing by time, paging, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from modelport.db import store
from modelport.db.store import NewPrediction
from modelport.errors import InvalidRequestError

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _row(i: int, model: str = "iris", **changes: object) -> NewPrediction:
    fields: dict[str, object] = {
        "request_id": f"req-{i}",
        "at": START + timedelta(seconds=i),
        "model": model,
        "version": 1 + i % 2,
        "protocol": "v1",
        "input": {"instances": [[5.1, 3.5, 1.4, 0.2]], "i": i},
        "input_hash": f"{i:064x}",
        "output": {"predictions": ["setosa"]},
        "latency_ms": 1.25 + i,
        "status": "ok",
        "client_address": "127.0.0.1",
    }
    fields.update(changes)
    return NewPrediction(**fields)  # type: ignore[arg-type]


def test_insert_and_list_round_trip(engine: Engine) -> None:
    rows = [_row(i) for i in range(250)] + [_row(i, model="wine") for i in range(5)]
    assert store.insert_predictions(engine, rows) == 255
    assert store.insert_predictions(engine, []) == 0
    listed = store.list_predictions(engine, "iris", limit=1000)
    assert len(listed) == 250
    first = listed[0]
    assert (first.request_id, first.at, first.version, first.latency_ms) == (
        "req-0",
        START,
        1,
        1.25,
    )
    assert first.input == {"instances": [[5.1, 3.5, 1.4, 0.2]], "i": 0}
    assert first.output == {"predictions": ["setosa"]}
    assert [r.request_id for r in listed[:3]] == ["req-0", "req-1", "req-2"]
    assert len({r.id for r in listed}) == 250


def test_since_limit_version_and_paging(engine: Engine) -> None:
    store.insert_predictions(engine, [_row(i) for i in range(10)])
    since = store.list_predictions(engine, "iris", since=START + timedelta(seconds=7))
    assert [r.request_id for r in since] == ["req-7", "req-8", "req-9"]
    assert len(store.list_predictions(engine, "iris", limit=4)) == 4
    assert all(r.version == 2 for r in store.list_predictions(engine, "iris", version=2))
    # Page through, including rows that share a timestamp.
    store.insert_predictions(engine, [_row(100 + i, at=START) for i in range(3)])
    seen: list[str] = []
    page = store.list_predictions(engine, "iris", limit=4)
    while page:
        seen += [r.request_id for r in page]
        last = page[-1]
        page = store.list_predictions(engine, "iris", since=last.at, after_id=last.id, limit=4)
    assert sorted(seen) == sorted({f"req-{i}" for i in [*range(10), 100, 101, 102]})
    assert len(seen) == 13
    with pytest.raises(InvalidRequestError):
        store.list_predictions(engine, "iris", limit=10_001)


def test_hash_only_and_large_inputs(engine: Engine) -> None:
    big = {"instances": [[float(i) for i in range(100)] for _ in range(200)]}  # ~100 KB
    store.insert_predictions(
        engine, [_row(0, input=None, output=None), _row(1, input=big, status="invalid_input")]
    )
    hashed, large = store.list_predictions(engine, "iris")
    assert (hashed.input, hashed.output, hashed.input_hash) == (None, None, f"{0:064x}")
    assert large.input == big
    assert large.status == "invalid_input"


def test_prune(engine: Engine) -> None:
    store.insert_predictions(engine, [_row(i) for i in range(20)])
    assert store.prune_predictions(engine, START + timedelta(seconds=15)) == 15
    assert [r.request_id for r in store.list_predictions(engine, "iris")] == [
        f"req-{i}" for i in range(15, 20)
    ]
    assert store.prune_predictions(engine, START) == 0


def test_naive_times_are_refused_before_anything_is_written(engine: Engine) -> None:
    rows = [_row(0), _row(1, at=datetime(2026, 3, 1, 12, 0))]
    with pytest.raises(InvalidRequestError, match="timezone-aware"):
        store.insert_predictions(engine, rows)
    assert store.list_predictions(engine, "iris") == []
    with pytest.raises(InvalidRequestError):
        store.prune_predictions(engine, datetime(2026, 1, 1))
