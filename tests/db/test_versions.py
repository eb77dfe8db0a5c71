"""Model versions and aliases, the same contract on every backend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError

from modelport.db import store
from modelport.db.models import model_versions
from modelport.db.records import VersionRecord, VersionState
from modelport.errors import ConflictError, InvalidRequestError, VersionNotFoundError

SHA = "ab" * 32


def _ready(engine: Engine, name: str = "iris", **fields: object) -> int:
    number = store.next_version_number(engine, name, created_by="alice")
    store.record_version(engine, name, number, sha256=SHA, size=1234, runtime="sklearn")
    return number


def test_a_version_round_trips(engine: Engine) -> None:
    before = datetime.now(UTC)
    number = store.next_version_number(engine, "iris", source="upload", created_by="alice")
    assert number == 1
    pending = store.get_version(engine, "iris", 1)
    assert pending is not None
    assert (pending.state, pending.sha256, pending.created_by) == ("pending", None, "alice")

    saved = store.record_version(
        engine, "iris", 1, sha256=SHA, size=2**40, runtime="sklearn", source="upload"
    )
    assert saved == store.get_version(engine, "iris", 1)
    assert (saved.name, saved.version, saved.sha256, saved.size) == ("iris", 1, SHA, 2**40)
    assert (saved.runtime, saved.state, saved.error, saved.source) == (
        "sklearn",
        "ready",
        None,
        "upload",
    )
    assert saved.created_by == "alice"  # kept from the reservation
    assert saved.created_at.tzinfo is UTC
    assert before - timedelta(seconds=1) <= saved.created_at <= datetime.now(UTC)


def test_a_version_found_on_disk_is_recorded_without_reservation(engine: Engine) -> None:
    found = store.record_version(
        engine, "iris", 7, sha256=SHA, size=10, runtime="onnx", source="scan"
    )
    assert (found.version, found.source, found.created_by) == (7, "scan", None)
    again = store.record_version(
        engine, "iris", 7, sha256=SHA, size=10, runtime="onnx", state="failed", error="boom"
    )
    assert (again.state, again.error, again.created_at) == ("failed", "boom", found.created_at)
    assert store.next_version_number(engine, "iris") == 8


def test_numbers_are_consecutive_per_model_and_respect_the_floor(engine: Engine) -> None:
    assert [store.next_version_number(engine, "a") for _ in range(3)] == [1, 2, 3]
    assert store.next_version_number(engine, "b") == 1
    assert store.next_version_number(engine, "a", floor=10) == 10
    assert store.next_version_number(engine, "a", floor=2) == 11


def test_concurrent_callers_get_distinct_consecutive_numbers(engine: Engine) -> None:
    def reserve_five(_: int) -> list[int]:
        return [store.next_version_number(engine, "race") for _ in range(5)]

    with ThreadPoolExecutor(4) as pool:
        numbers = [n for batch in pool.map(reserve_five, range(4)) for n in batch]
    assert sorted(numbers) == list(range(1, 21))
    assert [v.version for v in store.list_versions(engine, "race")] == list(range(1, 21))


def test_state_changes_and_unknown_versions(engine: Engine) -> None:
    number = _ready(engine)
    failed = store.set_version_state(engine, "iris", number, "failed", "warm-up failed")
    assert (failed.state, failed.error) == ("failed", "warm-up failed")
    assert store.set_version_state(engine, "iris", number, "ready").error is None
    with pytest.raises(VersionNotFoundError) as caught:
        store.set_version_state(engine, "iris", 99, "ready")
    assert "known versions: 1" in caught.value.message
    with pytest.raises(InvalidRequestError):
        store.set_version_state(engine, "iris", number, "gone")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="delete_version"):
        store.set_version_state(engine, "iris", number, "deleted")
    assert store.get_version(engine, "iris", 99) is None


def test_unfinished_uploads_are_abandoned(engine: Engine) -> None:
    crashed = store.next_version_number(engine, "iris")
    cutoff = datetime.now(UTC) + timedelta(seconds=1)
    assert store.abandon_pending(engine, datetime.now(UTC) - timedelta(hours=1)) == []
    assert store.abandon_pending(engine, cutoff) == [("iris", crashed)]
    assert store.list_versions(engine, "iris") == []
    gone = store.get_version(engine, "iris", crashed)
    assert gone is not None
    assert (gone.state, gone.error) == ("deleted", "upload did not finish")
    assert store.next_version_number(engine, "iris") == crashed + 1


def test_a_reserved_number_is_settled_once_by_whoever_comes_first(engine: Engine) -> None:
    number = store.next_version_number(engine, "iris", created_by="alice")

    def settle(state: VersionState = "ready", version: int = number) -> VersionRecord | None:
        return store.settle_pending(
            engine, "iris", version, sha256=SHA, size=10, runtime="sklearn", state=state
        )

    # The uploader and two processes that found its folder, all at once: one wins.
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: settle(), range(3)))
    won = [r for r in results if r is not None]
    assert len(won) == 1, results
    assert (won[0].state, won[0].sha256, won[0].created_by) == ("ready", SHA, "alice")
    # Settled already: a later outcome changes nothing.
    assert settle("failed") is None
    assert store.get_version(engine, "iris", number) == won[0]
    assert settle(version=99) is None


def test_listing_versions_and_models(engine: Engine) -> None:
    for _ in range(3):
        _ready(engine, "iris")
    _ready(engine, "wine")
    assert [v.version for v in store.list_versions(engine, "iris")] == [1, 2, 3]
    assert store.list_versions(engine, "nothing") == []
    assert store.list_model_names(engine) == ["iris", "wine"]


def test_alias_set_resolve_and_move(engine: Engine) -> None:
    one, two = _ready(engine), _ready(engine)
    first = store.set_alias(engine, "iris", "production", one, updated_by="alice")
    assert (first.version, first.updated_by) == (one, "alice")
    assert first.updated_at.tzinfo is UTC
    assert store.resolve_alias(engine, "iris", "production") == one

    store.set_alias(engine, "iris", "production", two, updated_by="bob")
    store.set_alias(engine, "iris", "canary", two)
    assert store.resolve_alias(engine, "iris", "production") == two
    aliases = store.get_aliases(engine, "iris")
    assert [(a.alias, a.version, a.updated_by) for a in aliases] == [
        ("canary", two, None),
        ("production", two, "bob"),
    ]
    assert store.resolve_alias(engine, "iris", "staging") is None
    assert store.resolve_alias(engine, "other", "production") is None
    assert store.delete_alias(engine, "iris", "canary") is True
    assert store.delete_alias(engine, "iris", "canary") is False


def test_latest_is_the_newest_ready_version(engine: Engine) -> None:
    assert store.resolve_alias(engine, "iris", store.LATEST) is None
    one = _ready(engine)
    two = _ready(engine)
    store.set_version_state(engine, "iris", two, "failed", "bad")
    store.next_version_number(engine, "iris")  # a pending one
    assert store.resolve_alias(engine, "iris", "latest") == one


@pytest.mark.parametrize("alias", ["latest", "1", "", "Prod", "a/b", "x" * 65, "-x"])
def test_bad_alias_names_are_refused(engine: Engine, alias: str) -> None:
    number = _ready(engine)
    with pytest.raises(InvalidRequestError):
        store.set_alias(engine, "iris", alias, number)


def test_aliases_point_only_at_ready_versions(engine: Engine) -> None:
    pending = store.next_version_number(engine, "iris")
    with pytest.raises(ConflictError, match="pending"):
        store.set_alias(engine, "iris", "production", pending)
    with pytest.raises(VersionNotFoundError):
        store.set_alias(engine, "iris", "production", 42)
    assert store.get_aliases(engine, "iris") == []


def test_delete_is_refused_while_an_alias_points_at_the_version(engine: Engine) -> None:
    one, two = _ready(engine), _ready(engine)
    store.set_alias(engine, "iris", "production", one)
    with pytest.raises(ConflictError, match="production"):
        store.delete_version(engine, "iris", one)
    assert store.get_version(engine, "iris", one) is not None

    store.set_alias(engine, "iris", "production", two)  # rollback target moved away
    deleted = store.delete_version(engine, "iris", one)
    assert deleted.state == "deleted"
    assert [v.version for v in store.list_versions(engine, "iris")] == [two]
    assert [v.version for v in store.list_versions(engine, "iris", include_deleted=True)] == [
        one,
        two,
    ]
    with pytest.raises(VersionNotFoundError):
        store.delete_version(engine, "iris", one)
    with pytest.raises(VersionNotFoundError):
        store.set_alias(engine, "iris", "production", one)
    # A deleted number is history: it is never handed out again.
    assert store.next_version_number(engine, "iris") == two + 1


def test_the_database_itself_protects_aliased_versions(engine: Engine) -> None:
    number = _ready(engine)
    store.set_alias(engine, "iris", "production", number)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(delete(model_versions).where(model_versions.c.name == "iris"))


def test_names_compare_case_sensitively(engine: Engine) -> None:
    # MariaDB's default collation would call these equal; the tables use a binary one.
    # (Its binary collation still ignores trailing spaces: names are validated before.)
    _ready(engine, "iris")
    assert store.next_version_number(engine, "IRIS") == 1
    assert [v.name for v in store.list_versions(engine, "iris")] == ["iris"]


@pytest.mark.parametrize("number", [0, -1, 2**31, 10**23])
def test_numbers_no_version_column_can_hold_are_not_found(engine: Engine, number: int) -> None:
    # Deleting or aliasing them must say 404, not let the driver overflow (a 500).
    store.next_version_number(engine, "m")
    with pytest.raises(VersionNotFoundError):
        store.delete_version(engine, "m", number)
    with pytest.raises(VersionNotFoundError):
        store.set_alias(engine, "m", "production", number)
