"""The native API over real HTTP: listing, metadata and every accepted payload shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
RECORDS = [dict(zip(NAMES, row, strict=True)) for row in (SETOSA, VIRGINICA)]
COLUMNS = {name: [a, b] for name, a, b in zip(NAMES, SETOSA, VIRGINICA, strict=True)}

pytestmark = pytest.mark.e2e


def test_health(client: httpx.Client) -> None:
    assert client.get("/health/live").json() == {"status": "live"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["models"]["iris-lr"] == "ready"
    assert ready.json()["models"]["broken"] == "failed"


def test_list_models_reports_ready_and_failed(client: httpx.Client) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    # The bare file lr_iris.model is listed without its ending.
    assert set(models) == {"broken", "iris-dt", "iris-lr", "loan-rf", "lr_iris", "quirky"}
    assert models["iris-lr"]["ready"] is True
    assert models["iris-lr"]["versions"][0]["runtime"] == "sklearn"
    broken = models["broken"]
    assert broken["state"] == "failed"
    assert broken["versions"][0]["state"] == "failed"
    assert "not a readable pickle" in broken["error"]


def test_model_and_version_metadata(client: httpx.Client) -> None:
    info = client.get("/v1/models/iris-lr").json()
    assert info["latest_version"] == 1
    assert [f["name"] for f in info["signature"]["inputs"]] == NAMES
    assert info["signature"]["labels"] == ["setosa", "versicolor", "virginica"]
    version = client.get("/v1/models/iris-lr/versions/1").json()
    assert version["version"] == 1
    assert version["signature"]["n_features"] == 4
    assert client.get("/v1/models/iris-lr/versions/latest").json()["version"] == 1
    failed = client.get("/v1/models/broken/versions/1").json()
    assert failed["state"] == "failed"
    assert failed["signature"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [SETOSA, VIRGINICA]},
        {"inputs": [SETOSA, VIRGINICA]},
        {"instances": RECORDS},
        {"inputs": COLUMNS},
        {"dataframe_split": {"columns": NAMES, "data": [SETOSA, VIRGINICA]}},
        {
            "dataframe_split": {
                "columns": NAMES[::-1],
                "data": [SETOSA[::-1], VIRGINICA[::-1]],
                "index": [0, 1],
            }
        },
        {"dataframe_records": RECORDS},
    ],
    ids=["rows", "inputs-rows", "records", "columns", "split", "split-reordered", "df-records"],
)
@pytest.mark.parametrize("model", ["iris-lr", "iris-dt"])
def test_every_payload_shape_predicts_labels(
    client: httpx.Client, model: str, body: dict[str, Any]
) -> None:
    response = client.post(f"/v1/models/{model}:predict", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model_name": model,
        "model_version": 1,
        "predictions": ["setosa", "virginica"],
    }


def test_versioned_predict(client: httpx.Client) -> None:
    for version in ("1", "latest"):
        response = client.post(
            f"/v1/models/iris-lr/versions/{version}:predict", json={"instances": [SETOSA]}
        )
        assert response.json()["predictions"] == ["setosa"]


def test_probabilities_by_parameter_and_query(client: httpx.Client) -> None:
    body = {"instances": [SETOSA], "parameters": {"probabilities": True}}
    by_param = client.post("/v1/models/iris-lr:predict", json=body).json()
    by_query = client.post(
        "/v1/models/iris-lr:predict?probabilities=true", json={"instances": [SETOSA]}
    ).json()
    for answer in (by_param, by_query):
        (row,) = answer["probabilities"]
        assert set(row) == {"setosa", "versicolor", "virginica"}
        assert sum(row.values()) == pytest.approx(1.0)
        assert max(row, key=row.__getitem__) == "setosa"
    plain = client.post("/v1/models/iris-lr:predict", json={"instances": [SETOSA]}).json()
    assert "probabilities" not in plain


def test_bare_file_model_is_served_positionally(client: httpx.Client) -> None:
    info = client.get("/v1/models/lr_iris").json()
    assert info["signature"]["inputs"] is None
    assert info["signature"]["n_features"] == 4
    response = client.post("/v1/models/lr_iris:predict", json={"instances": [VIRGINICA]})
    # No model.yaml: the classes are the integers the model was fitted with.
    assert response.json()["predictions"] == [2]


@pytest.mark.parametrize("name", ["lr_iris", "lr_iris.model"])
def test_a_bare_file_answers_to_its_name_with_and_without_the_ending(
    client: httpx.Client, name: str
) -> None:
    # A client written when the model was served as "lr_iris.model" keeps working.
    response = client.post(f"/v1/models/{name}:predict", json={"instances": [VIRGINICA]})
    assert response.status_code == 200
    assert response.json()["model_name"] == "lr_iris"
    assert client.get(f"/v1/models/{name}").json()["name"] == "lr_iris"


def test_many_rows_in_one_request(client: httpx.Client) -> None:
    rows = [SETOSA, VIRGINICA] * 500
    response = client.post("/v1/models/iris-lr:predict", json={"instances": rows})
    assert response.status_code == 200
    assert response.json()["predictions"] == ["setosa", "virginica"] * 500


def test_request_id_is_echoed_or_made(client: httpx.Client) -> None:
    assert (
        client.get("/health/live", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"]
        == "abc-1"
    )
    assert len(client.get("/health/live").headers["x-request-id"]) == 32
