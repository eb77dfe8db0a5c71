"""Shared fixtures: the example models, trained once per session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelport.train_examples import train_examples

#: Model folders many tests serve at once or in turn (the session's trained examples). A
#: server keeps its database in MODEL_DIR/.modelport by default, so one test's changes
#: (an unloaded model, a moved alias) would reach the next server on the same folder, and
#: every copy made of it: servers on these folders keep their database in their own
#: working folder instead (tests/e2e/conftest.py).
SHARED_MODEL_FOLDERS: set[Path] = set()


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the example models (iris-lr, iris-dt); do not modify it."""
    target = tmp_path_factory.mktemp("trained") / "models"
    train_examples(target, names=["iris-lr", "iris-dt"])
    SHARED_MODEL_FOLDERS.add(target.resolve())
    return target


@pytest.fixture
def model_dir(trained_models: Path, tmp_path: Path) -> Path:
    """A private, modifiable copy of the example models for one test."""
    target = tmp_path / "models"
    # Not the database another process may have left in the shared folder: a private
    # copy starts with no history (its rows would be another test's).
    shutil.copytree(trained_models, target, ignore=shutil.ignore_patterns(".modelport"))
    return target


@pytest.fixture(scope="session")
def mlflow_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MLflow model folders written by MLflow itself, once per session (in a process of
    its own: importing MLflow takes seconds); see tests/support/mlflow_models.py. Holds
    models/ and expected.json; do not modify it."""
    target = tmp_path_factory.mktemp("mlflow")
    script = Path(__file__).parent / "support" / "mlflow_models.py"
    made = subprocess.run(
        [sys.executable, str(script), str(target)], capture_output=True, text=True, timeout=300
    )
    assert made.returncode == 0, made.stderr
    return target
