"""train_examples: every example model written once, atomically, from fixed data."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import yaml

from modelport.example_data import (
    DIABETES_FEATURES,
    LOAN_FEATURE_TYPES,
    diabetes_table,
    loan_table,
)
from modelport.train_examples import EXAMPLES, train_examples

FILES = {
    "iris-lr": ["model.joblib"],
    "iris-dt": ["model.joblib"],
    "iris-xgb": ["model.pgz"],
    "diabetes-xgb": ["model.ubj"],
    "loan-rf": ["model.joblib", "model.py"],
    "iris-onnx": ["model.onnx"],
    "compute": ["model.py"],
}


def test_every_example_is_written_with_its_files(tmp_path: Path) -> None:
    target = tmp_path / "models"

    written = train_examples(target)

    assert written == list(EXAMPLES) == list(FILES)
    for name, files in FILES.items():
        assert sorted(p.name for p in (target / name / "1").iterdir()) == files
        config = yaml.safe_load((target / name / "model.yaml").read_text())
        assert config["description"]
    assert not list(target.rglob(".tmp-*"))


def test_existing_examples_are_left_alone(tmp_path: Path) -> None:
    train_examples(tmp_path, names=["compute"])
    before = (tmp_path / "compute" / "1" / "model.py").stat().st_mtime_ns

    assert train_examples(tmp_path, names=["compute", "iris-dt"]) == ["iris-dt"]
    assert (tmp_path / "compute" / "1" / "model.py").stat().st_mtime_ns == before


def test_unknown_example_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown example\(s\) \['iris-svm'\]"):
        train_examples(tmp_path, names=["iris-svm"])


def test_example_whose_library_is_missing_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "xgboost", None)  # as if xgboost were not installed

    with caplog.at_level(logging.WARNING):
        written = train_examples(tmp_path, names=["iris-lr", "iris-xgb", "diabetes-xgb"])

    assert written == ["iris-lr"]
    assert not (tmp_path / "iris-xgb").exists()
    assert "pip install 'modelport[xgboost]'" in caplog.text


def test_loan_pickle_names_the_class_in_model_py(tmp_path: Path) -> None:
    train_examples(tmp_path, names=["loan-rf"])

    data = (tmp_path / "loan-rf" / "1" / "model.joblib").read_bytes()

    assert b"model" in data and b"PreProcessing" in data
    assert "model" not in sys.modules  # training left no alias behind
    config = yaml.safe_load((tmp_path / "loan-rf" / "model.yaml").read_text())
    assert config["allow_missing"] is True
    assert [f["name"] for f in config["features"]] == list(LOAN_FEATURE_TYPES)


def test_synthetic_tables_are_fixed_and_shaped_like_the_seeds() -> None:
    diabetes, outcome = diabetes_table()
    loans, status = loan_table()

    assert list(diabetes.columns) == DIABETES_FEATURES
    assert diabetes.equals(diabetes_table()[0])
    assert set(outcome) == {0, 1}
    assert list(loans.columns) == list(LOAN_FEATURE_TYPES)
    assert loans.isna().any().sum() == 7  # missing values in 7 of the 11 columns
    assert loans.equals(loan_table()[0])
    assert set(status) == {"N", "Y"}
