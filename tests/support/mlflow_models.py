"""Write MLflow model folders with MLflow itself, as a user's training script would.

Run as ``python mlflow_models.py TARGET`` (in a process of its own: importing MLflow is
slow, and it warns about things the tests do not care about). TARGET/models gets:

- ``iris-sk/1/``: ``mlflow.sklearn.save_model`` with a signature and an input example
  (MLflow's default serialization, skops in MLflow 3);
- ``iris-pickle/``: the same kind of model as a cloudpickle, the MLflow folder being
  the model folder itself (served as version 1);
- ``iris-xgb/1/`` and ``iris-lgb/1/``: the XGBoost and LightGBM flavors;
- ``adder/1/``: a custom ``mlflow.pyfunc.PythonModel`` (a + b, and a word for the sign).

TARGET/expected.json holds ROWS, their column NAMES, the adder's NUMBERS, and each model's
own predictions for them (``predictions``), made before saving.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

from modelport.example_data import IRIS_FEATURES

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
NAMES = IRIS_FEATURES
SPECIES = ["setosa", "versicolor", "virginica"]
NUMBERS = [{"a": 1.0, "b": 2.0}, {"a": -5.0, "b": 1.5}]


def main(target: Path) -> None:
    warnings.simplefilter("ignore")
    import lightgbm
    import mlflow.lightgbm
    import mlflow.pyfunc
    import mlflow.sklearn
    import mlflow.xgboost
    import pandas as pd
    import xgboost
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    models = target / "models"
    frame, codes = load_iris(return_X_y=True, as_frame=True)
    frame.columns = NAMES
    species = codes.map(dict(enumerate(SPECIES)))
    rows = pd.DataFrame(ROWS, columns=NAMES)
    expected: dict[str, Any] = {}
    # Requirements named up front: MLflow would otherwise load each model in a
    # subprocess to find them, which costs seconds and is not what is tested here.
    reqs = ["scikit-learn"]

    lr = LogisticRegression(max_iter=1000).fit(frame, species)
    signature = infer_signature(frame, lr.predict(frame))
    mlflow.sklearn.save_model(
        lr,
        models / "iris-sk" / "1",
        signature=signature,
        input_example=frame.head(2),
        pip_requirements=reqs,
    )
    mlflow.sklearn.save_model(
        lr,
        models / "iris-pickle",
        signature=signature,
        input_example=frame.head(1),
        serialization_format="cloudpickle",
        pip_requirements=reqs,
    )
    expected["iris-sk"] = expected["iris-pickle"] = lr.predict(rows).tolist()

    booster = xgboost.XGBClassifier(n_estimators=8, max_depth=2).fit(frame, codes)
    mlflow.xgboost.save_model(
        booster,
        models / "iris-xgb" / "1",
        signature=infer_signature(frame, booster.predict(frame)),
        input_example=frame.head(1),
        pip_requirements=["xgboost"],
    )
    expected["iris-xgb"] = booster.predict(rows).tolist()

    gbm = lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(frame, codes)
    mlflow.lightgbm.save_model(
        gbm,
        models / "iris-lgb" / "1",
        signature=infer_signature(frame, gbm.predict(frame)),
        input_example=frame.head(1),
        pip_requirements=["lightgbm"],
    )
    expected["iris-lgb"] = [int(label) for label in gbm.predict(rows)]

    class Adder(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]  # untyped
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            total = model_input["a"] + model_input["b"]
            return pd.DataFrame(
                {"sum": total, "sign": ["negative" if t < 0 else "positive" for t in total]}
            )

    numbers = pd.DataFrame(NUMBERS)
    adder = Adder()
    mlflow.pyfunc.save_model(
        models / "adder" / "1",
        python_model=adder,
        signature=infer_signature(numbers, adder.predict(None, numbers)),
        input_example=numbers.head(1),
        pip_requirements=["pandas"],
    )
    expected["adder"] = adder.predict(None, numbers).to_dict(orient="records")
    answers = {"names": NAMES, "rows": ROWS, "numbers": numbers.to_dict(orient="records")}
    (target / "expected.json").write_text(json.dumps({**answers, "predictions": expected}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
