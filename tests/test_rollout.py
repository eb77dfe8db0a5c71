"""The default policy: where it comes from, and the start-up hint."""

from __future__ import annotations

import pytest

from modelport.config import ConfigError, load_settings
from modelport.rollout import policy_hint, policy_of


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
