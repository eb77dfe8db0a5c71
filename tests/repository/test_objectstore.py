"""The local copy of an object-store model repository: what a pull fetches, keeps and
skips, what a push and a remove do. The store here is a local folder through fsspec's
``file`` protocol (the S3 server's end-to-end test is tests/e2e/test_object_store.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelport.config import load_settings
from modelport.repository.objectstore import ModelStore, is_store_url


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    root = tmp_path / "bucket" / "models"
    (root / "iris-lr" / "1").mkdir(parents=True)
    (root / "iris-lr" / "1" / "model.joblib").write_bytes(b"version one")
    (root / "iris-lr" / "model.yaml").write_text("description: first\n")
    (root / "loose.joblib").write_bytes(b"a bare file")
    (root / ".modelport").mkdir()
    (root / ".modelport" / "modelport.db").write_bytes(b"not mirrored")
    return root


def open_store(stored: Path, tmp_path: Path) -> ModelStore:
    return ModelStore.open(f"file://{stored}", tmp_path / "copy")


def test_a_pull_fetches_the_models_and_skips_dot_folders(stored: Path, tmp_path: Path) -> None:
    store = open_store(stored, tmp_path)
    assert store.pull() == 3
    copy = tmp_path / "copy"
    assert (copy / "iris-lr" / "1" / "model.joblib").read_bytes() == b"version one"
    assert (copy / "loose.joblib").read_bytes() == b"a bare file"
    assert not (copy / ".modelport").exists()
    assert store.pull() == 0  # nothing changed, nothing fetched


def test_a_named_pull_fetches_that_model_only_and_a_changed_model_yaml(
    stored: Path, tmp_path: Path
) -> None:
    store = open_store(stored, tmp_path)
    store.pull()
    (stored / "iris-lr" / "2").mkdir()
    (stored / "iris-lr" / "2" / "model.joblib").write_bytes(b"version two")
    (stored / "iris-lr" / "model.yaml").write_text("description: other\n")  # same size
    later = os.stat(stored / "iris-lr" / "model.yaml").st_mtime + 5
    os.utime(stored / "iris-lr" / "model.yaml", (later, later))
    (stored / "other" / "1").mkdir(parents=True)
    (stored / "other" / "1" / "model.joblib").write_bytes(b"x")
    assert store.pull(["iris-lr"]) == 2
    copy = tmp_path / "copy"
    assert (copy / "iris-lr" / "model.yaml").read_text() == "description: other\n"
    assert not (copy / "other").exists()
    assert store.pull(["loose"]) == 0  # a bare file is named after its stem, and is there


def test_a_pull_never_deletes_a_version_written_here(stored: Path, tmp_path: Path) -> None:
    store = open_store(stored, tmp_path)
    store.pull()
    mine = tmp_path / "copy" / "iris-lr" / "7"
    mine.mkdir()
    (mine / "model.joblib").write_bytes(b"not pushed yet")
    store.pull()
    assert (mine / "model.joblib").exists()


def test_push_and_remove(stored: Path, tmp_path: Path) -> None:
    store = open_store(stored, tmp_path)
    version = tmp_path / "copy" / "iris-lr" / "3"
    version.mkdir(parents=True)
    (version / "model.joblib").write_bytes(b"three")
    store.push("iris-lr/3")
    assert (stored / "iris-lr" / "3" / "model.joblib").read_bytes() == b"three"
    store.remove("iris-lr/3")
    assert not (stored / "iris-lr" / "3").exists()
    store.remove("iris-lr/3")  # gone already: fine


@pytest.mark.parametrize(
    ("value", "expected"),
    [("s3://bucket/models", True), ("gs://b/p", True), ("models", False), ("file:///x", False)],
)
def test_which_model_dirs_are_stores(value: str, expected: bool) -> None:
    assert is_store_url(value) is expected


def test_a_store_url_becomes_model_store_and_a_local_copy(tmp_path: Path) -> None:
    settings = load_settings(model_dir="s3://bucket/models", data_dir=tmp_path)
    assert settings.model_store == "s3://bucket/models"
    assert settings.model_dir.parent == (tmp_path / "store").resolve()
