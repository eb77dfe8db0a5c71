"""Response cache: repeated requests answered without calling the model.

Two backends behind one small interface: an in-process LRU (the default) and Redis (when
``redis_url`` is set), so that every worker and server shares the entries. Keys name the
model, the version number and the version's fingerprint (artifact sha256, model.yaml and
code files), plus an exact hash of the *validated* input (dtypes, names and value bytes),
so the payload's shape (rows, records, columns) does not matter, and an entry can never
answer for another input, another version, a replaced file or an edited model.yaml. A
cache that fails (Redis down, slow) degrades to "no cache": it never fails or noticeably
slows a prediction. :class:`ServingCache` is what the inference path uses: which models
cache, the keys, the size limit and the counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import orjson

from modelport.config import Settings
from modelport.errors import MissingDependencyError
from modelport.metrics import Metrics
from modelport.outputs import ModelOutputs
from modelport.served import ModelVersion
from modelport.types import Batch, NDArray

__all__ = [
    "CacheStats",
    "MemoryCache",
    "RedisCache",
    "ResponseCache",
    "ServingCache",
    "decode_outputs",
    "encode_outputs",
    "entry_key",
    "input_digest",
]

log = logging.getLogger(__name__)


class ResponseCache(Protocol):
    """What the inference path needs from a cache backend."""

    namespace: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...

    async def forget_model(self, model: str) -> int:
        """Drop every entry of one model; returns how many went."""
        ...

    async def close(self) -> None: ...


def entry_key(
    namespace: str, model: str, version: int, fingerprint: str, batch: Batch, probabilities: bool
) -> str:
    """The key of one request: model, version, what the version was built from (artifact
    sha256, or the loader's fingerprint of artifact + model.yaml + code) and the input."""
    digest = input_digest(batch, b"p1" if probabilities else b"p0")
    return f"{namespace}:{model}:{version}:{fingerprint[:24]}:{digest}"


def input_digest(batch: Batch, *salt: bytes) -> str:
    """A hash of the *validated* input (its values, types and shape), whatever the
    payload's format was; the prediction log keeps it when inputs are not logged.

    Exact: two inputs share a digest only when the model would get the very same values
    (1.0000000000000002 and 1 differ in their last bit, so they differ here).
    """
    hasher = hashlib.blake2b(digest_size=16)
    for part in salt:
        hasher.update(part)
    if isinstance(batch, np.ndarray):
        _hash_array(hasher, batch)
    else:  # a DataFrame: its shape, then each column's name, dtype and values
        hasher.update(b"frame%r" % (batch.shape,))
        for name, column in batch.items():
            # pandas' own dtype too: "str" and "object" columns give the same NumPy array
            hasher.update(orjson.dumps([type(name).__name__, str(name), str(column.dtype)]))
            _hash_array(hasher, column.to_numpy())
    return hasher.hexdigest()


def _hash_array(hasher: Any, array: NDArray) -> None:
    """dtype and shape, then the values: numbers as their bytes (one C pass); objects
    (strings, None, NaN) each as its type and value."""
    hasher.update(f"{array.dtype.str}{array.shape}".encode())
    if array.dtype.hasobject:  # the bytes would be pointers
        encoded = _object_values(array.reshape(-1).tolist())
        # Its length first: the values' encoding must not run into the next column's.
        hasher.update(len(encoded).to_bytes(8, "little"))
        hasher.update(encoded)
    else:  # dtype and shape fix the length
        hasher.update(np.ascontiguousarray(array).tobytes())


def _object_values(values: list[Any]) -> bytes:
    """A stable, unambiguous encoding of an object column's values."""
    if set(map(type, values)) <= {str, type(None)}:  # the usual string column: in C
        with contextlib.suppress(orjson.JSONEncodeError):  # a lone surrogate: the slow way
            return orjson.dumps(values)
    # Type name and repr, one value a line: repr escapes newlines, tells "1" from 1 and
    # 1.0 and keeps every bit of a float; NaN and None stay apart.
    return "\n".join(f"{type(value).__name__}:{value!r}" for value in values).encode(
        "utf-8", "surrogatepass"
    )


def encode_outputs(outputs: ModelOutputs) -> bytes:
    # Non-string keys (integer labels) come back as strings: JSON answers are the same.
    return orjson.dumps(
        {"p": outputs.predictions, "q": outputs.probabilities},
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
    )


def decode_outputs(raw: bytes) -> ModelOutputs:
    data = orjson.loads(raw)
    return ModelOutputs(data["p"], data["q"])


class MemoryCache:
    """In-process LRU with a time-to-live; one per worker process.

    ``clock`` (seconds, monotonic) is for tests, which move time on instead of waiting.
    """

    def __init__(
        self,
        max_entries: int,
        ttl_s: float,
        namespace: str = "modelport",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace = namespace
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        self._entries[key] = (self._clock() + self.ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def forget_model(self, model: str) -> int:
        prefix = f"{self.namespace}:{model}:"
        doomed = [key for key in self._entries if key.startswith(prefix)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    async def close(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class RedisCache:
    """Redis-backed, shared by every worker; any Redis failure is a miss, not an error.

    After a failure Redis is left alone for ``retry_after_s`` so that an outage costs one
    timeout, not one per request. ``clock`` (seconds, monotonic) is for tests.
    """

    def __init__(
        self,
        url: str,
        ttl_s: float,
        namespace: str = "modelport",
        timeout_s: float = 0.05,
        retry_after_s: float = 5.0,
        connect_timeout_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            import redis.asyncio as redis_asyncio
        except ModuleNotFoundError as exc:
            raise MissingDependencyError("redis", "redis") from exc
        #: What a failing Redis raises (timeouts and lost connections are RedisErrors too).
        self._redis_error: type[Exception] = redis_asyncio.RedisError
        self._clock = clock
        self.namespace = namespace
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.retry_after_s = retry_after_s
        self._client: Any = redis_asyncio.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=connect_timeout_s or timeout_s,
        )
        self._down_until = 0.0
        self.failures = 0

    async def get(self, key: str) -> bytes | None:
        if self._resting():
            return None
        try:
            value: bytes | None = await self._client.get(key)
        except self._redis_error as exc:
            self._failed(exc)
            return None
        return value

    async def set(self, key: str, value: bytes) -> None:
        if self._resting():
            return
        try:
            await self._client.set(key, value, px=self.ttl_ms)
        except self._redis_error as exc:
            self._failed(exc)

    async def forget_model(self, model: str) -> int:
        if self._resting():
            return 0
        dropped = 0
        try:
            async for key in self._client.scan_iter(match=f"{self.namespace}:{model}:*"):
                dropped += await self._client.delete(key)
        except self._redis_error as exc:
            self._failed(exc)
        return dropped

    async def close(self) -> None:
        await self._client.aclose()

    def _resting(self) -> bool:
        return self._clock() < self._down_until

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self._down_until = self._clock() + self.retry_after_s
        log.warning(
            "response cache: Redis failed (%s: %s); serving without cache for %.0f s",
            type(exc).__name__,
            exc,
            self.retry_after_s,
        )


@dataclass
class CacheStats:
    """Counters of one process's response cache (GET /v1/admin/stats)."""

    hits: int = 0
    misses: int = 0
    stored: int = 0
    too_large: int = 0


class ServingCache:
    """The response cache as the inference path uses it: which models cache, their keys,
    the entry size limit and the counters. Lookups are awaited (a hit skips the model);
    stores run as background tasks, never on the request's path."""

    def __init__(
        self,
        backend: ResponseCache,
        default_on: bool,
        max_entry_size: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.backend = backend
        #: Counts each lookup's result where ``stats`` counts it: one place for both.
        self.metrics = metrics
        #: Whether models cache when their model.yaml does not say (setting ``cache``).
        self.default_on = default_on
        self.max_entry_size = max_entry_size
        self.stats = CacheStats()
        self._pending: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics | None = None) -> ServingCache:
        backend: ResponseCache
        if settings.redis_url:
            # A busy machine can stall an answer from a local Redis for tens of ms, and one
            # timeout means seconds without the cache: allow 100 ms (250 ms to connect).
            backend = RedisCache(
                settings.redis_url,
                settings.cache_ttl,
                namespace=settings.cache_namespace,
                timeout_s=0.1,
                connect_timeout_s=0.25,
            )
        else:
            backend = MemoryCache(
                settings.cache_max_entries, settings.cache_ttl, settings.cache_namespace
            )
        return cls(backend, settings.cache, settings.cache_max_entry_size, metrics)

    def key_for(self, served: ModelVersion, batch: Batch, probabilities: bool) -> str | None:
        """The request's cache key, or None when this model does not cache."""
        if not (served.cache if served.cache is not None else self.default_on):
            return None
        fingerprint = served.fingerprint or served.artifact_sha256 or ""
        return entry_key(
            self.backend.namespace, served.name, served.version, fingerprint, batch, probabilities
        )

    async def lookup(self, key: str, model: str = "") -> ModelOutputs | None:
        """The answer stored under ``key`` (a request of ``model``), or None."""
        raw = await self.backend.get(key)
        if raw is not None:
            try:
                outputs = decode_outputs(raw)
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("response cache: unreadable entry %s; treated as a miss", key)
            else:
                self.stats.hits += 1
                if self.metrics is not None:
                    self.metrics.cache_lookup(model, "hit")
                return outputs
        self.stats.misses += 1
        if self.metrics is not None:
            self.metrics.cache_lookup(model, "miss")
        return None

    def remember(self, key: str, outputs: ModelOutputs) -> None:
        """Store an answer in the background (a slow Redis never delays the response)."""
        try:
            raw = encode_outputs(outputs)
        except TypeError:  # a value orjson cannot write: answer it, just do not cache it
            return
        if len(raw) > self.max_entry_size:
            self.stats.too_large += 1
            return
        self.stats.stored += 1
        self._background(self.backend.set(key, raw))

    def forget_soon(self, model: str) -> None:
        """The registry's change hook: a model's versions or aliases changed, so its
        in-process entries go. The fingerprint in every key is what keeps an old entry
        from answering for a changed version; this only frees the memory at once.
        Shared Redis entries are left to expire (ttl): every process calls this hook,
        also when it merely starts, and would wipe what the others just stored."""
        if not isinstance(self.backend, MemoryCache):
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no running loop: nothing was cached yet
            return
        self._background(self.forget_model(model))

    async def forget_model(self, model: str) -> None:
        dropped = await self.backend.forget_model(model)
        if dropped:
            log.info("response cache: dropped %d entr(ies) of model '%s'", dropped, model)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def describe(self) -> dict[str, Any]:
        backend = "redis" if isinstance(self.backend, RedisCache) else "memory"
        info: dict[str, Any] = {"backend": backend, "default_on": self.default_on}
        info.update(asdict(self.stats))
        if isinstance(self.backend, RedisCache):
            info["redis_failures"] = self.backend.failures
        elif isinstance(self.backend, MemoryCache):
            info["entries"] = len(self.backend)
        return info

    async def close(self) -> None:
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=1.0)
        await self.backend.close()
