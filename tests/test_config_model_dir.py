"""Settings added for custom routes: MODEL_DIR/modelport.toml and cors_origins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelport.config import ConfigError, Settings, load_settings, settings_to_env


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in list(os.environ):
        if key.startswith("MODELPORT_"):
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_modelport_toml_in_the_model_dir_is_read(tmp_path: Path) -> None:
    models = tmp_path / "example"
    models.mkdir()
    (models / "modelport.toml").write_text('cors_origins = ["*"]\nport = 9123\n')

    settings = load_settings(model_dir=models)

    assert settings.cors_origins == ("*",)
    assert settings.port == 9123


def test_model_dir_from_the_environment_finds_its_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "example"
    models.mkdir()
    (models / "modelport.toml").write_text("port = 9124\n")
    monkeypatch.setenv("MODELPORT_MODEL_DIR", str(models))

    assert load_settings().port == 9124


def test_working_directory_toml_wins_over_the_model_dir_one(
    clean_environment: Path, tmp_path: Path
) -> None:
    models = tmp_path / "example"
    models.mkdir()
    (models / "modelport.toml").write_text("port = 9125\n")
    (clean_environment / "modelport.toml").write_text("port = 9126\n")

    assert load_settings(model_dir=models).port == 9126


def test_flags_win_over_the_model_dir_toml(tmp_path: Path) -> None:
    models = tmp_path / "example"
    models.mkdir()
    (models / "modelport.toml").write_text('cors_origins = ["*"]\n')

    assert load_settings(model_dir=models, cors_origins="https://a.example").cors_origins == (
        "https://a.example",
    )


def test_cors_origins_from_a_flag_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().cors_origins == ()
    assert load_settings(cors_origins="https://a.example, http://b.example:8080").cors_origins == (
        "https://a.example",
        "http://b.example:8080",
    )
    monkeypatch.setenv("MODELPORT_CORS_ORIGINS", "*")
    assert load_settings().cors_origins == ("*",)


@pytest.mark.parametrize("origin", ["https://a.example/", "a.example", "https://a.example/path"])
def test_bad_origins_are_refused(origin: str) -> None:
    with pytest.raises(ConfigError, match=r"cors_origins: .*not origins"):
        load_settings(cors_origins=origin)


def test_cors_origins_round_trip_through_the_worker_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(cors_origins=("https://a.example", "http://b.example"))
    env = settings_to_env(settings)
    assert env["MODELPORT_CORS_ORIGINS"] == "https://a.example,http://b.example"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings() == settings
