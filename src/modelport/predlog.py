"""The prediction log: every prediction written to the database, off the request path.

A prediction is appended to a bounded in-memory buffer (a few attribute reads and one
``deque.append`` on the request path); a background task writes the buffer in batches
(one transaction per batch, in a thread). When the database is slow or down, rows wait
in the buffer and the writes are retried (at least once a second); predictions are
still answered all along. Once the buffer is full, the *oldest* waiting row makes room
for each new one: it is counted (``dropped``) and a log line says so. The newest rows
are kept because they are the ones written first when the database is back, so nothing
predicted after its return is lost while the backlog drains. Turning inputs into JSON,
hashing them and bounding each row (``log_max_input_bytes``, predlog_rows.py) happens in
the writer, not on the request path. Old rows are pruned in the background
(``log_retention_days``). Reading the log is predlog_reader.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from modelport.config import Settings
from modelport.db import store
from modelport.db.database import Database
from modelport.errors import ConflictError, DatabaseUnavailableError
from modelport.metrics import Metrics
from modelport.outputs import ModelOutputs
from modelport.payloads import Payload
from modelport.predlog_rows import Pending, keeps_text, row_values
from modelport.served import ModelVersion
from modelport.types import Batch

__all__ = ["LogStats", "PredictionLog"]

log = logging.getLogger(__name__)

#: Predictions per INSERT transaction; the writer wakes once this many wait. Small on
#: purpose: a write's CPU (building rows on the loop, then the driver in a thread on the
#: same cores) delays the requests in flight by about its length, so 1,000-row writes put
#: ~8 ms on the p99 of single-row requests at c=64 and 128-row writes about 1-2 ms, for the
#: same throughput (bench/results, make bench; a commit costs ~0.1 ms on SQLite).
BATCH_ROWS = 128
#: Most input rows one write carries (128 predictions of 10,000 rows each would be a
#: 50 MB INSERT); the writer also wakes early once this many wait.
WRITE_ROWS = 20_000
#: Input rows turned into driver parameters between two looks at the event loop (under
#: 1 ms; a 1,000-row prediction is one slice of its own).
PREPARE_SLICE = 64
#: Longest wait between two write attempts while the database is down: short, so that
#: writing resumes soon after it is back (a refused connection costs next to nothing).
MAX_BACKOFF_S = 1.0
#: At most one "buffer full" line per this many seconds while predictions are dropped.
OVERFLOW_REPORT_S = 10.0
#: Time the last writes may take at shutdown.
CLOSE_TIMEOUT_S = 5.0
PRUNE_EVERY_S = 3600.0


@dataclass
class LogStats:
    """Counters of one process's prediction log (GET /v1/admin/stats)."""

    written: int = 0
    #: Predictions never logged because the buffer was full (the database slow or down).
    dropped: int = 0
    #: Predictions left out by sampling (log_sample_rate / model.yaml sample_rate).
    sampled_out: int = 0
    #: Batches that failed to write (each is retried, or dropped if the database refuses it).
    write_failures: int = 0
    #: Rows the database refused outright (not an outage), so they could never be written.
    rejected: int = 0


class PredictionLog:
    """One process's prediction log writer, on the server's database."""

    def __init__(
        self, database: Database, settings: Settings, metrics: Metrics | None = None
    ) -> None:
        #: Made ready (migrated once it answers) before each write.
        self.database = database
        self.enabled = settings.log_predictions
        self.sample_rate = settings.log_sample_rate
        self.full_inputs = settings.log_inputs == "full"
        #: Most bytes of JSON one prediction's input (and output) may put in a row.
        self.max_input_bytes = settings.log_max_input_bytes
        self.capacity = settings.log_buffer_size
        self.row_capacity = settings.log_buffer_rows
        self.flush_interval_s = settings.log_flush_interval
        self.retention = (
            timedelta(days=settings.log_retention_days) if settings.log_retention_days else None
        )
        self.stats = LogStats()
        self.metrics = metrics
        self.database_up = True
        self._buffer: deque[Pending] = deque()
        #: Input rows the buffered predictions hold: a 1,000-row request weighs 1,000.
        self._rows = 0
        self._seq = 0
        #: Rows of the write in flight (sequence numbers up to this) that a full buffer
        #: pushed out meanwhile: dropped if that write fails, written if it succeeds.
        self._inflight_upto = -1
        self._evicted_inflight = 0
        self._wake = asyncio.Event()
        self._overflow_since_report = 0
        self._overflow_reported_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: asyncio.Future[int] | None = None

    # -- the request path -----------------------------------------------------------------

    def record(
        self,
        served: ModelVersion,
        request_id: str | None,
        protocol: str,
        client: str | None,
        batch: Batch | None,
        outputs: ModelOutputs | None,
        status: str,
        latency_ms: float,
        text: bytes | None = None,
        payload: Payload | None = None,
        error: str | None = None,
    ) -> None:
        """Queue one prediction for the log, if this model logs it; never blocks.

        ``text`` is the input rows' JSON exactly as the client sent it, when the request
        held nothing but numbers and lists; it is logged instead of encoding ``batch``.
        A failed prediction gives its ``error`` message, and ``payload`` (the decoded
        request) when its input was rejected before it became ``batch``.
        """
        own = served.log
        if not (own.enabled if own.enabled is not None else self.enabled):
            return
        rate = own.sample_rate if own.sample_rate is not None else self.sample_rate
        if rate < 1.0 and random.random() >= rate:  # noqa: S311  sampling, not a secret
            self.stats.sampled_out += 1
            return
        full = own.inputs == "full" if own.inputs is not None else self.full_inputs
        pending = Pending(
            self._seq + 1,
            time.time(),
            request_id or "-",
            served.name,
            served.version,
            protocol,
            client,
            batch,
            outputs,
            status,
            latency_ms,
            full,
            text if full and keeps_text(batch, text) else None,
            payload if batch is None else None,
            error,
        )
        rows = pending.weight
        while self._buffer and (
            len(self._buffer) >= self.capacity or self._rows + rows > self.row_capacity
        ):
            self._evict_oldest()
        self._seq += 1
        self._buffer.append(pending)
        self._rows += rows
        if len(self._buffer) >= BATCH_ROWS or self._rows >= WRITE_ROWS:
            self._wake.set()

    def _evict_oldest(self) -> None:
        oldest = self._buffer.popleft()
        self._rows -= oldest.weight
        if oldest.seq <= self._inflight_upto:
            self._evicted_inflight += 1  # being written right now: count it once we know
        else:
            self.stats.dropped += 1
            if self.metrics is not None:
                self.metrics.logged(dropped=1)
        self._overflow_since_report += 1
        now = time.monotonic()
        if now - self._overflow_reported_at >= OVERFLOW_REPORT_S:
            log.warning(
                "prediction log: buffer full (%d waiting, database %s); %d older "
                "prediction(s) dropped from it since the last report (setting "
                "log_buffer_size, log_buffer_rows); see GET /v1/admin/stats",
                len(self._buffer),
                "up but slow" if self.database_up else "unavailable",
                self._overflow_since_report,
            )
            self._overflow_since_report = 0
            self._overflow_reported_at = now

    # -- background work ------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer (and the pruner, when rows expire); on the running loop."""
        self._tasks.append(asyncio.create_task(self._write_loop(), name="modelport-predlog"))
        if self.retention is not None:
            self._tasks.append(asyncio.create_task(self._prune_loop(), name="modelport-prune"))

    async def close(self) -> None:
        """Stop the background tasks, then write what is buffered (bounded in time)."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._inflight is not None:
            await asyncio.wait([self._inflight], timeout=CLOSE_TIMEOUT_S)
            if self._inflight.done() and not self._inflight.cancelled():
                self._inflight.exception()  # seen here; the final flush retries the rows
        if not self._buffer:
            return
        with contextlib.suppress(TimeoutError, DatabaseUnavailableError, ConflictError):
            await asyncio.wait_for(self.flush(retry=False), CLOSE_TIMEOUT_S)
        if self._buffer:
            log.warning(
                "prediction log: %d prediction(s) could not be written before shutdown",
                len(self._buffer),
            )

    async def _write_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            await self.flush(retry=True)

    async def flush(self, retry: bool = True) -> int:
        """Write everything buffered now; returns the rows written.

        While the database is down the rows stay in the buffer: with ``retry`` this waits
        (with back-off) until they are written, else it raises DatabaseUnavailableError.
        """
        written = 0
        backoff = 0.25
        while self._buffer:
            if self._inflight is None or self._inflight.done():
                chunk = self._next_chunk()
                self._inflight = asyncio.ensure_future(self._write_chunk(chunk))
            try:
                # Shielded: a cancelled flush (shutdown) leaves the write to finish, so its
                # rows are taken off the buffer exactly once.
                written += await asyncio.shield(self._inflight)
            except (DatabaseUnavailableError, ConflictError) as exc:
                self.stats.write_failures += 1
                if self.database_up:
                    log.warning(
                        "prediction log: cannot write (%s); %d prediction(s) wait in the "
                        "buffer, retrying",
                        exc.message,
                        len(self._buffer),
                    )
                self.database_up = False
                if not retry:
                    raise
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            if not self.database_up:
                log.info("prediction log: the database is back; writing resumed")
                self.database_up = True
        return written

    def _next_chunk(self) -> list[Pending]:
        """The oldest predictions, up to BATCH_ROWS of them and WRITE_ROWS input rows (but
        at least one): one INSERT's worth."""
        chunk: list[Pending] = []
        rows = 0
        for item in itertools.islice(self._buffer, BATCH_ROWS):
            rows += item.weight
            if chunk and rows > WRITE_ROWS:
                break
            chunk.append(item)
        return chunk

    async def _write_chunk(self, chunk: list[Pending]) -> int:
        """Write ``chunk`` (the buffer's oldest rows) and take it off the buffer."""
        self._inflight_upto = chunk[-1].seq
        try:
            await self.database.ready()
            values = await self._prepare(chunk)
            count = await self.database.run(store.insert_prepared, values)
        except (DatabaseUnavailableError, ConflictError):
            # An outage: the rows stay buffered for the next try, except those that a
            # full buffer pushed out meanwhile.
            self.stats.dropped += self._evicted_inflight
            if self.metrics is not None:
                self.metrics.logged(dropped=self._evicted_inflight)
            raise
        except Exception:
            # Not an outage: the database refused these rows (a bug, or a value it
            # cannot store). Retrying would block the log forever, so they go.
            log.exception("prediction log: %d row(s) refused; dropped", len(chunk))
            self.stats.write_failures += 1
            self.stats.rejected += len(chunk)
            if self.metrics is not None:
                self.metrics.logged(rejected=len(chunk))
            count = 0
        else:
            self.stats.written += count
            if self.metrics is not None:
                self.metrics.logged(written=count)
        finally:
            self._inflight_upto = -1
            self._evicted_inflight = 0
            if self.metrics is not None:
                self.metrics.log_buffered.set(len(self._buffer))
        last = chunk[-1].seq
        while self._buffer and self._buffer[0].seq <= last:
            self._rows -= self._buffer.popleft().weight
        return count

    async def _prepare(self, chunk: list[Pending]) -> list[Any]:
        """The rows as the driver takes them (JSON, hashes, times), built here on the loop
        a slice at a time. In the writer thread this Python work would fight the event
        loop for the GIL (a thread that waits for it waits a whole switch interval, 5 ms,
        and the loop gives it up at every system call); slices keep each pause of the
        loop to about a millisecond."""
        make = store.row_maker(self.database.engine)
        values: list[Any] = []
        weight = 0
        for item in chunk:
            values.append(row_values(make, item, self.max_input_bytes))
            weight += item.weight
            if weight >= PREPARE_SLICE:  # by rows: 20 1,000-row predictions were one 4 ms pause
                weight = 0
                await asyncio.sleep(0)
        return values

    async def _prune_loop(self) -> None:
        # Workers start together; spread their first prune so they do not all run at once.
        await asyncio.sleep(random.uniform(5, 60))  # noqa: S311  jitter
        while True:
            try:
                await self.prune()
            except (DatabaseUnavailableError, ConflictError) as exc:
                log.warning("prediction log: pruning failed (%s); trying again later", exc)
            await asyncio.sleep(PRUNE_EVERY_S * random.uniform(0.9, 1.1))  # noqa: S311

    async def prune(self, now: datetime | None = None) -> int:
        """Delete rows older than the retention period; returns how many went."""
        if self.retention is None:
            return 0
        await self.database.ready()
        cutoff = (now or datetime.now(UTC)) - self.retention
        removed = await self.database.run(store.prune_predictions, cutoff)
        if removed:
            log.info("prediction log: pruned %d row(s) older than %s", removed, cutoff)
        return removed

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "sample_rate": self.sample_rate,
            "buffered": len(self._buffer),
            "buffered_rows": self._rows,
            "capacity": self.capacity,
            "database_up": self.database_up,
            **asdict(self.stats),
        }
