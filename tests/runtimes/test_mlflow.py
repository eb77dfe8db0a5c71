"""MLflow folders written by MLflow itself, loaded in a process where MLflow cannot be
imported: the native flavors need none of it, the others name the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelport.loader import load_model
from modelport.repository import ModelSource, scan_repository
from modelport.runtimes.base import artifact_suffixes
from modelport.served import ServedModel

IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def without_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import mlflow` (and every submodule) fails here as if it were not installed."""
    for name in [n for n in sys.modules if n.startswith("mlflow.")] + ["mlflow"]:
        monkeypatch.setitem(sys.modules, name, None)


def sources(mlflow_models: Path) -> dict[str, ModelSource]:
    found = scan_repository(mlflow_models / "models", artifact_suffixes())
    return {source.name: source for source in found}


def loaded(source: ModelSource) -> ServedModel:
    return load_model(source)


@pytest.mark.usefixtures("without_mlflow")
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("iris-sk", "skops"),
        ("iris-pickle", "sklearn"),
        ("iris-xgb", "xgboost"),
        ("iris-lgb", "skops"),
    ],
)
def test_native_flavors_load_without_mlflow(mlflow_models: Path, name: str, kind: str) -> None:
    version = loaded(sources(mlflow_models)[name]).versions[1]
    assert version.ready, version.error
    assert version.runtime is not None and version.runtime.kind == kind
    assert version.signature is not None
    # The MLmodel signature's columns, typed, are the model's inputs.
    assert version.signature.to_dict()["inputs"] == [{"name": n, "type": "float"} for n in IRIS]


@pytest.mark.usefixtures("without_mlflow")
def test_a_python_model_without_mlflow_names_the_extra(mlflow_models: Path) -> None:
    version = loaded(sources(mlflow_models)["adder"]).versions[1]
    assert not version.ready
    assert "pip install 'modelport[mlflow]'" in (version.public_error or "")
