"""MLflow's scoring protocol and the KServe V1 JSON shape against the real server, with
the payloads their clients send (mlflow's pyfunc scoring server formats, KServe V1)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport import __version__

from .conftest import StartServer

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("model", ["iris-lr", "iris-dt"])
@pytest.mark.parametrize(
    "body",
    [
        # What mlflow's pandas DataFrame.to_json(orient="split") and the mlflow clients send.
        {"dataframe_split": {"index": [0, 1], "columns": NAMES, "data": [SETOSA, VIRGINICA]}},
        {"dataframe_records": [dict(zip(NAMES, r, strict=True)) for r in (SETOSA, VIRGINICA)]},
        {"instances": [SETOSA, VIRGINICA]},
        {"inputs": {n: [a, b] for n, a, b in zip(NAMES, SETOSA, VIRGINICA, strict=True)}},
    ],
    ids=["dataframe_split", "dataframe_records", "instances", "inputs"],
)
def test_mlflow_payloads(client: httpx.Client, model: str, body: dict[str, Any]) -> None:
    response = client.post(f"/v1/models/{model}/invocations", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": ["setosa", "virginica"]}


def test_mlflow_csv(client: httpx.Client) -> None:
    table = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
    response = client.post(
        "/v1/models/iris-lr/invocations",
        content=table.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.json() == {"predictions": ["setosa"]}


def test_kserve_v1_shape(client: httpx.Client) -> None:
    response = client.post("/v1/models/iris-dt:predict", json={"instances": [SETOSA, VIRGINICA]})
    assert response.json() == {
        "model_name": "iris-dt",
        "model_version": 1,
        "predictions": ["setosa", "virginica"],
    }


def test_invocations_without_a_default_names_the_setting(client: httpx.Client) -> None:
    response = client.post("/invocations", json={"instances": [SETOSA]})
    assert response.status_code == 400
    assert "default_model" in response.json()["message"]
    assert response.json()["error_code"] == "BAD_REQUEST"
    # A bad payload is a 400 too, as mlflow models serve answers; the server keeps serving.
    bad = client.post("/v1/models/iris-lr/invocations", json={"instances": [["x", 1, 2, 3]]})
    assert bad.status_code == 400
    assert "expected a number" in bad.json()["message"]
    assert client.get("/ping").status_code == 200


def test_ping_and_version(client: httpx.Client) -> None:
    assert client.get("/ping").status_code == 200
    assert client.get("/version").text == __version__


def test_default_model_setting(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    for name in ("iris-lr", "iris-dt"):
        shutil.copytree(trained_models / name, models / name)
    server = start_server([str(models), "--default-model", "iris-dt"])
    server.wait_ready()
    body = {"dataframe_split": {"columns": NAMES, "data": [VIRGINICA]}}
    response = httpx.post(f"{server.url}/invocations", json=body, timeout=30)
    assert response.json() == {"predictions": ["virginica"]}
