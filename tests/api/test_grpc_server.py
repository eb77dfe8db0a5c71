"""The V2 gRPC service inside the app's lifespan: typed contents, status codes, and HTTP
serving on when gRPC cannot (grpcio missing, port taken)."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from modelport.api.proto import grpc_predict_v2_pb2 as pb
from modelport.api.proto import grpc_predict_v2_pb2_grpc as pb_grpc

from .conftest import TEST_ADMIN_TOKEN, MakeClient

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def stub(make_client: MakeClient, iris_models: Path) -> Iterator[pb_grpc.GRPCInferenceServiceStub]:
    port = free_port()
    make_client(iris_models, grpc_port=port)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]


def infer_request(model: str, rows: list[list[float]], **extra: object) -> pb.ModelInferRequest:
    tensor = pb.ModelInferRequest.InferInputTensor(
        name="input-0",
        datatype="FP64",
        shape=[len(rows), 4],
        contents=pb.InferTensorContents(fp64_contents=[v for row in rows for v in row]),
    )
    return pb.ModelInferRequest(model_name=model, inputs=[tensor], **extra)  # type: ignore[arg-type]


def test_typed_contents_in_typed_contents_out(stub: pb_grpc.GRPCInferenceServiceStub) -> None:
    assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert stub.ServerReady(pb.ServerReadyRequest()).ready
    assert stub.ModelReady(pb.ModelReadyRequest(name="iris-lr", version="1")).ready
    outputs = [
        pb.ModelInferRequest.InferRequestedOutputTensor(name="predict"),
        pb.ModelInferRequest.InferRequestedOutputTensor(name="predict_proba"),
    ]
    answer = stub.ModelInfer(infer_request("iris-lr", [SETOSA, VIRGINICA], outputs=outputs, id="g"))
    assert answer.id == "g" and answer.model_version == "1"
    assert not answer.raw_output_contents
    predict, proba = answer.outputs
    assert list(predict.contents.bytes_contents) == [b"setosa", b"virginica"]
    assert list(proba.shape) == [2, 3]
    values = list(proba.contents.fp64_contents)
    assert sum(values[:3]) == pytest.approx(1.0) and sum(values[3:]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("request_", "code", "fragment"),
    [
        (infer_request("nope", [SETOSA]), grpc.StatusCode.NOT_FOUND, "'nope' not found"),
        (
            infer_request("iris-lr", [SETOSA], model_version="5"),
            grpc.StatusCode.NOT_FOUND,
            "no version '5'",
        ),
        (
            pb.ModelInferRequest(
                model_name="iris-lr",
                inputs=[
                    pb.ModelInferRequest.InferInputTensor(
                        name="x",
                        datatype="FP64",
                        shape=[1, 4],
                        contents=pb.InferTensorContents(fp32_contents=SETOSA),
                    )
                ],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "shape [1, 4] needs 4 value(s) but the contents hold 0",
        ),
        (
            pb.ModelInferRequest(
                model_name="iris-lr",
                inputs=[
                    pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP16", shape=[1])
                ],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "FP16 data travel only in raw_input_contents",
        ),
        (
            pb.ModelInferRequest(model_name="iris-lr", raw_input_contents=[b"\x00"]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "raw_input_contents has 1 entries for 0 inputs",
        ),
        (pb.ModelInferRequest(model_name="iris-lr"), grpc.StatusCode.INVALID_ARGUMENT, "no input"),
    ],
)
def test_status_codes(
    stub: pb_grpc.GRPCInferenceServiceStub,
    request_: pb.ModelInferRequest,
    code: grpc.StatusCode,
    fragment: str,
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request_)
    assert caught.value.code() == code
    assert fragment in caught.value.details()
    assert stub.ModelInfer(infer_request("iris-dt", [VIRGINICA])).outputs[0].contents.bytes_contents


def test_repository_rpcs(stub: pb_grpc.GRPCInferenceServiceStub) -> None:
    admin = (("authorization", f"Bearer {TEST_ADMIN_TOKEN}"),)
    unload = pb.RepositoryModelUnloadRequest(model_name="iris-dt")
    with pytest.raises(grpc.RpcError) as caught:
        stub.RepositoryModelUnload(unload)  # no token: no one in particular
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    stub.RepositoryModelUnload(unload, metadata=admin)
    index = stub.RepositoryIndex(pb.RepositoryIndexRequest()).models
    assert [(m.name, m.state, m.reason) for m in index] == [
        ("iris-dt", "UNAVAILABLE", "unloaded"),
        ("iris-lr", "READY", ""),
    ]
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelMetadata(pb.ModelMetadataRequest(name="iris-dt"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="iris-dt"), metadata=admin)
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name="iris-dt"))
    assert metadata.platform == "sklearn" and list(metadata.versions) == ["1"]
    refused = pb.RepositoryModelLoadRequest(
        model_name="iris-dt", parameters={"config": pb.ModelRepositoryParameter(string_param="{}")}
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.RepositoryModelLoad(refused, metadata=admin)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_http_serves_when_grpcio_is_missing(
    make_client: MakeClient,
    iris_models: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "modelport.api.grpc_server", None)
    with caplog.at_level(logging.WARNING, logger="modelport"):
        client = make_client(iris_models, grpc_port=free_port())
    assert "pip install 'modelport[grpc]'" in caplog.text
    assert client.get("/v2/health/ready").status_code == 200


def test_http_serves_when_the_grpc_port_is_taken(
    make_client: MakeClient, iris_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="modelport"):
            client = make_client(iris_models, grpc_port=port)
        assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
        assert "--grpc-port" in caplog.text
        assert client.get("/v2/health/live").status_code == 200


def test_messages_live_beside_tritonclients_own() -> None:
    """Both register "inference.*" messages; ours are in a pool of their own, so one
    process can import both, and the bytes on the wire are the same."""
    from tritonclient.grpc import service_pb2

    ours = infer_request("iris-lr", [SETOSA], id="w")
    theirs = service_pb2.ModelInferRequest.FromString(ours.SerializeToString())
    assert theirs.model_name == "iris-lr" and theirs.id == "w"
    assert list(theirs.inputs[0].contents.fp64_contents) == SETOSA
    assert pb.DESCRIPTOR.pool is not service_pb2.DESCRIPTOR.pool
