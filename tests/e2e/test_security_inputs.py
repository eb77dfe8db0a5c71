"""Hostile input against the real server: every bad request gets a short JSON 4xx (or a
gRPC INVALID_ARGUMENT), never a 500, and the server keeps serving; no client text forges
a log line; public answers hold no server path and no database detail; the response
cache never answers one input with another's result."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from services import free_port

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e

ADMIN = "security-inputs-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
HUGE = "9" * 5000
SETOSA = [5.1, 3.5, 1.4, 0.2]
#: The start of a log line the attacker would like to see written.
FORGED = "INFO:     modelport.registry: FORGED"
#: The model name that tries to write it (%0A: a newline in the URL's path).
NEWLINE_NAME = "iris-lr%0A" + FORGED.replace(" ", "%20")
#: A home folder outside MODEL_DIR, named in a load failure.
SECRET_HOME = "/home/modelport-secret-user/settings.cfg"
INT64_MAX = 2**63 - 1
V2_LENGTH = "Inference-Header-Content-Length"
#: Answers to bad input stay this short, whatever the input's size.
SHORT = 1000


@pytest.fixture(scope="module")
def models(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris-lr; a broken ONNX file; a model whose load failure names a home folder; and
    'echo', a function model that answers with the exact float it got (a DataFrame input)."""
    folder = tmp_path_factory.mktemp("security-inputs") / "models"
    shutil.copytree(trained_models / "iris-lr", folder / "iris-lr")
    (folder / "bad-onnx" / "1").mkdir(parents=True)
    (folder / "bad-onnx" / "1" / "model.onnx").write_bytes(b"this is not an ONNX model")
    (folder / "leaky" / "1").mkdir(parents=True)
    (folder / "leaky" / "1" / "model.py").write_text(f"open({SECRET_HOME!r})\n")
    (folder / "echo" / "1").mkdir(parents=True)
    (folder / "echo" / "1" / "model.py").write_text(
        "def predict(x: float, tag: str) -> str:\n    return f'{x!r} {tag}'\n"
    )
    return folder


@pytest.fixture(scope="module")
def server(models: Path) -> Iterator[Server]:
    args = [str(models), "--cache", "--admin-token", ADMIN, "--max-body-size", str(16 << 20)]
    running = Server(args, cwd=models.parent)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    before = len(server.log())
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client
    # Whatever the test sent: no 500 was logged, and the server still predicts.
    assert "unhandled error" not in server.log()[before:]
    assert_still_serving(server)


@pytest.fixture
def stub(server: Server) -> Iterator[Any]:
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def assert_still_serving(server: Server) -> None:
    answer = httpx.post(
        f"{server.url}/v1/models/iris-lr:predict", json={"instances": [SETOSA]}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == ["setosa"]


def assert_client_error(answer: httpx.Response, status: int = 400) -> str:
    """A JSON error of ``status``, short; returns its message."""
    assert answer.status_code == status, answer.text[:SHORT]
    assert answer.headers["content-type"].startswith("application/json")
    assert len(answer.content) < SHORT, answer.text[:SHORT]
    body = answer.json()
    message = body.get("message", body.get("error"))
    assert isinstance(message, str)
    return message


def v2_body(shape: list[int], data: list[Any], datatype: str = "FP64") -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "datatype": datatype, "shape": shape, "data": data}]}


def grpc_infer(version: str = "", shape: tuple[int, ...] = (1, 4), raw: bool = False) -> Any:
    request = service_pb2.ModelInferRequest(model_name="iris-lr", model_version=version)
    tensor = request.inputs.add(name="input-0", datatype="FP64", shape=list(shape))
    if raw:
        request.raw_input_contents.append(b"")
    elif shape == (1, 4):
        tensor.contents.fp64_contents.extend(SETOSA)
    return request


def grpc_error(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30)
    return caught.value


# -- 8. numbers too long for int(), shapes too big for NumPy ------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"/v1/models/iris-lr/versions/{HUGE}:predict", {"instances": [SETOSA]}),
        ("GET", f"/v1/models/iris-lr/versions/{HUGE}", None),
        ("POST", f"/v2/models/iris-lr/versions/{HUGE}/infer", v2_body([1, 4], SETOSA)),
        ("GET", f"/v2/models/iris-lr/versions/{HUGE}", None),
        ("GET", f"/v2/models/iris-lr/versions/{HUGE}/ready", None),
        ("POST", f"/v1/models/iris-lr/versions/{INT64_MAX + 1}:predict", {"instances": [SETOSA]}),
    ],
)
def test_a_version_too_long_for_int_is_a_400(
    http: httpx.Client, method: str, path: str, body: Any
) -> None:
    message = assert_client_error(http.request(method, path, json=body))
    assert "version must be a whole number between 0 and 9223372036854775807" in message
    assert "(5,000 characters)" in message or str(INT64_MAX + 1) in message


def test_the_largest_version_number_is_just_not_found(http: httpx.Client) -> None:
    answer = http.post(f"/v1/models/iris-lr/versions/{INT64_MAX}:predict", json={"instances": []})
    assert "has no version '9223372036854775807'" in assert_client_error(answer, 404)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/models/iris-lr/predictions", {"version": HUGE}),
        ("/v1/models/iris-lr/predictions", {"limit": HUGE}),
        ("/v1/models/iris-lr/predictions", {"since": "2026-01-01", "after_id": HUGE}),
    ],
)
def test_admin_numbers_too_long_for_int_are_a_400(
    http: httpx.Client, path: str, params: dict[str, str]
) -> None:
    message = assert_client_error(http.get(path, params=params, headers=AUTH))
    assert "must be a whole number between" in message
    assert "(5,000 characters)" in message


def test_an_admin_version_too_long_for_int_is_refused(http: httpx.Client) -> None:
    answer = http.delete(f"/v1/admin/models/iris-lr/versions/{HUGE}", headers=AUTH)
    assert "version" in assert_client_error(answer, 422)


@pytest.mark.parametrize(
    "length",
    # Bytes as sent; the server reads headers as latin-1 (b"\xb2" is "²", a digit to
    # str.isdigit() that int() refuses).
    [HUGE.encode(), "\u0661\u0662".encode(), b"\xb2", b"12 34", b"-1", b"0x10"],
)
def test_a_binary_header_length_that_is_no_size_is_a_400(http: httpx.Client, length: bytes) -> None:
    answer = http.post(
        "/v2/models/iris-lr/infer",
        content=b'{"inputs": []}',
        headers={V2_LENGTH.encode(): length},
    )
    message = assert_client_error(answer)
    assert "Inference-Header-Content-Length must be a whole number between 0 and 14" in message


@pytest.mark.parametrize(
    "shape",
    [
        [0, INT64_MAX],
        [INT64_MAX, 0],
        [0, 2**40, 2**40],
        [0, INT64_MAX + 1],
        [0] * 40,
        [-1, 4],
    ],
)
def test_a_shape_numpy_cannot_make_is_a_400(http: httpx.Client, shape: list[int]) -> None:
    message = assert_client_error(http.post("/v2/models/iris-lr/infer", json=v2_body(shape, [])))
    assert "input 'input-0': shape" in message


def test_a_huge_shape_in_the_binary_extension_is_a_400(http: httpx.Client) -> None:
    spec = v2_body([0, INT64_MAX], [])
    del spec["inputs"][0]["data"]
    spec["inputs"][0]["parameters"] = {"binary_data_size": 0}
    header = httpx.Request("POST", "/", json=spec).content
    answer = http.post(
        "/v2/models/iris-lr/infer",
        content=header,
        headers={V2_LENGTH: str(len(header))},
    )
    assert "describes more than" in assert_client_error(answer)


def test_grpc_versions_and_shapes_are_invalid_arguments(server: Server, stub: Any) -> None:
    for request in [
        grpc_infer(version=HUGE),
        grpc_infer(version=str(INT64_MAX + 1)),
        grpc_infer(shape=(0, INT64_MAX)),
        grpc_infer(shape=(0, INT64_MAX), raw=True),
        grpc_infer(shape=(0, 2**40, 2**40)),
        grpc_infer(shape=(1,) * 40),
    ]:
        error = grpc_error(stub.ModelInfer, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        assert len(error.details()) < SHORT
    metadata = service_pb2.ModelMetadataRequest(name="iris-lr", version=HUGE)
    error = grpc_error(stub.ModelMetadata, metadata)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "version must be a whole number" in error.details()
    # Still answering, over gRPC too.
    answer = stub.ModelInfer(grpc_infer(), timeout=30)
    assert answer.model_name == "iris-lr"
    assert "unhandled error" not in server.log()
    assert_still_serving(server)


# -- 8. forged log lines -----------------------------------------------------------------


def test_a_newline_in_a_model_name_forges_no_log_line(
    server: Server, http: httpx.Client, stub: Any
) -> None:
    predict = {"instances": [SETOSA]}
    huge_shape = v2_body([0, INT64_MAX], [])  # V2 decodes the body before the name
    for method, path, body, headers in [
        ("POST", f"/v1/models/{NEWLINE_NAME}:predict", predict, {}),
        ("POST", f"/v1/models/{NEWLINE_NAME}/versions/{HUGE}:predict", predict, {}),
        ("POST", f"/v1/models/iris-lr/versions/{NEWLINE_NAME}:predict", predict, {}),
        ("GET", f"/v1/models/{NEWLINE_NAME}", None, {}),
        ("POST", f"/v2/models/{NEWLINE_NAME}/infer", huge_shape, {}),
        ("POST", f"/v2/models/{NEWLINE_NAME}/infer", predict, {V2_LENGTH: HUGE}),
        ("GET", f"/v2/models/iris-lr/versions/{NEWLINE_NAME}", None, {}),
        ("POST", f"/v1/models/{NEWLINE_NAME}/invocations", predict, {}),
        ("GET", f"/v1/admin/models/{NEWLINE_NAME}/versions", None, AUTH),
        ("GET", f"/nothing/{NEWLINE_NAME}", None, {}),
    ]:
        answer = http.request(method, path, json=body, headers=headers)
        assert 400 <= answer.status_code < 500, (path, answer.text[:SHORT])
    for name, version in [("iris-lr\n" + FORGED, ""), ("iris-lr", "1\n" + FORGED)]:
        request = service_pb2.ModelInferRequest(model_name=name, model_version=version)
        grpc_error(stub.ModelInfer, request)
    assert not [line for line in server.log().splitlines() if line.startswith(FORGED)]


# -- 9. internal details -----------------------------------------------------------------


def test_public_answers_about_failed_models_hold_no_server_path(
    server: Server, models: Path, http: httpx.Client, stub: Any
) -> None:
    answers = [
        http.get("/v1/models"),
        http.get("/v1/models/bad-onnx"),
        http.get("/v1/models/bad-onnx/versions/1"),
        http.get("/v1/models/leaky/versions/1"),
        http.post("/v1/models/bad-onnx:predict", json={"instances": [[1.0]]}),
        http.post("/v1/models/leaky/versions/1:predict", json={"instances": [[1.0]]}),
        http.get("/v2/models/bad-onnx"),
        http.post("/v2/models/leaky/infer", json=v2_body([1, 1], [1.0])),
        http.post("/v2/repository/index"),
    ]
    public = "\n".join(answer.text for answer in answers)
    assert str(models.parent) not in public
    assert SECRET_HOME not in public and "modelport-secret-user" not in public
    # What they do say: the failure, with the path below MODEL_DIR and the hidden one.
    assert "bad-onnx/1/model.onnx" in public
    assert "No such file or directory: '<path>'" in public
    for status in (answers[4].status_code, answers[5].status_code, answers[6].status_code):
        assert status == 503
    for call, request in [
        (stub.ModelInfer, service_pb2.ModelInferRequest(model_name="bad-onnx")),
        (stub.ModelMetadata, service_pb2.ModelMetadataRequest(name="leaky")),
    ]:
        error = grpc_error(call, request)
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert str(models.parent) not in error.details()
        assert "modelport-secret-user" not in error.details()
    index = stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(), timeout=30)
    assert str(models.parent) not in str(index) and "modelport-secret-user" not in str(index)
    # The whole story is for the operator: in the log and the management API.
    assert SECRET_HOME in server.log()
    assert f"{models}/bad-onnx/1/model.onnx" in server.log()
    history = http.get("/v1/admin/models/leaky/versions", headers=AUTH)
    assert history.status_code == 200, history.text
    assert SECRET_HOME in history.text


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [[5.1, "x" * 9_000_000, 1.4, 0.2]]},
        {"instances": [{"x" * 9_000_000: 1.0}]},
        {"inputs": {"x" * 9_000_000: [1.0]}},
        {"dataframe_split": {"columns": ["y" * 9_000_000, "z"], "data": [[1, 2]]}},
    ],
    ids=["value", "record key", "column name", "split columns"],
)
def test_a_9_mb_value_is_not_echoed_back(http: httpx.Client, body: dict[str, Any]) -> None:
    message = assert_client_error(http.post("/v1/models/iris-lr:predict", json=body), 422)
    assert "(9,000,000 characters)" in message


@pytest.mark.parametrize(
    "inputs",
    [
        [  # two tensors must be named by feature, so the unknown name is quoted
            {"name": "n" * 9_000_000, "datatype": "FP64", "shape": [1, 1], "data": [1.0]},
            {"name": "y", "datatype": "FP64", "shape": [1, 1], "data": [1.0]},
        ],
        [{"name": "x", "datatype": "d" * 9_000_000, "shape": [1, 4], "data": SETOSA}],
        [{"name": "x", "datatype": "FP64", "shape": [1], "data": ["s" * 9_000_000]}],
        [{"name": "x", "datatype": "FP64", "shape": "s" * 9_000_000, "data": [1.0]}],
    ],
    ids=["name", "datatype", "data", "shape"],
)
def test_a_9_mb_v2_value_is_not_echoed_back(
    http: httpx.Client, inputs: list[dict[str, Any]]
) -> None:
    answer = http.post("/v2/models/iris-lr/infer", json={"inputs": inputs})
    assert "(9,000,000 characters)" in assert_client_error(answer)


def test_a_database_outage_is_not_described_to_clients(
    start_server: StartServer, model_dir: Path
) -> None:
    port = free_port()
    url = f"mysql+pymysql://root@127.0.0.1:{port}/nothing"
    server = start_server(
        [str(model_dir), "--database-url", url, "--database-optional", "--admin-token", ADMIN]
    )
    server.wait_ready()
    stranger = {"Authorization": "Bearer mpt_1_" + "a" * 43}  # a database token's form
    with httpx.Client(base_url=server.url, timeout=60) as http:
        answers = [
            http.get("/v1/admin/models/iris-lr/versions", headers=stranger),
            http.get("/v1/admin/models/iris-lr/versions", headers=AUTH),
            http.get(f"/v1/admin/models/{NEWLINE_NAME}/versions", headers=stranger),
            http.get("/v1/models/iris-lr/predictions", headers=AUTH),
        ]
        for answer in answers:
            message = assert_client_error(answer, 503)
            assert answer.json()["error"] == "database_unavailable"
            assert message.startswith("the database is unavailable; try again later")
            for detail in (str(port), "127.0.0.1", "pymysql", "MySQL", "Operational", "nothing"):
                assert detail not in message
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = service_pb2.RepositoryModelLoadRequest(model_name="iris-lr")
        error = grpc_error(
            lambda r, timeout: stub.RepositoryModelLoad(
                r, timeout=timeout, metadata=[("authorization", stranger["Authorization"])]
            ),
            request,
        )
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "127.0.0.1" not in error.details() and str(port) not in error.details()
    log = server.log()
    assert f"127.0.0.1:{port}" in log or "Can't connect to MySQL" in log  # the operator's
    assert "FORGED" in log  # the name was logged ...
    assert not [line for line in log.splitlines() if line.startswith(FORGED)]  # ... as text
    assert_still_serving(server)


# -- 10. the response cache ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [(1.0000000000000002, 1), (0.30000000000000004, 0.3), (1e-320, 0.0), (-0.0, 0.0)],
)
def test_the_cache_tells_floats_apart_in_a_dataframe(
    http: httpx.Client, first: float, second: float
) -> None:
    def ask(x: float, tag: str) -> httpx.Response:
        answer = http.post("/v1/models/echo:predict", json={"instances": [{"x": x, "tag": tag}]})
        assert answer.status_code == 200, answer.text
        return answer

    tag = f"frame-{first!r}"  # a fresh entry for each case
    one, two = ask(first, tag), ask(second, tag)
    assert one.json()["predictions"] == [f"{float(first)!r} {tag}"]
    assert two.json()["predictions"] == [f"{float(second)!r} {tag}"]
    assert [one.headers["x-modelport-cache"], two.headers["x-modelport-cache"]] == ["miss"] * 2
    again = ask(first, tag)  # the cache still works
    assert again.headers["x-modelport-cache"] == "hit"
    assert again.json() == one.json()


def test_the_cache_tells_floats_apart_in_an_array(http: httpx.Client) -> None:
    verdicts = []
    for first in (1.0000000000000002, 1, 1.0000000000000002):
        answer = http.post(
            "/v1/models/iris-lr:predict", json={"instances": [[first, 3.5, 1.4, 0.25]]}
        )
        assert answer.status_code == 200, answer.text
        verdicts.append(answer.headers["x-modelport-cache"])
    assert verdicts == ["miss", "miss", "hit"]


def test_the_cache_tells_floats_apart_over_v2(http: httpx.Client) -> None:
    def ask(x: float) -> httpx.Response:
        body = {
            "inputs": [
                {"name": "x", "datatype": "FP64", "shape": [1], "data": [x]},
                {"name": "tag", "datatype": "BYTES", "shape": [1], "data": ["v2"]},
            ]
        }
        answer = http.post("/v2/models/echo/infer", json=body)
        assert answer.status_code == 200, answer.text
        return answer

    one, two = ask(1.0000000000000002), ask(1.0)
    assert one.json()["outputs"][0]["data"] == ["1.0000000000000002 v2"]
    assert two.json()["outputs"][0]["data"] == ["1.0 v2"]
    assert two.headers["x-modelport-cache"] == "miss"
