"""The standard gRPC services beside the V2 one, used as a Kubernetes probe,
``grpc_health_probe`` and ``grpcurl`` use them: health checking per server and per
model, and reflection good enough to call ModelInfer without the ``.proto`` file."""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _check(target: str, service: str, token: str | None = None) -> int:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = stub.Check(
            health_pb2.HealthCheckRequest(service=service), metadata=metadata, timeout=10
        )
        return int(answer.status)


def test_health_of_the_server_and_of_each_model(shared_server: Server) -> None:
    target = shared_server.grpc_target
    # What a Kubernetes gRPC probe asks (the empty name), and the V2 service by name.
    assert _check(target, "") == SERVING
    assert _check(target, "inference.GRPCInferenceService") == SERVING
    assert _check(target, "iris-lr") == SERVING
    # A model that failed to load does not serve; an unknown name is not found.
    assert _check(target, "broken") == NOT_SERVING
    with pytest.raises(grpc.RpcError) as unknown:
        _check(target, "no-such-model")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_per_model_health_needs_the_api_token_when_one_is_set(
    start_server: StartServer, model_dir: Path
) -> None:
    server = start_server([str(model_dir)], env={"MODELPORT_API_TOKEN": "api-t"})
    server.wait_ready()
    # Probes send no token: the server-wide answer stays open.
    assert _check(server.grpc_target, "") == SERVING
    with pytest.raises(grpc.RpcError) as refused:
        _check(server.grpc_target, "iris-lr")
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as wrong:
        _check(server.grpc_target, "iris-lr", token="not-it")
    assert wrong.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _check(server.grpc_target, "iris-lr", token="api-t") == SERVING


def test_watch_sees_a_model_dropped_into_the_folder(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    spare = tmp_path / "spare"
    shutil.move(model_dir / "iris-dt", spare)
    server = start_server([str(model_dir), "--watch"])
    server.wait_ready()
    seen: queue.Queue[int] = queue.Queue()
    channel = grpc.insecure_channel(server.grpc_target)
    stream = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service="iris-dt"), timeout=60
    )

    def follow() -> None:
        try:
            for answer in stream:
                seen.put(int(answer.status))
        except grpc.RpcError:
            pass  # cancelled below, or the 60 s deadline

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        assert seen.get(timeout=30) == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        shutil.move(spare, model_dir / "iris-dt")
        assert seen.get(timeout=45) == SERVING
    finally:
        stream.cancel()
        channel.close()
        reader.join(timeout=10)


def test_reflection_is_enough_to_call_model_infer(shared_server: Server) -> None:
    with grpc.insecure_channel(shared_server.grpc_target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {
            "inference.GRPCInferenceService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        } <= services
        # As grpcurl does: every type from the server, none from a local .proto.
        pool = descriptor_pool.DescriptorPool(database)
        method = pool.FindServiceByName("inference.GRPCInferenceService").FindMethodByName(
            "ModelInfer"
        )
        request_class = message_factory.GetMessageClass(method.input_type)
        answer_class = message_factory.GetMessageClass(method.output_type)
        request = request_class(model_name="iris-lr")
        tensor = request.inputs.add(name="input-0", datatype="FP64", shape=[1, 4])
        tensor.contents.fp64_contents.extend([5.1, 3.5, 1.4, 0.2])
        call = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=answer_class.FromString,
        )
        answer = call(request, timeout=10)
    predict = next(output for output in answer.outputs if output.name == "predict")
    assert list(predict.contents.bytes_contents) == [b"setosa"]
