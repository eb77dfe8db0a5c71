"""ONNX through onnxruntime: signature from the graph, classes kept from skl2onnx models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from modelport.inputs import to_batch
from modelport.outputs import ModelOutputs, run_model
from modelport.payloads import Records, Rows
from modelport.registry import ModelVersion, load_model
from modelport.repository import scan_repository
from modelport.runtimes.base import artifact_suffixes

IRIS = load_iris()
X: np.ndarray[Any, Any] = IRIS.data
Y: np.ndarray[Any, Any] = IRIS.target
LABELS = [str(n) for n in IRIS.target_names]


def save(model_dir: Path, name: str, onnx_model: Any, yaml_text: str = "") -> None:
    folder = model_dir / name / "1"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(onnx_model.SerializeToString())
    if yaml_text:
        (model_dir / name / "model.yaml").write_text(yaml_text)


def load_version(model_dir: Path, name: str) -> ModelVersion:
    sources = {s.name: s for s in scan_repository(model_dir, artifact_suffixes())}
    return load_model(sources[name]).versions[1]


def run(version: ModelVersion, payload: Rows | Records, rows: int) -> ModelOutputs:
    assert version.runtime is not None and version.signature is not None, version.error
    batch = to_batch(payload, version.signature)
    return run_model(version.runtime, version.signature, batch, rows, probabilities=True)


@pytest.mark.parametrize(
    "estimator",
    [LogisticRegression(max_iter=1000), DecisionTreeClassifier(random_state=0, max_depth=4)],
    ids=["lr", "tree"],
)
def test_converted_classifier_gives_the_original_labels(tmp_path: Path, estimator: Any) -> None:
    original = estimator.fit(X, Y)
    save(tmp_path, "iris", to_onnx(original, X[:1].astype(np.float32)), f"labels: {LABELS}\n")

    version = load_version(tmp_path, "iris")
    outputs = run(version, Rows(X.tolist()), len(X))

    assert version.runtime is not None and version.runtime.kind == "onnx"
    assert version.signature is not None and version.signature.n_features == 4
    assert outputs.predictions == [LABELS[c] for c in original.predict(X)]
    assert outputs.probabilities is not None
    expected = original.predict_proba(X)
    got = np.array([[row[label] for label in LABELS] for row in outputs.probabilities])
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_string_class_labels_come_through(tmp_path: Path) -> None:
    names = np.array(LABELS)[Y]
    original = LogisticRegression(max_iter=1000).fit(X, names)
    save(tmp_path, "iris", to_onnx(original, X[:1].astype(np.float32)))

    outputs = run(load_version(tmp_path, "iris"), Rows([[5.1, 3.5, 1.4, 0.2]]), 1)

    assert outputs.predictions == ["setosa"]
    assert outputs.probabilities is not None
    assert set(outputs.probabilities[0]) == set(LABELS)


def test_one_input_per_feature_gives_named_typed_features(tmp_path: Path) -> None:
    frame = pd.DataFrame({"colour": ["red", "blue", "red", "green"] * 10, "size": range(40)})
    target = (frame["colour"] == "red").astype(int)
    pipeline = make_pipeline(
        ColumnTransformer(
            [("c", OneHotEncoder(handle_unknown="ignore"), ["colour"])], remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(frame, target)
    types = [("colour", StringTensorType([None, 1])), ("size", FloatTensorType([None, 1]))]
    save(tmp_path, "colours", to_onnx(pipeline, initial_types=types))

    version = load_version(tmp_path, "colours")
    outputs = run(
        version, Records([{"colour": "red", "size": 3}, {"colour": "blue", "size": 3}]), 2
    )

    assert version.signature is not None
    assert [(f.name, f.type) for f in version.signature.features or ()] == [
        ("colour", "str"),
        ("size", "float"),
    ]
    assert outputs.predictions == [1, 0]


def test_regressor_answers_one_value_per_row(tmp_path: Path) -> None:
    original = LinearRegression().fit(X[:, :3], X[:, 3])
    save(tmp_path, "reg", to_onnx(original, X[:1, :3].astype(np.float32)))

    version = load_version(tmp_path, "reg")
    outputs = run(version, Rows(X[:5, :3].tolist()), 5)

    assert version.signature is not None and not version.signature.has_proba
    np.testing.assert_allclose(outputs.predictions, original.predict(X[:5, :3]), atol=1e-4)


@pytest.mark.parametrize("keep", [0, 10, 100, 300])
def test_truncated_file_fails_clearly(tmp_path: Path, keep: int) -> None:
    original = LogisticRegression(max_iter=1000).fit(X, Y)
    save(tmp_path, "iris", to_onnx(original, X[:1].astype(np.float32)))
    artifact = tmp_path / "iris" / "1" / "model.onnx"
    artifact.write_bytes(artifact.read_bytes()[:keep])

    version = load_version(tmp_path, "iris")

    assert version.state == "failed"
    assert version.error is not None
    assert "'model.onnx' is not a readable ONNX model" in version.error
