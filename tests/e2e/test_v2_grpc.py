"""Open Inference Protocol V2 over gRPC against the real server, with tritonclient.grpc
(raw tensor contents, its default) and with typed contents through tritonclient's own
generated messages: an independent copy of the proto, so the wire format is checked."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from .conftest import Server, StartServer

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = np.array([SETOSA, VIRGINICA])

pytestmark = pytest.mark.e2e


@pytest.fixture
def triton_client(shared_server: Server) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(shared_server.grpc_target)
    yield client
    client.close()


@pytest.fixture
def stub(shared_server: Server) -> Iterator[Any]:
    with grpc.insecure_channel(shared_server.grpc_target) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def matrix_input(rows: np.ndarray, datatype: str = "FP32") -> Any:
    tensor = triton.InferInput("input-0", list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows)
    return tensor


def test_health_and_metadata(triton_client: triton.InferenceServerClient) -> None:
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.is_model_ready("iris-lr")
    assert triton_client.is_model_ready("iris-lr", "1")
    assert not triton_client.is_model_ready("broken")
    server = triton_client.get_server_metadata(as_json=True)
    assert server["name"] == "modelport"
    assert "model_repository" in server["extensions"]
    metadata = triton_client.get_model_metadata("iris-lr", as_json=True)
    assert metadata["platform"] == "sklearn"
    assert [t["name"] for t in metadata["inputs"]] == NAMES
    assert metadata["outputs"][1] == {
        "name": "predict_proba",
        "datatype": "FP64",
        "shape": ["-1", "3"],
    }


@pytest.mark.parametrize("model", ["iris-lr", "iris-dt"])
def test_infer_with_raw_contents(triton_client: triton.InferenceServerClient, model: str) -> None:
    outputs = [triton.InferRequestedOutput("predict"), triton.InferRequestedOutput("predict_proba")]
    result = triton_client.infer(
        model, [matrix_input(ROWS.astype(np.float32))], outputs=outputs, request_id="g-1"
    )
    response = result.get_response()
    assert response.id == "g-1"
    assert response.model_version == "1"
    assert len(response.raw_output_contents) == 2
    assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
    proba = result.as_numpy("predict_proba")
    assert proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("datatype", ["FP16", "FP64", "INT32", "INT64", "UINT8"])
def test_every_numeric_datatype(triton_client: triton.InferenceServerClient, datatype: str) -> None:
    integral = datatype.startswith(("INT", "UINT"))
    rows = np.array([[5, 3, 1, 0], [7, 3, 5, 2]]) if integral else ROWS
    dtype = triton.triton_to_np_dtype(datatype)
    result = triton_client.infer("iris-dt", [matrix_input(rows.astype(dtype), datatype)])
    assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]


def test_one_tensor_per_feature_and_bytes(triton_client: triton.InferenceServerClient) -> None:
    tensors = []
    for j, name in enumerate(NAMES):
        tensor = triton.InferInput(name, [2], "FP64")
        tensor.set_data_from_numpy(ROWS[:, j].copy())
        tensors.append(tensor)
    assert triton_client.infer("iris-lr", tensors).as_numpy("predict").tolist() == [
        b"setosa",
        b"virginica",
    ]
    text = triton.InferInput("input-0", [1, 4], "BYTES")
    text.set_data_from_numpy(np.array([["a", "b", "c", "d"]], dtype=object))
    with pytest.raises(InferenceServerException) as caught:
        triton_client.infer("iris-lr", [text])
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "expected a number" in caught.value.message()


def typed_request(model: str, **tensor: Any) -> Any:
    spec = {"name": "input-0", "datatype": "FP64", "shape": [2, 4], **tensor}
    if "contents" not in spec:
        spec["contents"] = service_pb2.InferTensorContents(fp64_contents=ROWS.reshape(-1).tolist())
    return service_pb2.ModelInferRequest(
        model_name=model, inputs=[service_pb2.ModelInferRequest.InferInputTensor(**spec)]
    )


def test_typed_contents(stub: Any) -> None:
    answer = stub.ModelInfer(typed_request("iris-lr"))
    assert not answer.raw_output_contents
    assert list(answer.outputs[0].contents.bytes_contents) == [b"setosa", b"virginica"]
    ints = service_pb2.InferTensorContents(int_contents=[5, 3, 1, 0])
    answer = stub.ModelInfer(
        typed_request("iris-lr", datatype="INT32", shape=[1, 4], contents=ints)
    )
    assert list(answer.outputs[0].contents.bytes_contents) == [b"setosa"]
    bare = stub.ModelInfer(typed_request("lr_iris.model"))
    assert bare.outputs[0].datatype == "INT64"
    assert list(bare.outputs[0].contents.int64_contents) == [0, 2]


@pytest.mark.parametrize(
    ("request_", "code", "fragment"),
    [
        (typed_request("nope"), grpc.StatusCode.NOT_FOUND, "not found"),
        (typed_request("iris-lr", shape=[3, 4]), grpc.StatusCode.INVALID_ARGUMENT, "needs 12"),
        (typed_request("iris-lr", datatype="FP8"), grpc.StatusCode.INVALID_ARGUMENT, "FP8"),
        (
            typed_request(
                "iris-lr",
                datatype="BYTES",
                shape=[1, 1],
                contents=service_pb2.InferTensorContents(bytes_contents=[b"x"]),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "takes 4 features",
        ),
        (
            service_pb2.ModelInferRequest(model_name="iris-lr"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "no input tensors",
        ),
        (
            service_pb2.ModelInferRequest(model_name="broken", inputs=typed_request("x").inputs),
            grpc.StatusCode.UNAVAILABLE,
            "no ready version",
        ),
    ],
)
def test_status_codes(stub: Any, request_: Any, code: grpc.StatusCode, fragment: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request_)
    assert caught.value.code() == code
    assert fragment in caught.value.details()
    assert stub.ServerLive(service_pb2.ServerLiveRequest()).live


def test_metadata_errors(stub: Any) -> None:
    for request in (
        service_pb2.ModelMetadataRequest(name="nope"),
        service_pb2.ModelMetadataRequest(name="iris-lr", version="4"),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.ModelMetadata(request)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # Readiness is a yes/no question: an unknown model is simply not ready.
    assert not stub.ModelReady(service_pb2.ModelReadyRequest(name="nope")).ready


def iris_only(trained_models: Path, tmp_path: Path) -> Path:
    models = tmp_path / "models"
    for name in ("iris-lr", "iris-dt"):
        shutil.copytree(trained_models / name, models / name)
    return models


def test_repository_rpcs(start_server: StartServer, trained_models: Path, tmp_path: Path) -> None:
    server = start_server([str(iris_only(trained_models, tmp_path))])
    server.wait_ready()
    client = triton.InferenceServerClient(server.grpc_target)
    try:
        index = client.get_model_repository_index(as_json=True)["models"]
        assert [(m["name"], m["state"]) for m in index] == [
            ("iris-dt", "READY"),
            ("iris-lr", "READY"),
        ]
        admin = {"authorization": f"Bearer {server.admin_token}"}
        client.unload_model("iris-lr", headers=admin)
        assert not client.is_model_ready("iris-lr")
        index = client.get_model_repository_index(as_json=True)["models"]
        assert {"name": "iris-lr", "state": "UNAVAILABLE", "reason": "unloaded"} in index
        client.load_model("iris-lr", headers=admin)
        assert client.is_model_ready("iris-lr")
        result = client.infer("iris-lr", [matrix_input(ROWS.astype(np.float32))])
        assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
    finally:
        client.close()


def test_every_worker_serves_grpc(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    server = start_server([str(iris_only(trained_models, tmp_path)), "--workers", "2"])
    server.wait_ready()
    answered, deadline = 0, time.monotonic() + 60
    while answered < 6:  # new connections, spread by the kernel over the workers
        client = triton.InferenceServerClient(server.grpc_target)
        try:
            result = client.infer("iris-lr", [matrix_input(ROWS.astype(np.float32))])
        except InferenceServerException as exc:
            # The other worker may still be loading its models.
            assert exc.status() == "StatusCode.UNAVAILABLE" and time.monotonic() < deadline
            time.sleep(0.2)
            continue
        finally:
            client.close()
        assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
        answered += 1
    # Each worker starts its gRPC server once its own models are loaded.
    while server.log().count("Open Inference Protocol gRPC on") < 2:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.2)
    assert "gRPC is off" not in server.log()


def test_repository_rpcs_need_the_admin_token_and_infer_the_api_token(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    server = start_server(
        [str(iris_only(trained_models, tmp_path)), "--admin-token", "adm", "--api-token", "api"]
    )
    server.wait_ready()
    client = triton.InferenceServerClient(server.grpc_target)
    try:
        with pytest.raises(InferenceServerException) as refused:
            client.unload_model("iris-lr")
        assert refused.value.status() == "StatusCode.UNAUTHENTICATED"
        with pytest.raises(InferenceServerException) as wrong:
            client.unload_model("iris-lr", headers={"authorization": "Bearer api"})
        assert wrong.value.status() == "StatusCode.PERMISSION_DENIED"
        with pytest.raises(InferenceServerException) as no_api_token:
            client.infer("iris-lr", [matrix_input(ROWS.astype(np.float32))])
        assert no_api_token.value.status() == "StatusCode.UNAUTHENTICATED"
        api = {"authorization": "Bearer api"}
        client.unload_model("iris-lr", headers={"authorization": "Bearer adm"})
        assert not client.is_model_ready("iris-lr", headers=api)
        client.load_model("iris-lr", headers={"authorization": "Bearer adm"})
        result = client.infer("iris-lr", [matrix_input(ROWS.astype(np.float32))], headers=api)
        assert result.as_numpy("predict").tolist() == [b"setosa", b"virginica"]
    finally:
        client.close()
