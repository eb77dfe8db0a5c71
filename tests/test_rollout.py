"""The default policy (where it comes from, the start-up hint) and traffic splits."""

from __future__ import annotations

from collections import Counter

import pytest

from modelport.config import ConfigError, load_settings
from modelport.errors import InvalidRequestError
from modelport.rollout import check_traffic, pick_target, policy_hint, policy_of


def test_model_yaml_wins_over_the_server_setting_and_latest_is_the_fallback() -> None:
    assert policy_of("production", "stable") == ("production", "model.yaml")
    assert policy_of(None, "stable") == ("stable", "server")
    assert policy_of(None, None) == ("latest", "server")


def test_the_hint_names_the_models_with_aliases_and_the_setting_to_use() -> None:
    hint = policy_hint(None, [("iris-lr", None, {"production": 1}), ("iris-dt", None, {})])
    assert hint is not None
    assert "iris-lr" in hint and "iris-dt" not in hint
    assert "default_version = 'production'" in hint


@pytest.mark.parametrize(
    ("server_default", "model_default"), [("latest", None), (None, "production")]
)
def test_no_hint_once_a_policy_is_chosen(
    server_default: str | None, model_default: str | None
) -> None:
    assert policy_hint(server_default, [("iris-lr", model_default, {"production": 1})]) is None


def test_a_bad_server_default_is_refused_with_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPORT_DEFAULT_VERSION", "Prod uction")
    with pytest.raises(ConfigError, match="a version number or an alias"):
        load_settings()


def test_a_split_is_checked_and_off_is_empty() -> None:
    assert check_traffic({"production": 90, "2": 10}) == (("production", 90), ("2", 10))
    assert check_traffic({}) == ()
    assert check_traffic(None) == ()


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({"production": 90, "candidate": 20}, "sum to 100, not 110"),
        ({"production": 100.0}, "a whole percent"),
        ({"production": True}, "a whole percent"),
        ({"latest": 100}, "an alias or a version number"),
        ({"Prod": 100}, "an alias or a version number"),
        ([["production", 100]], "an object of targets and percents"),
    ],
)
def test_a_bad_split_is_refused_with_what_is_wrong(split: object, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        check_traffic(split)


def test_a_key_always_gets_the_same_target_and_keys_spread_by_the_percents() -> None:
    split = (("production", 90), ("candidate", 10))
    assert {pick_target(split, "customer-42") for _ in range(50)} == {
        pick_target(split, "customer-42")
    }
    keyed = Counter(pick_target(split, f"customer-{n}") for n in range(10_000))
    assert 850 <= keyed["candidate"] <= 1150, keyed
    assert pick_target((("production", 0), ("candidate", 100)), "any") == "candidate"
