"""MLflow's scoring protocol, in process: every body format, CSV, the default model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from modelport import __version__

from .conftest import AppClient, MakeClient

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
REVERSED = NAMES[::-1]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": NAMES, "data": [SETOSA, VIRGINICA]}},
        {
            "dataframe_split": {
                "index": [0, 1],
                "columns": REVERSED,
                "data": [SETOSA[::-1], VIRGINICA[::-1]],
            }
        },
        {"dataframe_records": [dict(zip(NAMES, row, strict=True)) for row in (SETOSA, VIRGINICA)]},
        {"instances": [SETOSA, VIRGINICA]},
        {"inputs": [SETOSA, VIRGINICA]},
        {"inputs": {n: [a, b] for n, a, b in zip(NAMES, SETOSA, VIRGINICA, strict=True)}},
        {"instances": [SETOSA, VIRGINICA], "params": {"anything": 1}},
    ],
    ids=["split", "split-reordered", "records", "instances", "inputs", "tensor-columns", "params"],
)
def test_every_mlflow_body(iris: AppClient, body: dict[str, Any]) -> None:
    response = iris.post("/v1/models/iris-lr/invocations", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": ["setosa", "virginica"]}


def test_csv(iris: AppClient) -> None:
    csv = ",".join(REVERSED) + "\n" + ",".join(map(str, VIRGINICA[::-1])) + "\n"
    response = iris.post(
        "/v1/models/iris-dt/invocations",
        content=csv.encode(),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    assert response.json() == {"predictions": ["virginica"]}
    bad = iris.post(
        "/v1/models/iris-dt/invocations", content=b"a,b\n", headers={"Content-Type": "text/csv"}
    )
    assert bad.status_code == 400
    assert "header row and at least one data row" in bad.json()["message"]


def test_errors_carry_mlflow_error_codes(iris: AppClient) -> None:
    bad = iris.post("/v1/models/iris-lr/invocations", json={"instances": [[1, 2]]})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "BAD_REQUEST"
    assert "row 0 has 2 values" in bad.json()["message"]
    unknown = iris.post("/v1/models/nope/invocations", json={"instances": [SETOSA]})
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert iris.post("/v1/models/iris-lr/invocations", json={"nope": 1}).status_code == 400


def test_invocations_needs_one_model_or_the_setting(iris: AppClient) -> None:
    response = iris.post("/invocations", json={"instances": [SETOSA]})
    assert response.status_code == 400
    assert "default_model" in response.json()["message"]
    assert "iris-dt, iris-lr" in response.json()["message"]


def test_invocations_with_default_model(make_client: MakeClient, iris_models: Path) -> None:
    client = make_client(iris_models, default_model="iris-dt")
    response = client.post("/invocations", json={"instances": [VIRGINICA]})
    assert response.json() == {"predictions": ["virginica"]}


def test_invocations_with_the_only_model(make_client: MakeClient, iris_models: Path) -> None:
    shutil.rmtree(iris_models / "iris-dt")
    client = make_client(iris_models)
    response = client.post(
        "/invocations", json={"dataframe_split": {"columns": NAMES, "data": [SETOSA]}}
    )
    assert response.json() == {"predictions": ["setosa"]}


def test_ping_and_version(iris: AppClient) -> None:
    assert iris.get("/ping").status_code == 200
    version = iris.get("/version")
    assert version.text == __version__
    assert version.headers["content-type"].startswith("text/plain")
