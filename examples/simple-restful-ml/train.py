"""Train the original app's two iris models into this folder (paths relative to this script).

    python examples/simple-restful-ml/train.py      # from any working directory
    modelport serve examples/simple-restful-ml

Writes lr_iris.model/1/ (logistic regression) and dt_iris.model/1/ (decision tree), each
with a model.yaml naming the features and the species. The original app dropped bare files
(model/lr_iris.model) over the old ones; modelport keeps versions instead, so an upload
through /upload_model becomes lr_iris.model/2/. A model that is already there is kept.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import yaml
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from modelport.example_data import IRIS_FEATURES
from modelport.repository import new_version_folder, write_file_atomically
from modelport.train_examples import IRIS_LABELS

HERE = Path(__file__).resolve().parent


def main() -> None:
    iris = load_iris()
    models = {
        "lr_iris.model": LogisticRegression(max_iter=1000),
        "dt_iris.model": DecisionTreeClassifier(random_state=0),
    }
    for name, estimator in models.items():
        if (HERE / name / "1").exists():
            print(f"{name} is already trained; delete {HERE / name} to train it again")
            continue
        config = {
            "description": f"Iris species ({type(estimator).__name__})",
            "features": IRIS_FEATURES,
            "labels": IRIS_LABELS,
            "example": [5.1, 3.5, 1.4, 0.2],
        }
        write_file_atomically(HERE / name / "model.yaml", yaml.safe_dump(config).encode())
        with new_version_folder(HERE, name, 1) as folder:
            joblib.dump(estimator.fit(iris.data, iris.target), folder / "model.joblib")
        print(f"wrote {HERE / name / '1' / 'model.joblib'}")


if __name__ == "__main__":
    main()
