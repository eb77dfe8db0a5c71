"""MLflow model folders, as mlflow.<flavor>.save_model wrote them, served by the real
server and answered through MLflow's own scoring client and the payloads
``mlflow models predict`` sends."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from modelport import __version__
from modelport.example_data import IRIS_FEATURES

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e

NAMES = IRIS_FEATURES
NATIVE = ["iris-sk", "iris-pickle", "iris-xgb", "iris-lgb"]


def scoring_client(url: str) -> Any:
    """MLflow's ScoringServerClient aimed at ``url`` (it posts to ``url``/invocations)."""
    with warnings.catch_warnings():
        # MLflow warns about its own internals while importing; not this test's concern.
        warnings.simplefilter("ignore")
        from mlflow.pyfunc.scoring_server.client import ScoringServerClient
    host_port = url.removeprefix("http://")
    host, _, rest = host_port.partition(":")
    port, _, path = rest.partition("/")
    client = ScoringServerClient(host, int(port))  # type: ignore[no-untyped-call]
    if path:
        # The client has no argument for a path: modelport serves every model at
        # /v1/models/NAME/invocations, beside the default model's /invocations.
        client.url_prefix += f"/{path}"
    return client


def invoke(client: Any, data: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return client.invoke(data)


@pytest.fixture(scope="module")
def mlflow_server(
    mlflow_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Every MLflow folder under one server; /invocations answers iris-sk."""
    root = tmp_path_factory.mktemp("mlflow-server")
    server = Server([str(mlflow_models / "models"), "--default-model", "iris-sk"], cwd=root)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


#: What the training script (tests/support/mlflow_models.py) fed its models and saw.
@pytest.fixture(scope="module")
def made(mlflow_models: Path) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((mlflow_models / "expected.json").read_text())
    return facts


@pytest.fixture(scope="module")
def expected(made: dict[str, Any]) -> dict[str, Any]:
    """Each model's own predictions, made by the training script before saving."""
    answers: dict[str, Any] = made["predictions"]
    return answers


@pytest.fixture(scope="module")
def iris(made: dict[str, Any]) -> pd.DataFrame:
    """The rows the iris models were asked about, with their column names."""
    return pd.DataFrame(made["rows"], columns=made["names"])


def test_mlflow_client_against_the_default_model(
    mlflow_server: Server, expected: dict[str, Any], iris: pd.DataFrame
) -> None:
    client = scoring_client(mlflow_server.url)
    client.ping()
    assert client.get_version() == __version__
    answer = invoke(client, iris)
    assert answer["predictions"] == expected["iris-sk"]
    # A NumPy array goes as {"inputs": [[...]]}: rows in the signature's column order.
    assert invoke(client, iris.to_numpy())["predictions"] == expected["iris-sk"]


@pytest.mark.parametrize("name", NATIVE)
def test_mlflow_client_against_each_native_flavor(
    mlflow_server: Server, expected: dict[str, Any], iris: pd.DataFrame, name: str
) -> None:
    client = scoring_client(f"{mlflow_server.url}/v1/models/{name}")
    answer = invoke(client, iris)
    assert answer["predictions"] == expected[name]


def test_mlflow_client_against_a_custom_python_model(
    mlflow_server: Server, expected: dict[str, Any], made: dict[str, Any]
) -> None:
    client = scoring_client(f"{mlflow_server.url}/v1/models/adder")
    answer = invoke(client, pd.DataFrame(made["numbers"]))
    # A DataFrame answer comes back as MLflow's own server sends it: one object per row.
    assert answer["predictions"] == expected["adder"]
    table = answer.get_predictions()
    assert list(table.columns) == ["sum", "sign"]
    assert table["sign"].tolist() == ["positive", "negative"]


def payloads(columns: list[str], rows: list[list[Any]]) -> dict[str, dict[str, Any]]:
    """The bodies `mlflow models predict` and MLflow's clients send for one table."""
    return {
        "dataframe_split": {"dataframe_split": {"columns": columns, "data": rows}},
        "dataframe_records": {
            "dataframe_records": [dict(zip(columns, row, strict=True)) for row in rows]
        },
        "instances": {"instances": [dict(zip(columns, row, strict=True)) for row in rows]},
        "inputs": {"inputs": {c: [row[i] for row in rows] for i, c in enumerate(columns)}},
    }


@pytest.mark.parametrize("shape", ["dataframe_split", "dataframe_records", "instances", "inputs"])
@pytest.mark.parametrize("name", [*NATIVE, "adder"])
def test_mlflow_models_predict_payloads(
    mlflow_server: Server, made: dict[str, Any], name: str, shape: str
) -> None:
    expected = made["predictions"]
    if name == "adder":
        body = payloads(["a", "b"], [[r["a"], r["b"]] for r in made["numbers"]])[shape]
    else:
        body = payloads(NAMES, made["rows"])[shape]
    response = httpx.post(f"{mlflow_server.url}/v1/models/{name}/invocations", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected[name]}


def test_signature_and_runtime_come_from_the_mlmodel(mlflow_server: Server) -> None:
    listing = httpx.get(f"{mlflow_server.url}/v1/models").json()["models"]
    kinds = {m["name"]: m["versions"][0]["runtime"] for m in listing}
    assert kinds == {
        "iris-sk": "skops",
        "iris-pickle": "sklearn",
        "iris-xgb": "xgboost",
        "iris-lgb": "skops",
        "adder": "mlflow",
    }
    adder = httpx.get(f"{mlflow_server.url}/v1/models/adder").json()
    assert adder["signature"]["inputs"] == [
        {"name": "a", "type": "float"},
        {"name": "b", "type": "float"},
    ]


@pytest.mark.parametrize(
    ("name", "body", "fragment"),
    [
        ("adder", {"dataframe_records": [{"a": 1.0, "c": 2.0}]}, "'c'"),
        ("adder", {"dataframe_records": [{"a": "one", "b": 2.0}]}, "expected a number"),
        ("iris-xgb", {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}, "'x'"),
        ("iris-sk", {"dataframe_split": {"columns": NAMES, "data": [[1.0]]}}, ""),
    ],
    ids=["unknown-column", "text-for-a-number", "wrong-columns", "short-row"],
)
def test_bad_input_is_a_clear_400(
    mlflow_server: Server, name: str, body: dict[str, Any], fragment: str
) -> None:
    response = httpx.post(f"{mlflow_server.url}/v1/models/{name}/invocations", json=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]


def test_uploading_an_mlmodel_is_refused_like_a_pickle(
    mlflow_server: Server, mlflow_models: Path
) -> None:
    folder = mlflow_models / "models" / "iris-pickle"
    parts = [("file", ("MLmodel", (folder / "MLmodel").read_bytes()))]
    parts.append(("files", ("model.pkl", (folder / "model.pkl").read_bytes())))
    response = httpx.post(
        f"{mlflow_server.url}/v1/admin/models/new-model/versions",
        files=parts,
        headers=mlflow_server.admin,
        timeout=60,
    )
    assert response.status_code == 403, response.text
    assert "allow_pickle_uploads" in response.json()["message"]
    assert not (mlflow_models / "models" / "new-model").exists()


def test_serve_one_mlflow_folder(
    start_server: StartServer,
    mlflow_models: Path,
    tmp_path: Path,
    expected: dict[str, Any],
    iris: pd.DataFrame,
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(mlflow_models / "models" / "iris-pickle", folder)
    server = start_server([str(folder)])
    server.wait_ready()
    assert [m["name"] for m in httpx.get(f"{server.url}/v1/models").json()["models"]] == ["model"]
    # /invocations serves the only model, as `mlflow models serve -m model` would.
    answer = invoke(scoring_client(server.url), iris)
    assert answer["predictions"] == expected["iris-pickle"]
    refused = httpx.post(
        f"{server.url}/v1/admin/models/model/versions",
        content=b"x",
        params={"filename": "model.onnx"},
        headers=server.admin,
    )
    assert refused.status_code == 409, refused.text
    assert "MLflow model folder" in refused.json()["message"]
