"""XGBoost (.ubj, .json) and LightGBM (text) native model files, through load_model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.datasets import load_iris

from modelport.inputs import to_batch
from modelport.outputs import ModelOutputs, run_model
from modelport.payloads import Rows
from modelport.registry import ModelVersion, load_model
from modelport.repository import scan_repository
from modelport.runtimes.base import artifact_suffixes

IRIS = load_iris()
X: np.ndarray[Any, Any] = IRIS.data
Y: np.ndarray[Any, Any] = IRIS.target
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
IRIS_YAML = "labels: [setosa, versicolor, virginica]\n"


def load_version(model_dir: Path, name: str) -> ModelVersion:
    sources = {s.name: s for s in scan_repository(model_dir, artifact_suffixes())}
    return load_model(sources[name]).versions[1]


def predict(version: ModelVersion, rows: list[list[float]]) -> ModelOutputs:
    assert version.runtime is not None and version.signature is not None, version.error
    batch = to_batch(Rows(rows), version.signature)
    return run_model(version.runtime, version.signature, batch, len(rows), probabilities=True)


def write_model(model_dir: Path, name: str, filename: str, yaml_text: str = "") -> Path:
    folder = model_dir / name / "1"
    folder.mkdir(parents=True)
    if yaml_text:
        (model_dir / name / "model.yaml").write_text(yaml_text)
    return folder / filename


# -- XGBoost -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "yaml_text"), [("model.ubj", ""), ("model.json", "runtime: xgboost\n")]
)
def test_xgboost_multiclass(tmp_path: Path, filename: str, yaml_text: str) -> None:
    target = write_model(tmp_path, "iris", filename, yaml_text + IRIS_YAML)
    xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(X, Y).save_model(target)

    version = load_version(tmp_path, "iris")
    outputs = predict(version, ROWS)

    assert version.runtime is not None and version.runtime.kind == "xgboost"
    assert outputs.predictions == ["setosa", "virginica"]
    assert outputs.probabilities is not None
    assert set(outputs.probabilities[0]) == {"setosa", "versicolor", "virginica"}
    assert sum(outputs.probabilities[0].values()) == pytest.approx(1.0, abs=1e-5)


def test_xgboost_binary_with_feature_names(tmp_path: Path) -> None:
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    target = write_model(tmp_path, "virginica", "model.ubj", "labels: [other, virginica]\n")
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=2, n_jobs=1)
    model.fit(frame, (Y == 2).astype(int)).save_model(target)

    version = load_version(tmp_path, "virginica")
    outputs = predict(version, ROWS)

    assert version.signature is not None
    assert version.signature.feature_names == ("sl", "sw", "pl", "pw")
    assert outputs.predictions == ["other", "virginica"]
    assert outputs.probabilities is not None
    assert outputs.probabilities[1]["virginica"] > 0.5


def test_xgboost_regressor_answers_values(tmp_path: Path) -> None:
    target = write_model(tmp_path, "reg", "model.ubj")
    xgboost.XGBRegressor(n_estimators=20, n_jobs=1).fit(X[:, :3], X[:, 3]).save_model(target)

    version = load_version(tmp_path, "reg")
    outputs = predict(version, [[5.1, 3.5, 1.4], [6.7, 3.0, 5.2]])

    assert version.signature is not None and not version.signature.has_proba
    assert outputs.predictions[0] < 1.0 < outputs.predictions[1]


def test_xgboost_truncated_file_fails_clearly(tmp_path: Path) -> None:
    target = write_model(tmp_path, "iris", "model.ubj")
    xgboost.XGBClassifier(n_estimators=5, n_jobs=1).fit(X, Y).save_model(target)
    target.write_bytes(target.read_bytes()[:200])

    version = load_version(tmp_path, "iris")

    assert version.state == "failed"
    assert version.error is not None
    assert "'model.ubj' is not a readable XGBoost model" in version.error


def test_xgboost_missing_library_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write_model(tmp_path, "iris", "model.ubj")
    xgboost.XGBClassifier(n_estimators=5, n_jobs=1).fit(X, Y).save_model(target)
    monkeypatch.setitem(sys.modules, "xgboost", None)

    version = load_version(tmp_path, "iris")

    assert version.state == "failed"
    assert version.error is not None
    assert "pip install 'modelport[xgboost]'" in version.error
    # Size and digest are reported even for a version that cannot load.
    assert version.artifact_size == target.stat().st_size
    assert version.artifact_sha256 is not None and len(version.artifact_sha256) == 64


# -- LightGBM ----------------------------------------------------------------------------


def test_lightgbm_multiclass_text_model(tmp_path: Path) -> None:
    target = write_model(tmp_path, "iris", "model.txt", "runtime: lightgbm\n" + IRIS_YAML)
    model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(X, Y)
    model.booster_.save_model(target)

    version = load_version(tmp_path, "iris")
    outputs = predict(version, ROWS)

    assert version.runtime is not None and version.runtime.kind == "lightgbm"
    assert version.signature is not None and version.signature.features is None
    assert version.signature.n_features == 4
    assert outputs.predictions == ["setosa", "virginica"]
    assert outputs.probabilities is not None
    assert max(outputs.probabilities[1], key=outputs.probabilities[1].__getitem__) == "virginica"


def test_lightgbm_binary_with_names(tmp_path: Path) -> None:
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    target = write_model(tmp_path, "virginica", "model.txt", "runtime: lightgbm\n")
    model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1)
    model.fit(frame, (Y == 2).astype(int)).booster_.save_model(target)

    version = load_version(tmp_path, "virginica")
    outputs = predict(version, ROWS)

    assert version.signature is not None
    assert version.signature.feature_names == ("sl", "sw", "pl", "pw")
    assert outputs.predictions == [0, 1]


def test_lightgbm_regressor(tmp_path: Path) -> None:
    target = write_model(tmp_path, "reg", "model.txt", "runtime: lightgbm\n")
    model = lightgbm.LGBMRegressor(n_estimators=20, verbose=-1, n_jobs=1)
    model.fit(X[:, :3], X[:, 3]).booster_.save_model(target)

    outputs = predict(load_version(tmp_path, "reg"), [[5.1, 3.5, 1.4], [6.7, 3.0, 5.2]])

    assert outputs.probabilities is None
    assert outputs.predictions[0] < 1.0 < outputs.predictions[1]


@pytest.mark.parametrize("text", ["this is not a model\n", "tree\nversion=v4\nobjective=binary\n"])
def test_lightgbm_bad_file_fails_clearly(tmp_path: Path, text: str) -> None:
    write_model(tmp_path, "bad", "model.txt", "runtime: lightgbm\n").write_text(text)

    version = load_version(tmp_path, "bad")

    assert version.state == "failed"
    assert version.error is not None
    assert "'model.txt' is not a" in version.error
    assert "LightGBM" in version.error
