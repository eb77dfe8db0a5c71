"""Runtime lookup by file ending or declared kind, and missing-dependency messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.errors import MissingDependencyError, ModelLoadError
from modelport.runtimes.base import (
    RuntimeSpec,
    artifact_suffixes,
    missing_dependency,
    runtime_for,
    runtime_kinds,
)


def test_runtime_kinds() -> None:
    assert runtime_kinds() == ["sklearn"]


def test_artifact_suffixes_are_lower_case_with_a_dot() -> None:
    suffixes = artifact_suffixes()

    assert set(suffixes) >= {".joblib", ".pkl", ".pickle", ".model", ".pgz", ".pkl.gz"}
    assert all(s.startswith(".") and s == s.lower() for s in suffixes)


@pytest.mark.parametrize(
    "filename",
    [
        "model.joblib",
        "model.pkl",
        "model.pickle",
        "lr_iris.model",
        "model.pgz",
        "model.pkl.gz",
        "MODEL.JOBLIB",
        "Model.Pkl.Gz",
        "archive.tar.pkl",
    ],
)
def test_runtime_for_by_suffix(filename: str) -> None:
    spec = runtime_for(Path("models") / filename)

    assert isinstance(spec, RuntimeSpec)
    assert spec.kind == "sklearn"


@pytest.mark.parametrize(
    "filename", ["model.onnx", "model.gz", "model.csv.gz", "model", "model.joblib.bak", "pkl"]
)
def test_runtime_for_unknown_suffix(filename: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        runtime_for(Path(filename))

    assert f"no runtime loads '{filename}'" in info.value.message
    assert "known file endings" in info.value.message
    assert "'.joblib'" in info.value.message


def test_declared_kind_wins_over_the_suffix() -> None:
    assert runtime_for(Path("model.bin"), "sklearn").kind == "sklearn"


@pytest.mark.parametrize("kind", ["onnx", "SKLEARN", "", "scikit-learn"])
def test_declared_kind_unknown(kind: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        runtime_for(Path("model.joblib"), kind)

    assert f"model.yaml names runtime '{kind}'" in info.value.message
    assert "['sklearn']" in info.value.message


def test_spec_load_imports_the_loader_lazily(tmp_path: Path) -> None:
    spec = runtime_for(tmp_path / "model.pkl")
    assert spec.loader == "modelport.runtimes.sklearn:load"
    (tmp_path / "model.pkl").write_bytes(b"")

    with pytest.raises(ModelLoadError, match="not a readable pickle/joblib file"):
        spec.load(tmp_path / "model.pkl")


@pytest.mark.parametrize(
    ("module", "top", "extra"),
    [
        ("sklearn", "sklearn", "sklearn"),
        ("sklearn.linear_model._logistic", "sklearn", "sklearn"),
        ("joblib", "joblib", "sklearn"),
        ("pandas.core.frame", "pandas", "pandas"),
    ],
)
def test_missing_dependency_names_the_extra(module: str, top: str, extra: str) -> None:
    error = missing_dependency(ModuleNotFoundError(f"No module named '{module}'", name=module))

    assert isinstance(error, MissingDependencyError)
    assert error.module == top
    assert error.extra == extra
    assert f"'{top}'" in error.message
    assert f"pip install 'modelport[{extra}]'" in error.message
    assert error.code == "missing_dependency"


def test_missing_sklearn_message() -> None:
    error = missing_dependency(ModuleNotFoundError("No module named 'sklearn'", name="sklearn"))

    assert "modelport[sklearn]" in error.message


@pytest.mark.parametrize("module", ["acme_models", "acme_models.sub", "xgboost", "sklearnx"])
def test_missing_unknown_module_is_a_load_error(module: str) -> None:
    error = missing_dependency(ModuleNotFoundError(f"No module named '{module}'", name=module))

    assert type(error) is ModelLoadError
    assert f"the Python module '{module}'" in error.message
    assert "cannot be imported" in error.message


def test_missing_module_without_a_name() -> None:
    error = missing_dependency(ModuleNotFoundError("something went wrong"))

    assert type(error) is ModelLoadError
    assert "cannot be imported" in error.message
