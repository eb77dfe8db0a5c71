"""A model's rollout row, the same contract on every backend."""

from __future__ import annotations

from sqlalchemy import Engine

from modelport.db import store


def test_a_split_and_a_shadow_set_apart_both_stay(engine: Engine) -> None:
    assert store.get_rollouts(engine, "rollout-a") == []
    store.set_rollout(engine, "rollout-a", updated_by="alice", traffic={"production": 90, "2": 10})
    saved = store.set_rollout(
        engine, "rollout-a", updated_by="bob", shadow="candidate", shadow_sample_rate=0.25
    )
    assert saved.traffic == {"production": 90, "2": 10}
    assert (saved.shadow, saved.shadow_sample_rate, saved.updated_by) == ("candidate", 0.25, "bob")
    assert store.get_rollouts(engine, "rollout-a") == [saved]


def test_the_same_values_twice_and_every_model_at_once(engine: Engine) -> None:
    for _ in range(2):  # the second is an update of the row, never a second insert
        store.set_rollout(engine, "rollout-b", traffic={"1": 100})
    store.set_rollout(engine, "rollout-c", shadow="2", shadow_sample_rate=1.0)
    store.set_rollout(engine, "rollout-b", traffic=None)
    found = {r.name: r for r in store.get_rollouts(engine) if r.name.startswith("rollout-")}
    assert found["rollout-b"].traffic is None
    assert found["rollout-c"].shadow == "2"
