"""skops files: safe defaults load, any other type is refused by name unless model.yaml
trusts it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.registry import ModelVersion, load_model
from modelport.repository import scan_repository
from modelport.runtimes.base import artifact_suffixes

SUPPORT = Path(__file__).resolve().parent.parent / "support"
QUIRKY = "quirky_model.QuirkyModel"


def load_version(model_dir: Path, name: str) -> ModelVersion:
    sources = {s.name: s for s in scan_repository(model_dir, artifact_suffixes())}
    return load_model(sources[name]).versions[1]


@pytest.fixture(scope="module")
def quirky_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A skops file holding a type skops does not know (tests/support/quirky_model.py)."""
    target = tmp_path_factory.mktemp("skops") / "model.skops"
    code = (
        "import sys, skops.io, quirky_model; skops.io.dump(quirky_model.QuirkyModel(), sys.argv[1])"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(target)],
        env={**os.environ, "PYTHONPATH": str(SUPPORT)},
        check=True,
    )
    return target


def quirky_model(quirky_file: Path, model_dir: Path, yaml_text: str = "") -> None:
    (model_dir / "quirky" / "1").mkdir(parents=True)
    shutil.copy(quirky_file, model_dir / "quirky" / "1" / "model.skops")
    if yaml_text:
        (model_dir / "quirky" / "model.yaml").write_text(yaml_text)


def test_sklearn_model_loads_with_the_defaults(tmp_path: Path) -> None:
    iris = load_iris()
    model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
    (tmp_path / "iris" / "1").mkdir(parents=True)
    skops.io.dump(model, tmp_path / "iris" / "1" / "model.skops")

    version = load_version(tmp_path, "iris")

    assert version.state == "ready", version.error
    assert version.runtime is not None and version.runtime.kind == "skops"
    assert version.runtime.predict(iris.data[:1]).tolist() == [0]


def test_untrusted_type_is_refused_by_name(tmp_path: Path, quirky_file: Path) -> None:
    quirky_model(quirky_file, tmp_path)

    version = load_version(tmp_path, "quirky")

    assert version.state == "failed"
    assert version.error is not None
    assert f"['{QUIRKY}']" in version.error
    assert "trusted_types" in version.error


def test_type_listed_in_model_yaml_is_trusted(
    tmp_path: Path, quirky_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quirky_model(quirky_file, tmp_path, f"trusted_types: [{QUIRKY}]\n")
    monkeypatch.syspath_prepend(str(SUPPORT))

    version = load_version(tmp_path, "quirky")

    assert version.state == "ready", version.error
    assert version.runtime is not None
    assert version.runtime.predict(np.array([[0.0, 1.0]])).tolist() == [0.0]


def test_trusting_another_type_does_not_trust_this_one(tmp_path: Path, quirky_file: Path) -> None:
    quirky_model(quirky_file, tmp_path, "trusted_types: [quirky_model.Other]\n")

    version = load_version(tmp_path, "quirky")

    assert version.state == "failed"
    assert version.error is not None
    assert QUIRKY in version.error


def test_truncated_file_fails_clearly(tmp_path: Path) -> None:
    iris = load_iris()
    artifact = tmp_path / "iris" / "1" / "model.skops"
    artifact.parent.mkdir(parents=True)
    skops.io.dump(LogisticRegression(max_iter=1000).fit(iris.data, iris.target), artifact)
    artifact.write_bytes(artifact.read_bytes()[:300])

    version = load_version(tmp_path, "iris")

    assert version.state == "failed"
    assert version.error is not None
    assert "'model.skops' is not a readable skops file" in version.error
