"""What a Flask or pandas user sends first, and pickles from another scikit-learn: numbers
as strings (model.yaml ``coerce``), nulls for models that handle them, and the version
warning or error a mismatched pickle gets."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
import sklearn
import xgboost
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .conftest import StartServer

pytestmark = pytest.mark.e2e

X, Y = load_iris(return_X_y=True)
#: A version no server has installed, of the same length as the installed one's text
#: (so that a pickle's bytes can be edited in place).
OLD = "1.0." + "9" * (len(sklearn.__version__) - 4)


def write(folder: Path, name: str, artifact: str, content: bytes, yaml: str = "") -> None:
    version = folder / name / "1"
    version.mkdir(parents=True)
    (version / artifact).write_bytes(content)
    if yaml:
        (folder / name / "model.yaml").write_text(yaml)


def pickled_as_if_saved_by(model: Any, version: str) -> bytes:
    """``model`` pickled, its recorded scikit-learn version replaced by ``version``."""
    data = pickle.dumps(model, protocol=5)
    installed = sklearn.__version__.encode()
    assert data.count(installed) >= 1
    return data.replace(installed, version.encode())


def predict(url: str, model: str, rows: list[list[Any]]) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/{model}:predict", json={"instances": rows}, timeout=30)


def versions(url: str, model: str) -> list[dict[str, Any]]:
    models = httpx.get(f"{url}/v1/models", timeout=30).json()["models"]
    (found,) = [entry for entry in models if entry["name"] == model]
    return list(found["versions"])


def test_numbers_sent_as_strings_are_refused_with_the_way_out_or_taken_with_coerce(
    start_server: StartServer, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    model = LogisticRegression(max_iter=1000).fit(X, Y)
    content = pickle.dumps(model)
    write(folder, "strict", "model.pkl", content)
    write(folder, "lenient", "model.pkl", content, "coerce: true\n")
    server = start_server([str(folder)])
    server.wait_ready()
    row = ["5.1", "3.5", " 1.4", "0.2"]  # as a form or a CSV reader hands them over

    refused = predict(server.url, "strict", [row])
    assert refused.status_code == 422
    message = refused.json()["message"]
    assert "row 0, column 0: expected a number, got string '5.1'" in message
    assert "coerce: true" in message

    taken = predict(server.url, "lenient", [row, [6.7, "3.0", 5.2, 2.3]])
    assert taken.status_code == 200, taken.text
    assert taken.json()["predictions"] == [0, 2]
    # Text that is no number is still refused, naming the place.
    bad = predict(server.url, "lenient", [["5.1", "abc", "1.4", "0.2"]])
    assert bad.status_code == 422
    assert "row 0, column 1: 'abc' is not a number" in bad.json()["message"]
    metadata = httpx.get(f"{server.url}/v1/models/lenient", timeout=30).json()
    assert metadata["signature"]["coerce"] is True


def test_models_that_handle_missing_values_take_null_and_say_so(
    start_server: StartServer, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    with_gaps = X.copy()
    with_gaps[::7, 2] = np.nan
    booster = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(with_gaps, Y)
    booster.save_model(tmp_path / "iris.json")  # XGBoost's own format
    write(folder, "xgb", "model.json", (tmp_path / "iris.json").read_bytes())
    hist = HistGradientBoostingClassifier(max_iter=5).fit(with_gaps, Y)
    buffer = tmp_path / "hist.joblib"
    joblib.dump(hist, buffer)
    write(folder, "hist", "model.joblib", buffer.read_bytes())
    write(folder, "hist-strict", "model.joblib", buffer.read_bytes(), "allow_missing: false\n")
    write(folder, "linear", "model.pkl", pickle.dumps(LogisticRegression(max_iter=1000).fit(X, Y)))
    server = start_server([str(folder)])
    server.wait_ready()
    row = [5.1, 3.5, None, 0.2]

    for name in ("xgb", "hist"):
        answer = predict(server.url, name, [row])
        assert answer.status_code == 200, answer.text
        signature = httpx.get(f"{server.url}/v1/models/{name}", timeout=30).json()["signature"]
        assert signature["allow_missing"] is True
        assert "handles itself" in signature["missing_values"]
    for name in ("hist-strict", "linear"):
        refused = predict(server.url, name, [row])
        assert refused.status_code == 422
        assert "missing value (null) is not allowed" in refused.json()["message"]


def test_a_pickle_from_another_scikit_learn_loads_with_a_warning_in_its_metadata(
    start_server: StartServer, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, Y)
    write(folder, "scaled", "model.pkl", pickled_as_if_saved_by(pipeline, OLD))
    # A plain linear model answered with NumPy alone says the same.
    linear = LogisticRegression(max_iter=1000).fit(X, Y)
    write(folder, "linear", "model.pkl", pickled_as_if_saved_by(linear, OLD))
    # A class that scikit-learn no longer has (renamed in the bytes): the load fails,
    # naming both versions, since that is the usual reason.
    broken = pickled_as_if_saved_by(linear, OLD).replace(b"_logistic", b"_logistix")
    write(folder, "broken", "model.pkl", broken)
    # The same pickle from the installed version: no warning.
    write(folder, "current", "model.pkl", pickle.dumps(linear))
    server = start_server([str(folder)])
    server.wait_ready()

    for name, estimators in (
        ("linear", "LogisticRegression"),
        ("scaled", "StandardScaler, LogisticRegression, Pipeline"),
    ):
        (version,) = versions(server.url, name)
        assert version["state"] == "ready", version
        (warning,) = version["warnings"]
        assert warning.startswith(
            f"{estimators} saved with scikit-learn {OLD} and served with {sklearn.__version__}"
        )
    assert predict(server.url, "linear", [[5.1, 3.5, 1.4, 0.2]]).status_code == 200
    (failed,) = versions(server.url, "broken")
    assert failed["state"] == "failed"
    assert (
        f"saved with scikit-learn {OLD} and served with {sklearn.__version__}" in (failed["error"])
    )
    (current,) = versions(server.url, "current")
    assert current["warnings"] == []
