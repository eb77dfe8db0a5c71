"""How workers and servers on one repository learn of each other's model changes.

The database's audit log is the one ordered record of every management action; each
process follows it and replays the actions of the others (``ModelManager.follow``).
Without Redis, a process looks at the log every ``sync_interval`` (0.5 s by default).
With ``redis_url``, an action also publishes a message on a Redis channel, which makes
every process look at once; the log is still polled (at 10x the interval) as a safety
net, since Redis pub/sub drops messages while a subscriber is disconnected.

Two parts, so that neither is wired to the other after it is built: the
:class:`Doorbell` (rung by this process's actions, and by Redis messages from the
others) and the :class:`ChangeFeed` (reads the log when the doorbell rings or the
interval passes, and replays each entry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from modelport.db import store
from modelport.db.database import Database
from modelport.db.records import AuditRecord
from modelport.errors import DatabaseUnavailableError

__all__ = ["CHANNEL", "ChangeFeed", "Doorbell"]

log = logging.getLogger(__name__)

CHANNEL = "modelport:changes"
# Ids are handed out at insert but become visible at commit, so a slow transaction can
# show up below the newest id seen. Each look re-reads this many ids below it.
_LOOK_BACK = 64


def _redis_errors() -> tuple[type[Exception], ...]:
    """What a call to a failing Redis raises (timeouts and lost connections included).

    Looked up only when a call failed: redis is imported only when ``redis_url`` is set
    (it costs every start ~0.09 s), and without the package the import is what fails.
    """
    try:
        from redis import RedisError
    except ModuleNotFoundError:
        return (ModuleNotFoundError,)
    return (RedisError,)


class Doorbell:
    """Says "look at the audit log now": to this process's feed, and through Redis (when
    configured) to every other process's."""

    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url
        self._wake = asyncio.Event()
        self._redis: Any = None

    async def ring(self) -> None:
        """Wake this process's feed and publish to the others (never raises)."""
        self._wake.set()  # this process may have missed others' entries too
        if not self.redis_url:
            return
        try:
            client = await self._client(self.redis_url)
            await client.publish(CHANNEL, b"changed")
        except _redis_errors() as exc:  # a Redis outage only costs latency: the poll still runs
            log.warning("change feed: could not publish to Redis: %s", exc)

    async def wait(self, timeout_s: float) -> None:
        """Until the doorbell rings or ``timeout_s`` passes; then it is quiet again."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout_s)
        self._wake.clear()

    async def listen(self) -> None:
        """Ring on every message on the Redis channel; reconnect after outages."""
        if self.redis_url is None:
            return  # no Redis, no channel: the interval alone wakes the feed
        while True:
            import redis.asyncio as redis

            # Its own connection, without a read timeout: a quiet channel is not an error.
            client = redis.Redis.from_url(
                self.redis_url, socket_connect_timeout=2, health_check_interval=30
            )
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._wake.set()  # anything published while we were away
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except _redis_errors() as exc:
                log.warning("change feed: Redis subscription lost (%s); retrying in 1 s", exc)
                await asyncio.sleep(1)
            finally:
                await client.aclose()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _client(self, url: str) -> Any:
        if self._redis is None:
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        return self._redis


class ChangeFeed:
    """Follows the audit log, calling ``apply`` once per entry, in id order."""

    def __init__(
        self,
        database: Database,
        apply: Callable[[AuditRecord], Awaitable[None]],
        interval_s: float,
        doorbell: Doorbell,
    ) -> None:
        self.database = database
        self.apply = apply
        self.doorbell = doorbell
        self.interval_s = interval_s * 10 if doorbell.redis_url else interval_s
        self._last_id: int | None = None
        self._seen: deque[int] = deque(maxlen=4 * _LOOK_BACK)
        self._down = False

    async def run(self) -> None:
        """Follow until cancelled; database or Redis outages are logged and retried."""
        listening = self.doorbell.redis_url is not None
        listener = asyncio.create_task(self.doorbell.listen()) if listening else None
        try:
            while True:
                try:
                    await self._look()
                    if self._down:
                        log.info("change feed: the database answers again")
                    self._down = False
                except DatabaseUnavailableError as exc:
                    if not self._down:  # once per outage, not once per look
                        log.warning("change feed: %s; trying again", exc.message)
                    self._down = True
                except Exception:
                    log.exception("change feed: replaying a change failed")
                await self.doorbell.wait(self.interval_s)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            await self.doorbell.close()

    async def begin(self) -> None:
        """Remember where the log ends now; later entries will be replayed."""
        try:
            await self.database.ready()
            self._last_id = await self.database.run(store.last_audit_id)
        except DatabaseUnavailableError as exc:
            log.warning("change feed: %s; following from when it answers", exc.message)

    async def _look(self) -> None:
        await self.database.ready()
        if self._last_id is None:
            # Start at the end: what happened before this process started is on disk.
            self._last_id = await self.database.run(store.last_audit_id)
            return
        after = max(0, self._last_id - _LOOK_BACK)
        entries = await self.database.run(store.audit_after, after)
        for entry in entries:
            if entry.id in self._seen or entry.id <= after:
                continue
            self._seen.append(entry.id)
            self._last_id = max(self._last_id, entry.id)
            await self.apply(entry)
