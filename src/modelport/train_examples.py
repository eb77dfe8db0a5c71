"""``modelport train-examples``: small real models to try the server with.

Trained on scikit-learn's bundled iris data (no download), written atomically as
``DIR/<name>/1/model.joblib`` plus ``DIR/<name>/model.yaml``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from modelport.errors import MissingDependencyError
from modelport.repository import new_version_folder, write_file_atomically

__all__ = ["EXAMPLES", "train_examples"]

log = logging.getLogger(__name__)

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _logistic_regression() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _decision_tree() -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(random_state=0)


#: name -> (description, estimator factory)
EXAMPLES: dict[str, tuple[str, Callable[[], Any]]] = {
    "iris-lr": ("Iris species, logistic regression (scikit-learn)", _logistic_regression),
    "iris-dt": ("Iris species, decision tree (scikit-learn)", _decision_tree),
}


def train_examples(target: Path) -> list[str]:
    """Train every example model into ``target``; returns the names written.

    A model whose version 1 already exists is left as it is (versions are immutable).
    """
    try:
        import joblib
        from sklearn.datasets import load_iris
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(exc.name or "scikit-learn", "sklearn") from exc
    iris = load_iris()
    labels = [str(name) for name in iris.target_names]
    written = []
    for name, (description, make) in EXAMPLES.items():
        if (target / name / "1").exists():
            log.info("%s already exists in %s; left as it is", name, target)
            continue
        estimator = make().fit(iris.data, iris.target)
        config = {
            "description": description,
            "features": IRIS_FEATURES,
            "labels": labels,
            "example": [5.1, 3.5, 1.4, 0.2],
        }
        # model.yaml first: the version must never be seen without its feature names.
        write_file_atomically(
            target / name / "model.yaml", yaml.safe_dump(config, sort_keys=False).encode()
        )
        with new_version_folder(target, name, 1) as folder:
            joblib.dump(estimator, folder / "model.joblib")
        written.append(name)
    return written
