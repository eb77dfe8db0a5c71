"""Open Inference Protocol V2 over REST against the real server, with the client users
have: tritonclient.http (binary tensors by default, and JSON), plus malformed requests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from .conftest import Server, StartServer

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = np.array([SETOSA, VIRGINICA])
HEADER = "Inference-Header-Content-Length"

pytestmark = pytest.mark.e2e


@pytest.fixture
def triton_client(shared_server: Server) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(shared_server.url.removeprefix("http://"))
    yield client
    client.close()


def matrix_input(rows: np.ndarray, datatype: str = "FP32", binary: bool = True) -> Any:
    tensor = triton.InferInput("input-0", list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows, binary_data=binary)
    return tensor


def test_health_and_metadata(triton_client: triton.InferenceServerClient) -> None:
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.is_model_ready("iris-lr")
    assert triton_client.is_model_ready("iris-lr", "1")
    assert not triton_client.is_model_ready("broken")
    assert "binary_tensor_data" in triton_client.get_server_metadata()["extensions"]
    metadata = triton_client.get_model_metadata("iris-dt", "1")
    assert [t["name"] for t in metadata["inputs"]] == NAMES
    assert [t["name"] for t in metadata["outputs"]] == ["predict", "predict_proba"]
    bare = triton_client.get_model_metadata("lr_iris.model")
    assert bare["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert bare["outputs"][0] == {"name": "predict", "datatype": "INT64", "shape": [-1]}


@pytest.mark.parametrize("model", ["iris-lr", "iris-dt"])
def test_default_binary_settings(triton_client: triton.InferenceServerClient, model: str) -> None:
    result = triton_client.infer(model, [matrix_input(ROWS.astype(np.float32))])
    assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
    assert result.get_response()["outputs"][0]["parameters"]["binary_data_size"] > 0


@pytest.mark.parametrize("model", ["iris-lr", "iris-dt"])
def test_predict_proba_and_request_id(
    triton_client: triton.InferenceServerClient, model: str
) -> None:
    outputs = [triton.InferRequestedOutput("predict"), triton.InferRequestedOutput("predict_proba")]
    result = triton_client.infer(
        model, [matrix_input(ROWS.astype(np.float32))], outputs=outputs, request_id="id-7"
    )
    assert result.get_response()["id"] == "id-7"
    assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
    proba = result.as_numpy("predict_proba")
    assert proba.dtype == np.float64 and proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba.argmax(axis=1).tolist() == [0, 2]


def test_json_tensors(triton_client: triton.InferenceServerClient) -> None:
    outputs = [
        triton.InferRequestedOutput("predict", binary_data=False),
        triton.InferRequestedOutput("predict_proba", binary_data=False),
    ]
    result = triton_client.infer(
        "iris-lr", [matrix_input(ROWS, "FP64", binary=False)], outputs=outputs, model_version="1"
    )
    response = result.get_response()
    assert response["model_version"] == "1"
    assert response["outputs"][0]["data"] == ["setosa", "virginica"]
    np.testing.assert_allclose(result.as_numpy("predict_proba").sum(axis=1), 1.0)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize(
    "datatype", ["FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT64"]
)
def test_every_numeric_datatype(
    triton_client: triton.InferenceServerClient, datatype: str, binary: bool
) -> None:
    integral = datatype.startswith(("INT", "UINT"))
    rows = np.array([[5, 3, 1, 0], [7, 3, 5, 2]]) if integral else ROWS
    dtype = triton.triton_to_np_dtype(datatype)
    result = triton_client.infer("iris-lr", [matrix_input(rows.astype(dtype), datatype, binary)])
    assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]


def test_one_tensor_per_feature(triton_client: triton.InferenceServerClient) -> None:
    tensors = []
    for j, name in enumerate(NAMES):
        tensor = triton.InferInput(name, [2], "FP64")
        tensor.set_data_from_numpy(ROWS[:, j].copy())
        tensors.append(tensor)
    result = triton_client.infer("iris-dt", tensors)
    assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]


LOAN = {
    "Gender": "Male",
    "Married": "Yes",
    "Dependents": "0",
    "Education": "Graduate",
    "Self_Employed": "No",
    "ApplicantIncome": 5720.0,
    "CoapplicantIncome": 0.0,
    "LoanAmount": 110.0,
    "Loan_Amount_Term": 360.0,
    "Credit_History": 1.0,
    "Property_Area": "Urban",
}


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_bytes_features(
    triton_client: triton.InferenceServerClient, client: httpx.Client, binary: bool
) -> None:
    tensors = []
    for name, value in LOAN.items():
        is_text = isinstance(value, str)
        array = np.array([value], dtype=object if is_text else np.float64)
        tensor = triton.InferInput(name, [1], "BYTES" if is_text else "FP64")
        tensor.set_data_from_numpy(array, binary_data=binary)
        tensors.append(tensor)
    result = triton_client.infer("loan-rf", tensors)
    native = client.post("/v1/models/loan-rf:predict", json={"instances": [LOAN]}).json()
    expected = native["predictions"][0]
    assert result.as_numpy("predict").tolist() == [str(expected).encode()]


def test_integer_labels(triton_client: triton.InferenceServerClient) -> None:
    result = triton_client.infer("lr_iris.model", [matrix_input(ROWS, "FP64")])
    assert result.as_numpy("predict").tolist() == [0, 2]


def test_errors_reach_tritonclient(triton_client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("iris-lr", [matrix_input(ROWS[:, :3].astype(np.float32))])
    assert caught.value.status() == "400"
    assert "takes 4 features" in caught.value.message()
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("nope", [matrix_input(ROWS.astype(np.float32))])
    assert caught.value.status() == "404"
    with pytest.raises(InferenceServerException) as caught:
        triton_client.get_model_metadata("iris-lr", "3")
    assert caught.value.status() == "404"


def good() -> dict[str, Any]:
    return {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": SETOSA}]}


def with_input(**changes: Any) -> dict[str, Any]:
    return {"inputs": [{**good()["inputs"][0], **changes}]}


@pytest.mark.parametrize(
    ("content", "headers", "fragment"),
    [
        (with_input(shape=[2, 4]), {}, "shape [2, 4] needs 8 value(s) but data holds 4"),
        (with_input(datatype="FP8"), {}, "unknown datatype 'FP8'"),
        (with_input(datatype="BYTES", data=["a", "b", "c", "d"]), {}, "expected a number"),
        (with_input(data=["5.1", "3.5", "1.4", "0.2"]), {}, "needs numbers"),
        ({"inputs": []}, {}, "no inputs"),
        ({"id": "1"}, {}, "no inputs"),
        (good(), {HEADER: "5"}, "not valid JSON"),
        (good(), {HEADER: "99999"}, "JSON part), got '99999'"),
        (good(), {HEADER: "-1"}, f"{HEADER} must be a whole number between 0 and"),
    ],
)
def test_malformed_requests_are_400(
    client: httpx.Client, content: dict[str, Any], headers: dict[str, str], fragment: str
) -> None:
    response = client.post(
        "/v2/models/iris-lr/infer", content=orjson.dumps(content), headers=headers
    )
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["error"]
    assert fragment in response.json()["error"]
    still = client.post("/v2/models/iris-lr/infer", json=good())
    assert still.json()["outputs"][0]["data"] == ["setosa"]


def test_binary_sizes_that_do_not_add_up_are_400(client: httpx.Client) -> None:
    raw = np.array([SETOSA], dtype=np.float32).tobytes()
    spec = {
        "name": "x",
        "datatype": "FP32",
        "shape": [1, 4],
        "parameters": {"binary_data_size": 16},
    }
    header = orjson.dumps({"inputs": [spec]})
    for body, length, fragment in [
        (header + raw + b"\x00", len(header), "belong to no input"),
        (header + raw[:8], len(header), "runs past"),
        (header + raw, len(header) + 4, "not valid JSON"),
    ]:
        response = client.post(
            "/v2/models/iris-lr/infer", content=body, headers={HEADER: str(length)}
        )
        assert response.status_code == 400, response.text
        assert fragment in response.json()["error"]
    ok = client.post(
        "/v2/models/iris-lr/infer", content=header + raw, headers={HEADER: str(len(header))}
    )
    assert ok.json()["outputs"][0]["data"] == ["setosa"]


def test_unknown_model_and_version_are_404(client: httpx.Client) -> None:
    for path in ("/v2/models/nope/infer", "/v2/models/iris-lr/versions/2/infer"):
        response = client.post(path, json=good())
        assert response.status_code == 404
        assert list(response.json()) == ["error"]
    assert client.get("/v2/models/nope/ready").status_code == 404


def test_repository_extension(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    for name in ("iris-lr", "iris-dt"):
        shutil.copytree(trained_models / name, models / name)
    server = start_server([str(models)])
    server.wait_ready()
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        index = client.get_model_repository_index()
        assert [(m["name"], m["state"]) for m in index] == [
            ("iris-dt", "READY"),
            ("iris-lr", "READY"),
        ]
        client.unload_model("iris-dt", headers=server.admin)
        assert not client.is_model_ready("iris-dt")
        with pytest.raises(InferenceServerException) as caught:
            client.get_model_metadata("iris-dt")
        assert caught.value.status() == "404"
        assert {"name": "iris-dt", "state": "UNAVAILABLE", "reason": "unloaded"} in (
            client.get_model_repository_index()
        )
        client.load_model("iris-dt", headers=server.admin)
        result = client.infer("iris-dt", [matrix_input(ROWS.astype(np.float32))])
        assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
        with pytest.raises(InferenceServerException) as caught:
            client.load_model("nope", headers=server.admin)
        assert caught.value.status() == "404"
    finally:
        client.close()


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests(triton_client: triton.InferenceServerClient, algorithm: str) -> None:
    result = triton_client.infer(
        "iris-lr",
        [matrix_input(ROWS.astype(np.float32))],
        request_compression_algorithm=algorithm,
    )
    assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
