"""A small key-value store for custom routes: Redis when ``redis_url`` is set, else in-process.

Routes keep small shared state here (examples/simple-restful-ml keeps each timestamp's
reference value).
Values are anything JSON can hold; keys live under one namespace so the store never
touches other Redis keys. Calls block (routes run in threads), and a Redis failure
reads as a miss and drops the write, logged, so a route can fall back to its source of
truth (a database table) instead of failing while Redis is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from modelport.errors import MissingDependencyError

__all__ = ["KeyValueStore", "MemoryStore", "RedisStore", "make_store"]

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "modelport:kv"


class KeyValueStore(Protocol):
    """What a route gets as ``server.store``."""

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None (never set, expired, or unreachable)."""
        ...

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store a JSON-able value, for ``ttl`` seconds (None: until deleted)."""
        ...

    def delete(self, key: str) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """One dict per process, guarded by a lock (routes run in several threads).

    ``clock`` (seconds, monotonic) is for tests, which move time on instead of waiting.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._values: dict[str, tuple[float | None, bytes]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str) -> Any | None:
        with self._lock:
            entry = self._values.get(key)
            if entry is None:
                return None
            expires, raw = entry
            if expires is not None and expires < self._clock():
                del self._values[key]
                return None
        return orjson.loads(raw)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        # Encoded on the way in, so a caller mutating its object later changes nothing
        # here, and the store holds exactly what Redis would.
        raw = _encode(value)
        expires = None if ttl is None else self._clock() + ttl
        with self._lock:
            self._values[key] = (expires, raw)

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def close(self) -> None:
        with self._lock:
            self._values.clear()


class RedisStore:
    """Shared by every worker and server on one Redis; keys are ``<namespace>:<key>``."""

    def __init__(self, url: str, namespace: str = DEFAULT_NAMESPACE, timeout_s: float = 1.0):
        try:
            import redis
        except ModuleNotFoundError as exc:
            raise MissingDependencyError("redis", "redis") from exc
        #: What a failing Redis raises (timeouts and lost connections are RedisErrors too).
        self._redis_error: type[Exception] = redis.RedisError
        self.namespace = namespace
        self._client: Any = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    def get(self, key: str) -> Any | None:
        try:
            raw = self._client.get(self._key(key))
        except self._redis_error as exc:
            self._failed("read", key, exc)
            return None
        return None if raw is None else orjson.loads(raw)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        raw = _encode(value)
        px = None if ttl is None else max(1, int(ttl * 1000))
        try:
            self._client.set(self._key(key), raw, px=px)
        except self._redis_error as exc:
            self._failed("write", key, exc)

    def delete(self, key: str) -> None:
        try:
            self._client.delete(self._key(key))
        except self._redis_error as exc:
            self._failed("delete", key, exc)

    def close(self) -> None:
        self._client.close()

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def _failed(self, action: str, key: str, exc: Exception) -> None:
        # %r: a route may build the key from what a client sent (a newline would forge a line)
        log.warning(
            "key-value store: Redis failed to %s %r: %s: %s", action, key, type(exc).__name__, exc
        )


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise TypeError(f"the key-value store holds JSON-able values only: {exc}") from exc


def make_store(redis_url: str | None, namespace: str = DEFAULT_NAMESPACE) -> KeyValueStore:
    """Redis when a URL is configured (shared by every worker), else in-process."""
    if redis_url is None:
        return MemoryStore()
    return RedisStore(redis_url, namespace)
