"""``modelport train-examples``: small real models to try the server with, one per kind.

Each example is written atomically as ``DIR/<name>/1/<artifact>`` plus
``DIR/<name>/model.yaml``. Nothing is downloaded: iris ships with scikit-learn, and the
diabetes and loan tables are synthesized with a fixed random seed (the columns of the
usual Pima and loan-prediction data sets), so every run writes the same models. An
example whose library is missing is skipped with a warning naming the extra to install.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import pickle
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelport.errors import MissingDependencyError
from modelport.example_data import (
    COMPUTE_CODE,
    IRIS_FEATURES,
    LOAN_CODE,
    LOAN_FEATURE_TYPES,
    diabetes_table,
    loan_table,
)
from modelport.repository import new_version_folder, write_file_atomically
from modelport.runtimes.code import import_code_file, module_named

__all__ = ["EXAMPLES", "Example", "train_examples"]

log = logging.getLogger(__name__)

IRIS_LABELS = ["setosa", "versicolor", "virginica"]
_IRIS_YAML: dict[str, Any] = {
    "features": IRIS_FEATURES,
    "labels": IRIS_LABELS,
    "example": [5.1, 3.5, 1.4, 0.2],
}


@dataclass(frozen=True, slots=True)
class Example:
    name: str
    #: model.yaml, written before the version so it is never seen without its signature.
    config: dict[str, Any]
    #: Writes the artifact (and any model.py) into an empty version folder.
    write: Callable[[Path], None]
    #: Top-level modules it needs -> what to pip install for them.
    needs: dict[str, str] = field(default_factory=dict)


def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    iris = load_iris()
    return iris.data, iris.target


def _iris_lr() -> Any:
    from sklearn.linear_model import LogisticRegression

    data, target = _iris()
    return LogisticRegression(max_iter=1000).fit(data, target)


def _write_iris_lr(folder: Path) -> None:
    import joblib

    joblib.dump(_iris_lr(), folder / "model.joblib")


def _write_iris_dt(folder: Path) -> None:
    import joblib
    from sklearn.tree import DecisionTreeClassifier

    data, target = _iris()
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(data, target), folder / "model.joblib")


def _write_iris_xgb(folder: Path) -> None:
    from xgboost import XGBClassifier

    data, target = _iris()
    model = XGBClassifier(n_estimators=30, max_depth=3, random_state=0, n_jobs=1)
    # A gzip-compressed plain pickle, as examples/flask-iris ships its xgboost-iris.pgz.
    with gzip.open(folder / "model.pgz", "wb") as handle:
        pickle.dump(model.fit(data, target), handle)


def _write_diabetes_xgb(folder: Path) -> None:
    from xgboost import XGBClassifier

    table, outcome = diabetes_table()
    model = XGBClassifier(n_estimators=60, max_depth=3, learning_rate=0.1, random_state=0)
    model.set_params(n_jobs=1)
    # XGBoost's own format: portable across XGBoost versions, unlike a pickle.
    model.fit(table, outcome).save_model(folder / "model.ubj")


def _write_loan_rf(folder: Path) -> None:
    import joblib
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline

    code = folder / "model.py"
    code.write_text(LOAN_CODE, encoding="utf-8")
    table, status = loan_table()
    # Imported as module `model`, as a training script's `from model import PreProcessing`
    # would, so the pickle names `model.PreProcessing` and loads beside this model.py.
    with module_named(code, "model") as module:
        pipeline = make_pipeline(
            module.PreProcessing(),
            RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0, n_jobs=1),
        )
        joblib.dump(pipeline.fit(table, status), folder / "model.joblib")


def _write_iris_onnx(folder: Path) -> None:
    import numpy as np
    from skl2onnx import to_onnx

    data, _ = _iris()
    onnx_model = to_onnx(_iris_lr(), data[:1].astype(np.float32))
    (folder / "model.onnx").write_bytes(onnx_model.SerializeToString())


def _write_compute(folder: Path) -> None:
    (folder / "model.py").write_text(COMPUTE_CODE, encoding="utf-8")
    import_code_file(folder / "model.py")  # fail here, not at serve time, on a bad edit


_SKLEARN = {"sklearn": "modelport[sklearn]", "joblib": "modelport[sklearn]"}
_XGBOOST = {**_SKLEARN, "xgboost": "modelport[xgboost]"}

#: Every example, in the order they are written.
EXAMPLES: dict[str, Example] = {
    example.name: example
    for example in (
        Example(
            "iris-lr",
            {"description": "Iris species, logistic regression (scikit-learn)", **_IRIS_YAML},
            _write_iris_lr,
            _SKLEARN,
        ),
        Example(
            "iris-dt",
            {"description": "Iris species, decision tree (scikit-learn)", **_IRIS_YAML},
            _write_iris_dt,
            _SKLEARN,
        ),
        Example(
            "iris-xgb",
            {"description": "Iris species, XGBoost pickled with gzip (.pgz)", **_IRIS_YAML},
            _write_iris_xgb,
            _XGBOOST,
        ),
        Example(
            "diabetes-xgb",
            {
                "description": "Diabetes risk from the 8 Pima columns, XGBoost native "
                "format (.ubj), trained on synthetic data; ask for probabilities",
                "labels": ["negative", "positive"],
                "example": [1, 106, 70, 28, 135, 34.2, 0.142, 22],
            },
            _write_diabetes_xgb,
            {**_XGBOOST, "pandas": "modelport[pandas]"},
        ),
        Example(
            "loan-rf",
            {
                "description": "Loan approval (Y/N): a Pipeline of custom preprocessing "
                "(model.py) and a random forest, trained on a synthetic loan table",
                "features": [{"name": n, "type": t} for n, t in LOAN_FEATURE_TYPES.items()],
                "allow_missing": True,
                "example": {
                    "Gender": "Male",
                    "Married": "Yes",
                    "Dependents": "0",
                    "Education": "Graduate",
                    "Self_Employed": None,
                    "ApplicantIncome": 5720,
                    "CoapplicantIncome": 0,
                    "LoanAmount": 110.0,
                    "Loan_Amount_Term": 360.0,
                    "Credit_History": 1.0,
                    "Property_Area": "Urban",
                },
            },
            _write_loan_rf,
            {**_SKLEARN, "pandas": "modelport[pandas]"},
        ),
        Example(
            "iris-onnx",
            {"description": "Iris species, the logistic regression in ONNX", **_IRIS_YAML},
            _write_iris_onnx,
            {**_SKLEARN, "skl2onnx": "skl2onnx", "onnxruntime": "modelport[onnx]"},
        ),
        Example(
            "compute",
            {
                "description": "Arithmetic as a Python function model: ctype 0..3 = "
                "a+b, a-b, a*b, a/b",
                "example": {"a": 1, "b": 2, "ctype": 1},
            },
            _write_compute,
        ),
    )
}


def train_examples(target: Path, names: Collection[str] | None = None) -> list[str]:
    """Train the examples (all, or ``names``) into ``target``; returns the names written.

    A model whose version 1 already exists is left as it is (versions are immutable).
    """
    unknown = sorted(set(names or ()) - set(EXAMPLES))
    if unknown:
        raise ValueError(f"unknown example(s) {unknown}; known: {list(EXAMPLES)}")
    written = []
    for example in EXAMPLES.values():
        if names is not None and example.name not in names:
            continue
        if (target / example.name / "1").exists():
            log.info("%s already exists in %s; left as it is", example.name, target)
            continue
        missing = _missing_module(example.needs)
        if missing is not None:
            if missing in _SKLEARN:  # every example needs it: nothing useful can be written
                raise MissingDependencyError(missing, "sklearn")
            log.warning(
                "skipping %s: it needs the Python package '%s' (pip install '%s')",
                example.name,
                missing,
                example.needs[missing],
            )
            continue
        write_file_atomically(
            target / example.name / "model.yaml",
            yaml.safe_dump(example.config, sort_keys=False).encode(),
        )
        with new_version_folder(target, example.name, 1) as folder:
            example.write(folder)
        written.append(example.name)
    return written


def _missing_module(needs: dict[str, str]) -> str | None:
    return next((module for module in needs if importlib.util.find_spec(module) is None), None)
