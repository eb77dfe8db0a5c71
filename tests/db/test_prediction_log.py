"""The prediction log writer (predlog.py) on every backend: buffered, batched, sampled,
per-model settings, a full buffer counted, an unreachable database waited out, pruning."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from modelport.cache import input_digest
from modelport.config import Settings
from modelport.db import make_engine, migrate, store
from modelport.db.database import Database
from modelport.db.prediction_rows import sqlite_insert_sizes
from modelport.errors import DatabaseUnavailableError
from modelport.outputs import ModelOutputs
from modelport.predlog import BATCH_ROWS, PredictionLog
from modelport.repository.model_yaml import LogConfig
from modelport.served import ModelVersion
from services import free_port

ROW = np.array([[5.1, 3.5, 1.4, 0.2]])
OUT = ModelOutputs(["setosa"], [{"setosa": 0.9, "versicolor": 0.1}])


def run(work: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(work)


def version(name: str = "iris", number: int = 1, **log: Any) -> ModelVersion:
    return ModelVersion(name, number, "ready", None, log=LogConfig(**log))


def make_log(engine: Engine, tmp_path: Path, **settings: Any) -> PredictionLog:
    # Migrated already (the fixtures' databases), or not answering at all.
    database = Database(engine, migrated=True)
    return PredictionLog(database, Settings(model_dir=tmp_path, data_dir=tmp_path, **settings))


def record(log: PredictionLog, served: ModelVersion, i: int = 0, **changes: Any) -> None:
    fields: dict[str, Any] = {
        "request_id": f"req-{i}",
        "protocol": "native",
        "client": "127.0.0.1",
        "batch": ROW,
        "outputs": OUT,
        "status": "ok",
        "latency_ms": 1.5,
    }
    fields.update(changes)
    log.record(served, **fields)


def test_every_recorded_prediction_is_written_in_batches(engine: Engine, tmp_path: Path) -> None:
    log = make_log(engine, tmp_path)
    count = BATCH_ROWS * 2 + 7
    for i in range(count):
        record(log, version(), i)
    record(log, version("other"), 0, request_id="x" * 200, status="invalid_input", outputs=None)
    assert run(log.flush()) == count + 1
    rows = store.list_predictions(engine, "iris", limit=10_000)
    assert [r.request_id for r in rows] == [f"req-{i}" for i in range(count)]
    first = rows[0]
    assert first.input == [[5.1, 3.5, 1.4, 0.2]]
    assert first.input_hash is None  # the rows themselves are there: no hash needed
    assert first.output == {
        "predictions": ["setosa"],
        "probabilities": [{"setosa": 0.9, "versicolor": 0.1}],
    }
    assert (first.protocol, first.client_address, first.status) == ("native", "127.0.0.1", "ok")
    assert first.version == 1 and first.latency_ms == 1.5
    assert first.at.tzinfo is not None
    assert abs((datetime.now(UTC) - first.at).total_seconds()) < 60
    (failed,) = store.list_predictions(engine, "other")
    assert failed.request_id == "x" * 64  # cut to the column, not a refused batch
    assert (failed.status, failed.output) == ("invalid_input", None)
    assert log.stats.written == count + 1 and log.describe()["buffered"] == 0


def test_inputs_logged_as_hash_only_when_asked(engine: Engine, tmp_path: Path) -> None:
    log = make_log(engine, tmp_path, log_inputs="hash")
    record(log, version(), 1)
    record(log, version("full", inputs="full"), 2)  # model.yaml wins over the server
    run(log.flush())
    (hashed,) = store.list_predictions(engine, "iris")
    assert hashed.input is None and hashed.input_hash == input_digest(ROW)
    (full,) = store.list_predictions(engine, "full")
    assert full.input == [[5.1, 3.5, 1.4, 0.2]] and full.input_hash is None


def test_the_clients_own_rows_text_is_logged_as_sent(engine: Engine, tmp_path: Path) -> None:
    # The decoder hands over the rows' JSON when the body held numbers and lists only:
    # written as it is, not encoded again from the array (same values, the client's spelling).
    text = b"[[5.10, 35e-1, 1.4, 0.2],\n [6, 2.9, 4.5, 1.5]]"
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.5, 1.5]])
    log = make_log(engine, tmp_path)
    record(log, version(), 1, batch=rows, text=text)
    record(log, version("hashed", inputs="hash"), 2, batch=rows, text=text)
    # Integer rows (a model typed int) are the validated values, not the text.
    record(log, version("ints"), 3, batch=rows.astype(np.int64), text=text)
    run(log.flush())
    (raw,) = store.list_predictions(engine, "iris")
    assert raw.input == [[5.1, 3.5, 1.4, 0.2], [6, 2.9, 4.5, 1.5]]
    with engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT input FROM prediction_log WHERE request_id = 'req-1'"
        ).scalar()
    assert stored == text.decode()
    (hashed,) = store.list_predictions(engine, "hashed")
    assert hashed.input is None and hashed.input_hash == input_digest(rows)
    (ints,) = store.list_predictions(engine, "ints")
    assert ints.input == [[5, 3, 1, 0], [6, 2, 4, 1]]


@pytest.mark.parametrize(
    "text",
    [b"[[1.5" + b" " * 200 + b", 2.5]]", b"[[1.5" + b"0" * 200 + b", 2.5]]"],
    ids=["spaces", "digits"],
)
def test_padded_row_text_is_not_kept(engine: Engine, tmp_path: Path, text: bytes) -> None:
    # Valid JSON, but far longer than its two values need: kept as sent, one such row
    # could hold any amount of buffer and log. The values are encoded instead.
    log = make_log(engine, tmp_path)
    record(log, version(), 1, batch=np.array([[1.5, 2.5]]), text=text)
    assert log._buffer[0].text is None
    run(log.flush())
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT input FROM prediction_log").scalar()
    assert stored == "[[1.5,2.5]]"


def test_model_yaml_turns_logging_off_or_on(engine: Engine, tmp_path: Path) -> None:
    on = make_log(engine, tmp_path)
    record(on, version("quiet", enabled=False))
    off = make_log(engine, tmp_path, log_predictions=False)
    record(off, version("iris"))
    record(off, version("chatty", enabled=True))
    run(on.flush())
    run(off.flush())
    assert store.list_predictions(engine, "quiet") == []
    assert store.list_predictions(engine, "iris") == []
    assert len(store.list_predictions(engine, "chatty")) == 1


def test_sampling_logs_a_share(engine: Engine, tmp_path: Path) -> None:
    random.seed(7)
    log = make_log(engine, tmp_path, log_sample_rate=0.25)
    for i in range(2000):
        record(log, version(), i)
    record(log, version("never", sample_rate=0.0))
    written = run(log.flush())
    assert 400 < written < 600
    assert written + log.stats.sampled_out == 2001
    assert store.list_predictions(engine, "never") == []


def test_a_full_buffer_counts_what_it_drops(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = make_log(engine, tmp_path, log_buffer_size=10)
    with caplog.at_level(logging.WARNING, logger="modelport.predlog"):
        for i in range(25):
            record(log, version(), i)
    assert log.stats.dropped == 15
    assert log.describe()["dropped"] == 15
    assert "buffer full" in caplog.text and "log_buffer_size" in caplog.text
    assert run(log.flush()) == 10
    # The newest are kept: what came last is what a returning database must not miss.
    rows = store.list_predictions(engine, "iris")
    assert [r.request_id for r in rows] == [f"req-{i}" for i in range(15, 25)]
    record(log, version(), 99)  # room again
    assert run(log.flush()) == 1


def test_big_requests_are_bounded_by_their_rows_and_written_in_parts(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = make_log(engine, tmp_path, log_buffer_rows=25_000)
    big = np.tile(ROW, (1000, 1))
    answer = ModelOutputs(["setosa"] * 1000)
    with caplog.at_level(logging.WARNING, logger="modelport.predlog"):
        for i in range(40):
            record(log, version(), i, batch=big, outputs=answer)
    # 40,000 rows asked for, 25,000 may wait: the 15 oldest requests went, counted.
    assert log.describe()["buffered"] == 25
    assert log.describe()["buffered_rows"] == 25_000
    assert log.stats.dropped == 15
    assert "log_buffer_rows" in caplog.text
    # One request holding more rows than the buffer may is still kept, alone.
    record(log, version(), 99, batch=np.tile(ROW, (30_000, 1)), outputs=None)
    assert (log.describe()["buffered"], log.stats.dropped) == (1, 40)
    record(log, version(), 100)
    assert log.describe()["buffered_rows"] == 1  # the big one made room
    assert log.stats.dropped == 41


def test_a_write_carries_a_bounded_number_of_rows(engine: Engine, tmp_path: Path) -> None:
    log = make_log(engine, tmp_path)
    for i in range(50):
        record(log, version(), i, batch=np.tile(ROW, (1000, 1)), outputs=None)
    chunk = log._next_chunk()
    assert len(chunk) == 20  # 20 x 1,000 rows: the most one write carries
    assert run(log.flush()) == 50
    assert log.describe()["buffered_rows"] == 0
    logged = store.list_predictions(engine, "iris", limit=100)
    assert [r.request_id for r in logged] == [f"req-{i}" for i in range(50)]
    assert len(logged[-1].input) == 1000


def test_the_writer_wakes_and_writes_a_small_batch_at_a_time(
    engine: Engine, tmp_path: Path
) -> None:
    # Small writes keep the tail latency of requests in flight short (predlog.BATCH_ROWS).
    log = make_log(engine, tmp_path)
    for i in range(BATCH_ROWS - 1):
        record(log, version(), i)
    assert not log._wake.is_set()  # not yet: the flush interval will do
    record(log, version(), BATCH_ROWS - 1)
    assert log._wake.is_set()
    for i in range(BATCH_ROWS, BATCH_ROWS * 3 + 1):
        record(log, version(), i)
    assert len(log._next_chunk()) == BATCH_ROWS
    assert run(log.flush()) == BATCH_ROWS * 3 + 1
    logged = store.list_predictions(engine, "iris", limit=10_000)
    assert [r.request_id for r in logged] == [f"req-{i}" for i in range(BATCH_ROWS * 3 + 1)]


def test_building_big_rows_gives_the_loop_a_turn_between_predictions(
    engine: Engine, tmp_path: Path
) -> None:
    log = make_log(engine, tmp_path)
    for i in range(3):
        record(log, version(), i, batch=np.tile(ROW, (1000, 1)), outputs=None)
    turns = 0

    async def scenario() -> list[Any]:
        async def count_turns() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        counter = asyncio.ensure_future(count_turns())
        await asyncio.sleep(0)
        values = await log._prepare(log._next_chunk())
        counter.cancel()
        return values

    assert len(run(scenario())) == 3
    assert turns >= 3  # a look at the loop after each 1,000-row prediction, not one for all


def test_rows_wait_for_an_unreachable_database(engine: Engine, tmp_path: Path) -> None:
    down = make_engine(f"mysql+pymysql://root@127.0.0.1:{free_port()}/nowhere")
    log = make_log(down, tmp_path)
    for i in range(5):
        record(log, version(), i)
    with pytest.raises(DatabaseUnavailableError):
        run(log.flush(retry=False))
    assert log.describe()["buffered"] == 5 and log.database_up is False
    assert log.stats.write_failures == 1
    log.database = Database(engine, migrated=True)  # the database is back
    assert run(log.flush(retry=False)) == 5
    assert log.database_up is True
    assert len(store.list_predictions(engine, "iris")) == 5
    down.dispose()


def test_rows_pushed_out_during_a_failed_write_are_counted_once(
    engine: Engine, tmp_path: Path
) -> None:
    down = make_engine(f"mysql+pymysql://root@127.0.0.1:{free_port()}/nowhere")
    log = make_log(down, tmp_path, log_buffer_size=4)

    async def scenario() -> None:
        for i in range(4):
            record(log, version(), i)
        flushing = asyncio.ensure_future(log.flush(retry=False))
        await asyncio.sleep(0)  # the write of req-0..3 is under way
        for i in range(4, 7):
            record(log, version(), i)  # pushes req-0..2 out of the full buffer
        with pytest.raises(DatabaseUnavailableError):
            await flushing

    run(scenario())
    assert log.stats.dropped == 3 and log.describe()["buffered"] == 4
    log.database = Database(engine, migrated=True)
    assert run(log.flush()) == 4
    assert [r.request_id for r in store.list_predictions(engine, "iris")] == [
        "req-3",
        "req-4",
        "req-5",
        "req-6",
    ]
    down.dispose()


def test_a_row_the_database_refuses_is_dropped_not_retried(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = make_log(engine, tmp_path)
    record(log, version(), 1, outputs=ModelOutputs([object()]))  # not JSON
    with caplog.at_level(logging.ERROR, logger="modelport.predlog"):
        assert run(log.flush()) == 0
    assert log.stats.rejected == 1 and log.describe()["buffered"] == 0
    record(log, version(), 2)
    assert run(log.flush()) == 1


def test_close_writes_what_is_buffered(engine: Engine, tmp_path: Path) -> None:
    async def scenario() -> None:
        log = make_log(engine, tmp_path, log_flush_interval=60)
        log.start()
        for i in range(3):
            record(log, version(), i)
        await log.close()

    run(scenario())
    assert len(store.list_predictions(engine, "iris")) == 3


def test_the_writer_task_flushes_on_its_own(engine: Engine, tmp_path: Path) -> None:
    async def scenario() -> int:
        log = make_log(engine, tmp_path, log_flush_interval=0.05)
        log.start()
        for i in range(4):
            record(log, version(), i)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if log.stats.written == 4:
                break
        await log.close()
        return log.stats.written

    assert run(scenario()) == 4


def test_prune_keeps_the_retention_period(engine: Engine, tmp_path: Path) -> None:
    log = make_log(engine, tmp_path, log_retention_days=7)
    record(log, version(), 1)
    run(log.flush())
    now = datetime.now(UTC)
    assert run(log.prune(now)) == 0
    assert run(log.prune(now + timedelta(days=8))) == 1
    assert store.list_predictions(engine, "iris") == []
    keep = make_log(engine, tmp_path, log_retention_days=0)
    assert keep.retention is None and run(keep.prune(now + timedelta(days=999))) == 0


def test_page_refuses_a_model_nobody_knows(engine: Engine) -> None:
    from modelport.errors import ModelNotFoundError
    from modelport.predlog_reader import read_page

    database = Database(engine, migrated=True)
    with pytest.raises(ModelNotFoundError):
        run(read_page(database, "nobody", served=False))
    assert run(read_page(database, "served-but-quiet", served=True)) == []


def test_a_migrated_sqlite_file_works_as_well(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'log.db'}")
    migrate(engine)
    log = make_log(engine, tmp_path)
    record(log, version(), 1, batch=None, outputs=None, status="timeout")
    assert run(log.flush()) == 1
    (row,) = store.list_predictions(engine, "iris")
    assert (row.input, row.input_hash, row.status) == (None, None, "timeout")
    engine.dispose()


@pytest.mark.parametrize("count", [0, 1, 7, 2978, 2979, 6000, 10_000])
def test_sqlite_inserts_cover_every_row_once_in_few_shapes(count: int) -> None:
    parts = list(sqlite_insert_sizes(count, 2978))
    covered = [row for start, size in parts for row in range(start, start + size)]
    assert covered == list(range(count))
    assert all(size == 2978 or size & (size - 1) == 0 for _, size in parts)


def test_sqlite_statement_shapes_stay_few_whatever_the_batch_sizes() -> None:
    shapes = {size for count in range(1, 5000) for _, size in sqlite_insert_sizes(count, 2978)}
    assert len(shapes) <= 13
