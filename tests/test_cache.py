"""One contract suite for every response-cache backend: in-process LRU and real Redis."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import pytest

from modelport.cache import (
    MemoryCache,
    RedisCache,
    ResponseCache,
    decode_outputs,
    encode_outputs,
    entry_key,
    input_digest,
)
from modelport.outputs import ModelOutputs
from services import free_port, unavailable

REDIS_URL = os.environ.get("MODELPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
Factory = Callable[[float], ResponseCache]


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["memory", "redis"])
def make_cache(request: pytest.FixtureRequest) -> Factory:
    """A factory of caches (ttl -> backend) with a namespace of their own."""
    namespace = f"mp-test-{uuid.uuid4().hex[:12]}"
    if request.param == "memory":
        return lambda ttl: MemoryCache(max_entries=3, ttl_s=ttl, namespace=namespace)
    if not redis_reachable():
        unavailable("Redis", f"{REDIS_URL} does not answer")
    return lambda ttl: RedisCache(REDIS_URL, ttl_s=ttl, namespace=namespace)


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


def key(cache: ResponseCache, model: str, value: float, version: int = 1) -> str:
    batch = np.array([[value, 1.0]])
    return entry_key(cache.namespace, model, version, "ab" * 32, batch, False)


def test_miss_then_hit(make_cache: Factory) -> None:
    async def scenario() -> tuple[Any, Any]:
        cache = make_cache(60)
        first = await cache.get(key(cache, "iris", 1))
        await cache.set(key(cache, "iris", 1), b"answer")
        second = await cache.get(key(cache, "iris", 1))
        await cache.forget_model("iris")
        await cache.close()
        return first, second

    assert run(scenario) == (None, b"answer")


def test_entries_answer_until_their_ttl_then_expire() -> None:
    clock = FakeClock()

    async def scenario() -> tuple[Any, Any, int]:
        cache = MemoryCache(max_entries=3, ttl_s=10, clock=clock)
        await cache.set("k", b"answer")
        clock.advance(9.9)
        kept = await cache.get("k")  # a hit does not renew the entry
        clock.advance(0.2)
        return kept, await cache.get("k"), len(cache)

    assert run(scenario) == (b"answer", None, 0)


@pytest.mark.slow
def test_redis_entries_expire() -> None:
    # Redis keeps the time itself: a real ttl and a bounded wait for it to pass.
    if not redis_reachable():
        unavailable("Redis", f"{REDIS_URL} does not answer")

    async def scenario() -> tuple[Any, Any, float]:
        cache = RedisCache(REDIS_URL, ttl_s=1.0, namespace=f"mp-test-{uuid.uuid4().hex[:12]}")
        cache_key = key(cache, "iris", 1)
        await cache.set(cache_key, b"answer")
        stored = await cache.get(cache_key)
        started = time.monotonic()
        while (value := await cache.get(cache_key)) is not None:
            if time.monotonic() > started + 10:
                break
            await asyncio.sleep(0.05)
        await cache.close()
        return stored, value, cache.failures

    assert run(scenario) == (b"answer", None, 0)


def test_forget_model_drops_only_that_model(make_cache: Factory) -> None:
    async def scenario() -> tuple[int, Any, Any]:
        cache = make_cache(60)
        await cache.set(key(cache, "iris", 1), b"a")
        await cache.set(key(cache, "iris-2", 1), b"b")
        dropped = await cache.forget_model("iris")
        gone = await cache.get(key(cache, "iris", 1))
        kept = await cache.get(key(cache, "iris-2", 1))
        await cache.forget_model("iris-2")
        await cache.close()
        return dropped, gone, kept

    assert run(scenario) == (1, None, b"b")


def test_versions_and_inputs_do_not_share_entries(make_cache: Factory) -> None:
    async def scenario() -> list[Any]:
        cache = make_cache(60)
        await cache.set(key(cache, "iris", 1, version=1), b"v1")
        found = [
            await cache.get(key(cache, "iris", 1, version=2)),
            await cache.get(key(cache, "iris", 2, version=1)),
            await cache.get(key(cache, "iris", 1, version=1)),
        ]
        await cache.forget_model("iris")
        await cache.close()
        return found

    assert run(scenario) == [None, None, b"v1"]


def test_memory_cache_evicts_least_recently_used() -> None:
    async def scenario() -> list[Any]:
        cache = MemoryCache(max_entries=2, ttl_s=60)
        await cache.set("a", b"1")
        await cache.set("b", b"2")
        await cache.get("a")  # now "b" is the least recently used
        await cache.set("c", b"3")
        return [await cache.get(k) for k in ("a", "b", "c")]

    assert run(scenario) == [b"1", None, b"3"]


def test_redis_outage_is_a_miss_not_an_error() -> None:
    async def scenario() -> tuple[Any, int, Any]:
        # Nothing listens on that port: every call fails at once.
        cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", ttl_s=60, retry_after_s=60)
        value = await cache.get("k")
        await cache.set("k", b"v")  # resting after the failure: not even tried
        failures = cache.failures
        dropped = await cache.forget_model("iris")
        await cache.close()
        return value, failures, dropped

    assert run(scenario) == (None, 1, 0)


def test_redis_is_tried_again_once_its_rest_is_over() -> None:
    clock = FakeClock()

    async def scenario() -> list[int]:
        # Nothing listens on that port: every call that is tried fails at once.
        cache = RedisCache(
            f"redis://127.0.0.1:{free_port()}/0", ttl_s=60, retry_after_s=5, clock=clock
        )
        failures = []
        for step in (0, 4.9, 0.2, 4.9, 0.2):
            clock.advance(step)
            await cache.get("k")
            failures.append(cache.failures)
        await cache.close()
        return failures

    assert run(scenario) == [1, 1, 2, 2, 3]


def test_key_is_canonical_for_the_validated_input() -> None:
    same = [np.array([[5.1, 3.5]]), np.array([[5.1, 3.5]], order="F")]
    keys = {entry_key("ns", "m", 1, "ff" * 32, batch, False) for batch in same}
    assert len(keys) == 1
    assert entry_key("ns", "m", 1, "ff" * 32, same[0], True) not in keys
    assert entry_key("ns", "m", 1, "ee" * 32, same[0], False) not in keys
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"a": [1.0], "b": ["x"]})
    other = pandas.DataFrame({"a": [1.0], "b": ["y"]})
    assert entry_key("ns", "m", 1, "ff" * 32, frame, False) != entry_key(
        "ns", "m", 1, "ff" * 32, other, False
    )


#: Pairs of inputs a model tells apart, which the cache must too.
_DIFFERENT_FRAMES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"a": [1.0000000000000002]}, {"a": [1.0]}),  # the last bit: to_json(15 digits) lost it
    ({"a": [0.30000000000000004]}, {"a": [0.3]}),
    ({"a": [-0.0]}, {"a": [0.0]}),
    ({"a": [1.0]}, {"a": [1]}),  # float64 and int64 columns
    ({"a": [1.0]}, {"b": [1.0]}),  # the column's name
    ({"a": [1.0], "b": [2.0]}, {"b": [1.0], "a": [2.0]}),
    ({"s": ["1"]}, {"s": [1]}),  # text and a number in an object column
    ({"s": [None]}, {"s": ["None"]}),
    ({"s": [None]}, {"s": [float("nan")]}),
    ({"s": ["a\nb"]}, {"s": ["a", "b"]}),
    ({"s": ["ab"], "t": ["c"]}, {"s": ["a"], "t": ["bc"]}),  # where one column ends
]


@pytest.mark.parametrize(("first", "second"), _DIFFERENT_FRAMES)
def test_frames_a_model_tells_apart_have_different_digests(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    pandas = pytest.importorskip("pandas")
    one, two = pandas.DataFrame(first), pandas.DataFrame(second)
    assert input_digest(one) != input_digest(two)
    assert input_digest(one) == input_digest(pandas.DataFrame(first))  # and stable


def test_pandas_string_and_object_columns_have_different_digests() -> None:
    pandas = pytest.importorskip("pandas")
    text = pandas.DataFrame({"s": pandas.Series(["x"], dtype="string")})
    objects = pandas.DataFrame({"s": pandas.Series(["x"], dtype=object)})
    assert input_digest(text) != input_digest(objects)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (np.array([[1.0000000000000002]]), np.array([[1.0]])),
        (np.array([[1.0, 2.0]]), np.array([[1.0], [2.0]])),  # the shape
        (np.array([[1.0]]), np.array([[1.0]], dtype=np.float32)),  # the dtype
        (np.array([["1"]], dtype=object), np.array([[1]], dtype=object)),
        # Lone surrogates, which orjson refuses to encode
        (np.array([["\ud800"]], dtype=object), np.array([["\udc00"]], dtype=object)),
    ],
)
def test_arrays_a_model_tells_apart_have_different_digests(
    first: np.ndarray, second: np.ndarray
) -> None:
    assert input_digest(first) != input_digest(second)


def test_equal_object_arrays_share_a_digest() -> None:
    # Their bytes are pointers, which differ; the digest reads the values.
    one = np.array([["x" * 3, None]], dtype=object)
    two = np.array([["".join("xxx"), None]], dtype=object)
    assert input_digest(one) == input_digest(two)


def test_outputs_round_trip() -> None:
    outputs = ModelOutputs(["setosa", 2, 0.5], [{"a": 0.25, "b": 0.75}] * 3)
    assert decode_outputs(encode_outputs(outputs)) == outputs
    assert decode_outputs(encode_outputs(ModelOutputs([1]))) == ModelOutputs([1])
