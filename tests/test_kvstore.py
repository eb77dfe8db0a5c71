"""The routes' key-value store: one contract for the in-process and the Redis backend
(real Redis, a key namespace of its own per test), and Redis outages read as misses."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import pytest

from modelport.kvstore import KeyValueStore, MemoryStore, RedisStore, make_store
from services import free_port, unavailable

REDIS_URL = "redis://127.0.0.1:6379/0"

Factory = Callable[[], KeyValueStore]


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


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest) -> Iterator[KeyValueStore]:
    if request.param == "memory":
        made: KeyValueStore = MemoryStore()
    else:
        if not redis_reachable():
            unavailable("Redis", f"{REDIS_URL} does not answer")
        made = RedisStore(REDIS_URL, namespace=f"mp_test:{secrets.token_hex(6)}")
    yield made
    made.close()


def test_missing_key_is_none(store: KeyValueStore) -> None:
    assert store.get("nothing") is None


def test_values_round_trip_as_json(store: KeyValueStore) -> None:
    store.set("float", 1.1)
    store.set("object", {"a": [1, "b", None]})
    store.set("text", "2018-10-10 00:01:00")
    assert store.get("float") == 1.1
    assert store.get("object") == {"a": [1, "b", None]}
    assert store.get("text") == "2018-10-10 00:01:00"


def test_set_replaces_and_delete_removes(store: KeyValueStore) -> None:
    store.set("k", 1)
    store.set("k", 2)
    assert store.get("k") == 2
    store.delete("k")
    store.delete("k")  # deleting a missing key is fine
    assert store.get("k") is None


def test_values_live_for_their_ttl() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    store.set("short", "x", ttl=10)
    store.set("long", "y")
    clock.advance(9.9)
    assert store.get("short") == "x"
    clock.advance(0.2)
    assert store.get("short") is None
    clock.advance(1e9)
    assert store.get("long") == "y"


@pytest.mark.slow
@pytest.mark.services
def test_redis_values_expire() -> None:
    # Redis keeps the time itself: a real ttl and a bounded wait for it to pass.
    if not redis_reachable():
        unavailable("Redis", f"{REDIS_URL} does not answer")
    store = RedisStore(REDIS_URL, namespace=f"mp_test:{secrets.token_hex(6)}")
    try:
        store.set("short", "x", ttl=1.0)
        store.set("long", "y")
        assert store.get("short") == "x"
        deadline = time.monotonic() + 10
        while store.get("short") is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.get("short") is None
        assert store.get("long") == "y"
    finally:
        store.delete("long")
        store.close()


def test_only_json_values(store: KeyValueStore) -> None:
    with pytest.raises(TypeError, match="JSON-able values only"):
        store.set("bad", object())


@pytest.mark.services
def test_redis_keys_live_under_the_namespace() -> None:
    if not redis_reachable():
        unavailable("Redis", f"{REDIS_URL} does not answer")
    import redis

    namespace = f"mp_test:{secrets.token_hex(6)}"
    store = RedisStore(REDIS_URL, namespace=namespace)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        store.set("a", 1)
        assert client.get(f"{namespace}:a") == b"1"
    finally:
        client.delete(f"{namespace}:a")
        client.close()
        store.close()


def test_redis_outage_reads_as_a_miss() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)
    store.set("a", 1)  # dropped, logged
    assert store.get("a") is None
    store.delete("a")
    store.close()


def test_make_store_picks_the_backend() -> None:
    memory, redis_store = make_store(None), make_store(REDIS_URL)
    assert isinstance(memory, MemoryStore)
    assert isinstance(redis_store, RedisStore)
    redis_store.close()
