"""Every example model through the real server, with known answers, and each way a model
can fail to load (missing extra, untrusted skops type, truncated artifact, model.py that
raises on import) reported in GET /v1/models while the others keep serving."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sklearn.datasets import load_iris

from modelport.train_examples import EXAMPLES, train_examples

from .conftest import SUPPORT, Server, StartServer

pytestmark = pytest.mark.e2e

IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
LOAN = {
    "Gender": "Male",
    "Married": "Yes",
    "Dependents": "0",
    "Education": "Graduate",
    "Self_Employed": "No",
    "ApplicantIncome": 5720,
    "CoapplicantIncome": 0,
    "LoanAmount": 110.0,
    "Loan_Amount_Term": 360.0,
    "Credit_History": 1.0,
    "Property_Area": "Urban",
}
#: The failure-mode models placed beside the examples, and what their reason must say.
BROKEN = {
    "truncated-xgb": "'model.ubj' is not a readable XGBoost model",
    "truncated-pkl": "'model.joblib' is not a readable pickle/joblib file",
    "untrusted-skops": "['quirky_model.QuirkyModel']",
    "bad-code": "model.py failed to import (line 2): RuntimeError: cannot start",
    "bad-code-pickle": "model.py failed to import (line 1): ImportError: needs a GPU",
}


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every example, plus one model per failure mode."""
    models = tmp_path_factory.mktemp("examples") / "models"
    assert train_examples(models) == list(EXAMPLES)
    truncate(models / "diabetes-xgb" / "1" / "model.ubj", models / "truncated-xgb" / "1")
    truncate(models / "iris-lr" / "1" / "model.joblib", models / "truncated-pkl" / "1")
    untrusted = models / "untrusted-skops" / "1" / "model.skops"
    untrusted.parent.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, skops.io, quirky_model; "
            "skops.io.dump(quirky_model.QuirkyModel(), sys.argv[1])",
            str(untrusted),
        ],
        env={**os.environ, "PYTHONPATH": str(SUPPORT)},
        check=True,
    )
    (models / "bad-code" / "1").mkdir(parents=True)
    (models / "bad-code" / "1" / "model.py").write_text(
        "import os\nraise RuntimeError('cannot start')\n"
    )
    shutil.copytree(models / "loan-rf", models / "bad-code-pickle")
    (models / "bad-code-pickle" / "1" / "model.py").write_text("raise ImportError('needs a GPU')\n")
    return models


def truncate(artifact: Path, folder: Path) -> None:
    folder.mkdir(parents=True)
    data = artifact.read_bytes()
    (folder / artifact.name).write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def server(examples: Path) -> Iterator[Server]:
    running = Server([str(examples), "--grpc-port", "0"], cwd=examples.parent)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def predict(http: httpx.Client, name: str, body: dict[str, Any], query: str = "") -> Any:
    response = http.post(f"/v1/models/{name}:predict{query}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# -- every example serves, with known answers ------------------------------------------------


def test_every_example_is_ready_and_every_broken_model_says_why(http: httpx.Client) -> None:
    models = {m["name"]: m for m in http.get("/v1/models").json()["models"]}

    for name in EXAMPLES:
        assert models[name]["state"] == "ready", models[name]["error"]
    for name, reason in BROKEN.items():
        assert models[name]["state"] == "failed"
        assert reason in models[name]["error"]
        assert reason in models[name]["versions"][0]["error"]
    runtimes = {name: models[name]["versions"][0]["runtime"] for name in EXAMPLES}
    assert runtimes == {
        "iris-lr": "sklearn",
        "iris-dt": "sklearn",
        "iris-xgb": "sklearn",
        "diabetes-xgb": "xgboost",
        "loan-rf": "sklearn",
        "iris-onnx": "onnx",
        "compute": "function",
    }


@pytest.mark.parametrize("name", ["iris-lr", "iris-dt", "iris-xgb", "iris-onnx"])
def test_iris_models_know_the_iris_rows(http: httpx.Client, name: str) -> None:
    body = predict(http, name, {"instances": IRIS_ROWS}, "?probabilities=true")

    assert body["predictions"] == ["setosa", "virginica"]
    assert body["probabilities"][0]["setosa"] > 0.5
    assert body["probabilities"][1]["virginica"] > 0.5


def test_onnx_gives_the_same_labels_as_the_original(http: httpx.Client) -> None:
    rows = load_iris().data.tolist()

    original = predict(http, "iris-lr", {"instances": rows})["predictions"]
    converted = predict(http, "iris-onnx", {"instances": rows})["predictions"]

    assert converted == original


def test_diabetes_probabilities(http: httpx.Client) -> None:
    seed_row = [1, 106, 70, 28, 135, 34.2, 0.142, 22]
    high_risk = [8, 190, 80, 35, 200, 42.0, 1.2, 55]

    body = predict(
        http,
        "diabetes-xgb",
        {"instances": [seed_row, high_risk], "parameters": {"probabilities": True}},
    )

    assert body["predictions"] == ["negative", "positive"]
    for row in body["probabilities"]:
        assert set(row) == {"negative", "positive"}
        assert sum(row.values()) == pytest.approx(1.0, abs=1e-6)
    assert body["probabilities"][1]["positive"] > 0.8


def test_diabetes_takes_named_columns(http: httpx.Client) -> None:
    names = http.get("/v1/models/diabetes-xgb").json()["signature"]["inputs"]
    record = dict(
        zip([f["name"] for f in names], [1, 106, 70, 28, 135, 34.2, 0.142, 22], strict=True)
    )

    assert "glucose" in record
    assert predict(http, "diabetes-xgb", {"instances": [record]})["predictions"] == ["negative"]


def test_loan_takes_records_with_missing_values(http: httpx.Client) -> None:
    records = [
        LOAN,
        {**LOAN, "Gender": None, "Dependents": None, "Self_Employed": None, "LoanAmount": None},
        {
            **LOAN,
            "Credit_History": 0.0,
            "ApplicantIncome": 1500,
            "LoanAmount": 300.0,
            "Married": "No",
            "Property_Area": "Rural",
        },
        {**LOAN, "Credit_History": None, "Loan_Amount_Term": None},
    ]

    body = predict(http, "loan-rf", {"dataframe_records": records}, "?probabilities=true")

    assert body["predictions"] == ["Y", "Y", "N", "Y"]
    assert set(body["probabilities"][0]) == {"N", "Y"}


def test_loan_unknown_category_is_a_clear_422(http: httpx.Client) -> None:
    response = http.post(
        "/v1/models/loan-rf:predict", json={"instances": [{**LOAN, "Property_Area": "Moon"}]}
    )

    assert response.status_code == 422
    assert "Property_Area" in response.json()["message"]
    assert "Moon" in response.json()["message"]


def test_compute_function_model_picks_its_operation_by_ctype(http: httpx.Client) -> None:
    body = predict(http, "compute", {"instances": [{"a": 1, "b": 2, "ctype": 1}]})

    assert body["predictions"] == [-1]
    assert predict(http, "compute", {"instances": [[3, 4, 2], [1, 4, 3]]})["predictions"] == [
        12,
        0.25,
    ]


def test_compute_division_by_zero_is_a_4xx_with_a_message(http: httpx.Client) -> None:
    response = http.post("/v1/models/compute:predict", json={"instances": [[1, 0, 3]]})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
    assert "cannot divide by zero" in response.json()["message"]
    # The server is fine afterwards.
    assert predict(http, "compute", {"instances": [[1, 2, 0]]})["predictions"] == [3]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_metadata_reports_load_time_size_and_sha256(
    http: httpx.Client, examples: Path, name: str
) -> None:
    version = http.get(f"/v1/models/{name}").json()["versions"][0]
    artifact = examples / name / "1" / version["artifact"]

    assert version["load_seconds"] >= 0
    assert version["size_bytes"] == artifact.stat().st_size
    assert version["sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()


# -- a missing extra fails only the models that need it -----------------------------------


def test_missing_xgboost_fails_only_the_xgboost_models(
    start_server: StartServer, examples: Path, tmp_path: Path
) -> None:
    # A package named xgboost earlier on the path that fails like an absent one.
    shim = tmp_path / "shim" / "xgboost"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'xgboost'\", name='xgboost')\n"
    )
    models = tmp_path / "models"
    for name in ("iris-lr", "iris-xgb", "diabetes-xgb", "compute"):
        shutil.copytree(examples / name, models / name)
    server = start_server(
        [str(models), "--grpc-port", "0"],
        env={"PYTHONPATH": os.pathsep.join([str(shim.parent), str(SUPPORT)])},
    )
    server.wait_ready()

    listed = {m["name"]: m for m in httpx.get(f"{server.url}/v1/models").json()["models"]}

    for name in ("iris-xgb", "diabetes-xgb"):
        assert listed[name]["state"] == "failed"
        assert "pip install 'modelport[xgboost]'" in listed[name]["error"]
    assert listed["iris-lr"]["state"] == "ready"
    assert listed["compute"]["state"] == "ready"
    answer = httpx.post(f"{server.url}/v1/models/iris-lr:predict", json={"instances": IRIS_ROWS})
    assert answer.json()["predictions"] == ["setosa", "virginica"]
    refused = httpx.post(f"{server.url}/v1/models/iris-xgb:predict", json={"instances": IRIS_ROWS})
    assert refused.status_code == 503
    assert "modelport[xgboost]" in refused.json()["message"]
