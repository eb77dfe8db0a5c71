"""Response cache: repeated requests answered without calling the model.

Two backends behind one small interface: an in-process LRU (the default) and Redis (when
``redis_url`` is set), so that every worker and server shares the entries. Keys name the
model, the version number and the artifact's sha256, plus a hash of the *validated*
input, so the payload's shape (rows, records, columns) does not matter, and an entry can
never answer for another version or a replaced file. A cache that fails (Redis down,
slow) degrades to "no cache": it never fails or noticeably slows a prediction.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np
import orjson

from modelport.errors import MissingDependencyError
from modelport.outputs import ModelOutputs
from modelport.types import Batch

__all__ = [
    "MemoryCache",
    "RedisCache",
    "ResponseCache",
    "decode_outputs",
    "encode_outputs",
    "entry_key",
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
    namespace: str, model: str, version: int, sha256: str, batch: Batch, probabilities: bool
) -> str:
    """The key of one request: model, version, artifact and the canonical input."""
    digest = _input_digest(batch, probabilities)
    return f"{namespace}:{model}:{version}:{sha256[:16]}:{digest}"


def _input_digest(batch: Batch, probabilities: bool) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(b"p1" if probabilities else b"p0")
    if isinstance(batch, np.ndarray):
        array = np.ascontiguousarray(batch)
        hasher.update(f"{array.dtype.str}{array.shape}".encode())
        hasher.update(array.tobytes())
    else:  # a DataFrame: columns, dtypes and values, in a stable text form
        hasher.update(orjson.dumps(list(map(str, batch.columns))))
        hasher.update(batch.to_json(orient="values", double_precision=15).encode())
    return hasher.hexdigest()


def encode_outputs(outputs: ModelOutputs) -> bytes:
    return orjson.dumps(
        {"p": outputs.predictions, "q": outputs.probabilities},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def decode_outputs(raw: bytes) -> ModelOutputs:
    data = orjson.loads(raw)
    return ModelOutputs(data["p"], data["q"])


class MemoryCache:
    """In-process LRU with a time-to-live; one per worker process."""

    def __init__(self, max_entries: int, ttl_s: float, namespace: str = "modelport") -> None:
        self.namespace = namespace
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        self._entries[key] = (time.monotonic() + self.ttl_s, value)
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


class RedisCache:
    """Redis-backed, shared by every worker; any Redis failure is a miss, not an error.

    After a failure Redis is left alone for ``retry_after_s`` so that an outage costs one
    timeout, not one per request.
    """

    def __init__(
        self,
        url: str,
        ttl_s: float,
        namespace: str = "modelport",
        timeout_s: float = 0.05,
        retry_after_s: float = 5.0,
    ) -> None:
        try:
            import redis.asyncio as redis_asyncio
        except ModuleNotFoundError as exc:
            raise MissingDependencyError("redis", "redis") from exc
        self.namespace = namespace
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.retry_after_s = retry_after_s
        self._client: Any = redis_asyncio.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._down_until = 0.0
        self.failures = 0

    async def get(self, key: str) -> bytes | None:
        if self._resting():
            return None
        try:
            value: bytes | None = await self._client.get(key)
        except Exception as exc:
            self._failed(exc)
            return None
        return value

    async def set(self, key: str, value: bytes) -> None:
        if self._resting():
            return
        try:
            await self._client.set(key, value, px=self.ttl_ms)
        except Exception as exc:
            self._failed(exc)

    async def forget_model(self, model: str) -> int:
        if self._resting():
            return 0
        dropped = 0
        try:
            async for key in self._client.scan_iter(match=f"{self.namespace}:{model}:*"):
                dropped += await self._client.delete(key)
        except Exception as exc:
            self._failed(exc)
        return dropped

    async def close(self) -> None:
        await self._client.aclose()

    def _resting(self) -> bool:
        return time.monotonic() < self._down_until

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self._down_until = time.monotonic() + self.retry_after_s
        log.warning(
            "response cache: Redis failed (%s: %s); serving without cache for %.0f s",
            type(exc).__name__,
            exc,
            self.retry_after_s,
        )
