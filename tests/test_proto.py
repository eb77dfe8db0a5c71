"""The generated gRPC modules (make proto) and the grpc extra agree: no runtime the extra
allows is one the generated code refuses at import."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import modelport.api.proto

PROTO = Path(modelport.api.proto.__file__).parent
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _floor(package: str) -> tuple[int, ...]:
    extra = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["grpc"]
    for requirement in extra:
        found = re.fullmatch(rf"{package}>=([\d.]+)(,.*)?", requirement)
        if found:
            return _version(found.group(1))
    raise AssertionError(f"the grpc extra names no floor for {package}: {extra}")


def test_the_protobuf_floor_is_what_the_generated_messages_check() -> None:
    code = (PROTO / "grpc_predict_v2_pb2.py").read_text()
    # Code from grpcio-tools 1.63 on checks the runtime at import; older code does not.
    check = re.search(
        r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*"
        r"(\d+),\s*(\d+),\s*(\d+),",
        code,
    )
    if check is not None:
        assert _floor("protobuf") >= tuple(int(part) for part in check.groups())


def test_the_grpcio_floor_is_what_the_generated_service_checks() -> None:
    code = (PROTO / "grpc_predict_v2_pb2_grpc.py").read_text()
    check = re.search(r"GRPC_GENERATED_VERSION = '([\d.]+)'", code)
    if check is not None:
        assert _floor("grpcio") >= _version(check.group(1))


def test_the_messages_live_in_a_descriptor_pool_of_their_own() -> None:
    # make proto's sed: tritonclient and others register the same "inference.*" names
    # in protobuf's default pool.
    code = (PROTO / "grpc_predict_v2_pb2.py").read_text()
    assert "_descriptor_pool.DescriptorPool().AddSerializedFile(" in code
    assert "_descriptor_pool.Default()" not in code


def test_the_generated_code_checks_no_runtime_version() -> None:
    # What lets modelport[grpc] install beside clients that pin another protobuf major
    # (make compat serves gRPC under both ends of the range): make proto's pinned
    # generator writes no version checks, a newer one would.
    messages = (PROTO / "grpc_predict_v2_pb2.py").read_text()
    service = (PROTO / "grpc_predict_v2_pb2_grpc.py").read_text()
    assert "ValidateProtobufRuntimeVersion" not in messages
    assert "GRPC_GENERATED_VERSION" not in service
