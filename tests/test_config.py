"""load_settings: defaults < modelport.toml < MODELPORT_* environment < flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from modelport.config import (
    DEFAULT_CONFIG_FILE,
    ConfigError,
    Settings,
    load_settings,
    settings_to_env,
)
from modelport.errors import ModelportError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No MODELPORT_* variables and no stray ./modelport.toml: settings come from the test."""
    for key in list(os.environ):
        if key.startswith("MODELPORT_"):
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(clean_environment: Path) -> None:
    settings = load_settings()

    assert settings.model_dir == (clean_environment / "models").resolve()
    assert settings.config is None
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.workers == 1
    assert settings.request_timeout == 60.0
    assert settings.max_body_size == 10 * 1024 * 1024
    assert settings.inference_threads == 8
    assert settings.log_level == "info"


def test_flags_given_as_none_mean_not_given() -> None:
    settings = load_settings(port=None, host=None, model_dir=None, config=None)

    assert settings.port == 8000
    assert settings.host == "127.0.0.1"


def test_explicit_config_file(tmp_path: Path) -> None:
    config = write_toml(
        tmp_path / "settings.toml",
        'host = "0.0.0.0"\nport = 9000\nworkers = 2\nlog_level = "debug"\n',
    )

    settings = load_settings(config=config)

    assert settings.config == config
    assert settings.host == "0.0.0.0"
    assert settings.port == 9000
    assert settings.workers == 2
    assert settings.log_level == "debug"
    assert settings.inference_threads == 8


def test_config_path_given_as_a_string(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "settings.toml", "port = 9001\n")

    assert load_settings(config=str(config)).port == 9001


def test_config_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(tmp_path / "settings.toml", "port = 9002\n")
    monkeypatch.setenv("MODELPORT_CONFIG", str(config))

    assert load_settings().port == 9002


def test_modelport_toml_in_the_working_directory_is_read(clean_environment: Path) -> None:
    write_toml(clean_environment / DEFAULT_CONFIG_FILE, "port = 9003\n")

    settings = load_settings()

    assert settings.port == 9003
    assert settings.config is None


def test_explicit_config_replaces_the_default_file(clean_environment: Path, tmp_path: Path) -> None:
    write_toml(clean_environment / DEFAULT_CONFIG_FILE, "port = 9003\nworkers = 3\n")
    config = write_toml(tmp_path / "other.toml", "port = 9004\n")

    settings = load_settings(config=config)

    assert settings.port == 9004
    assert settings.workers == 1


def test_modelport_table_form(tmp_path: Path) -> None:
    config = write_toml(
        tmp_path / "pyproject-like.toml",
        '[tool.other]\nport = 1\n\n[modelport]\nport = 9005\nhost = "::1"\n',
    )

    settings = load_settings(config=config)

    assert settings.port == 9005
    assert settings.host == "::1"


def test_modelport_key_that_is_not_a_table(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "bad.toml", "modelport = 3\n")

    with pytest.raises(ConfigError, match=r"\[modelport\] must be a table"):
        load_settings(config=config)


def test_env_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_toml(tmp_path / "settings.toml", 'port = 9000\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("MODELPORT_PORT", "9100")

    settings = load_settings(config=config)

    assert settings.port == 9100
    assert settings.host == "0.0.0.0"


def test_flags_override_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_toml(tmp_path / "settings.toml", "port = 9000\nworkers = 2\n")
    monkeypatch.setenv("MODELPORT_PORT", "9100")
    monkeypatch.setenv("MODELPORT_WORKERS", "3")
    monkeypatch.setenv("MODELPORT_LOG_LEVEL", "warning")

    settings = load_settings(config=config, port=9200, workers=None)

    assert settings.port == 9200
    assert settings.workers == 3
    assert settings.log_level == "warning"


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    with pytest.raises(ConfigError) as info:
        load_settings(config=missing)

    assert info.value.message == f"config file '{missing}' does not exist"
    # It stops a start; it is no HTTP answer.
    assert not isinstance(info.value, ModelportError)


def test_config_naming_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config=tmp_path)


@pytest.mark.parametrize("text", ["port = [\n", "port = 90 00\n", "[modelport\n"])
def test_invalid_toml(tmp_path: Path, text: str) -> None:
    config = write_toml(tmp_path / "bad.toml", text)

    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(config=config)


@pytest.mark.parametrize("key", ["prot", "model-dir", "threads"])
def test_unknown_toml_key(tmp_path: Path, key: str) -> None:
    config = write_toml(tmp_path / "typo.toml", f"{key} = 1\n")

    with pytest.raises(ConfigError) as info:
        load_settings(config=config)

    assert f"{key}: Extra inputs are not permitted" in info.value.message


def test_unknown_key_in_the_modelport_table(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "typo.toml", "[modelport]\nprot = 1\n")

    with pytest.raises(ConfigError, match="prot: Extra inputs are not permitted"):
        load_settings(config=config)


def test_unknown_flag() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        load_settings(bogus=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", 0),
        ("port", 65536),
        ("workers", 0),
        ("workers", 65),
        ("request_timeout", 0),
        ("request_timeout", -1.5),
        ("max_body_size", 1023),
        ("inference_threads", 0),
        ("inference_threads", 257),
        ("log_level", "verbose"),
        ("port", "eighty"),
    ],
)
def test_invalid_flag_value_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(**{field: value})

    assert info.value.message.startswith(f"invalid settings: {field}: ")


def test_invalid_toml_value_names_the_field(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "settings.toml", "port = 0\n")

    with pytest.raises(ConfigError) as info:
        load_settings(config=config)

    assert info.value.message.startswith("invalid settings: port: ")
    assert "greater than or equal to 1" in info.value.message


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("MODELPORT_PORT", "0", "port"),
        ("MODELPORT_PORT", "abc", "port"),
        ("MODELPORT_WORKERS", "1.5", "workers"),
        ("MODELPORT_LOG_LEVEL", "loud", "log_level"),
    ],
)
def test_invalid_env_value_names_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=f"^invalid settings: {field}: "):
        load_settings()


def test_several_problems_are_all_named() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(port=0, workers=0)

    assert "port: " in info.value.message
    assert "workers: " in info.value.message


@pytest.mark.parametrize("given", ["models", "./a/../models", "sub/dir"])
def test_relative_model_dir_becomes_absolute(clean_environment: Path, given: str) -> None:
    settings = load_settings(model_dir=given)

    assert settings.model_dir.is_absolute()
    assert settings.model_dir == (clean_environment / given).resolve()
    assert ".." not in settings.model_dir.parts


def test_model_dir_with_a_tilde(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    settings = load_settings(model_dir="~/models")

    assert settings.model_dir == (tmp_path / "home" / "models").resolve()


def test_model_dir_from_toml_and_env_is_absolute(
    clean_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(tmp_path / "settings.toml", 'model_dir = "from-toml"\n')
    assert load_settings(config=config).model_dir == (clean_environment / "from-toml").resolve()

    monkeypatch.setenv("MODELPORT_MODEL_DIR", "from-env")
    assert load_settings(config=config).model_dir == (clean_environment / "from-env").resolve()


def test_settings_are_frozen() -> None:
    settings = load_settings()

    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1


def test_settings_to_env_round_trips(
    tmp_path: Path, clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(tmp_path / "settings.toml", "[modelport]\nworkers = 4\n")
    monkeypatch.setenv("MODELPORT_HOST", "0.0.0.0")
    original = load_settings(
        config=config,
        model_dir="repo",
        port=8123,
        request_timeout=2.5,
        max_body_size=4096,
        inference_threads=3,
        log_level="error",
    )

    env = settings_to_env(original)

    assert env["MODELPORT_MODEL_DIR"] == str(clean_environment / "repo")
    assert env["MODELPORT_PORT"] == "8123"
    assert env["MODELPORT_CONFIG"] == str(config)
    assert all(key.startswith("MODELPORT_") for key in env)
    # The worker process starts with only this environment, elsewhere.
    monkeypatch.delenv("MODELPORT_HOST")
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rebuilt = load_settings()

    assert rebuilt == original
    assert rebuilt.workers == 4
    assert rebuilt.host == "0.0.0.0"


def test_settings_to_env_leaves_out_unset_values() -> None:
    settings = load_settings()

    env = settings_to_env(settings)

    unset = {
        f"MODELPORT_{name.upper()}"
        for name, value in settings.model_dump().items()
        if value is None
    }
    assert "MODELPORT_CONFIG" in unset
    assert set(env) == {f"MODELPORT_{name.upper()}" for name in Settings.model_fields} - unset
    assert all(isinstance(value, str) for value in env.values())


def test_settings_to_env_round_trips_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    original = load_settings()
    for key, value in settings_to_env(original).items():
        monkeypatch.setenv(key, value)

    assert load_settings() == original


def test_settings_beside_the_modelport_table_are_refused(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "mixed.toml", "port = 9001\n\n[modelport]\nport = 9005\n")

    with pytest.raises(ConfigError, match=r"\['port'\] are outside the \[modelport\] table"):
        load_settings(config=config)
