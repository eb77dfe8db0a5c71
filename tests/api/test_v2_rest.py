"""Open Inference Protocol V2 over REST, in process: metadata, JSON and binary tensors,
the protocol's error shape, and the model repository extension."""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from .conftest import AppClient, MakeClient

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
HEADER = "Inference-Header-Content-Length"


def matrix(rows: list[list[Any]], datatype: str = "FP64", name: str = "input-0") -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": [len(rows), 4], "data": rows}


def assert_v2_error(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"], body
    assert fragment in body["error"], body["error"]


def test_health_and_server_metadata(iris: AppClient) -> None:
    assert iris.get("/v2/health/live").json() == {"live": True}
    assert iris.get("/v2/health/ready").json() == {"ready": True}
    metadata = iris.get("/v2").json()
    assert metadata["name"] == "modelport"
    assert set(metadata["extensions"]) >= {"binary_tensor_data", "model_repository"}


def test_model_metadata(iris: AppClient) -> None:
    metadata = iris.get("/v2/models/iris-lr").json()
    assert metadata["name"] == "iris-lr"
    assert metadata["versions"] == ["1"]
    assert metadata["platform"] == "sklearn"
    assert [i["name"] for i in metadata["inputs"]] == NAMES
    assert {i["datatype"] for i in metadata["inputs"]} == {"FP64"}
    assert metadata["outputs"] == [
        {"name": "predict", "datatype": "BYTES", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
    ]
    assert iris.get("/v2/models/iris-lr/versions/1").json() == metadata
    assert iris.get("/v2/models/iris-lr/ready").json() == {"name": "iris-lr", "ready": True}
    assert iris.get("/v2/models/iris-lr/versions/1/ready").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/nope",
        "/v2/models/nope/ready",
        "/v2/models/iris-lr/versions/7",
        "/v2/models/iris-lr/versions/7/ready",
    ],
)
def test_unknown_model_or_version_is_404(iris: AppClient, path: str) -> None:
    assert_v2_error(iris.get(path), 404, "model '")


def test_unknown_v2_endpoint_speaks_v2(iris: AppClient) -> None:
    assert_v2_error(iris.get("/v2/nothing/here"), 404, "no endpoint GET /v2/nothing/here")
    assert_v2_error(iris.get("/v2/models/iris-lr/infer"), 405, "GET is not allowed")


@pytest.mark.parametrize("model", ["iris-lr", "iris-dt"])
def test_infer_json(iris: AppClient, model: str) -> None:
    body = {
        "id": "req-1",
        "inputs": [matrix([SETOSA, VIRGINICA], "FP32")],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }
    response = iris.post(f"/v2/models/{model}/infer", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["id"] == "req-1"
    assert answer["model_name"] == model and answer["model_version"] == "1"
    predict, proba = answer["outputs"]
    assert predict == {
        "name": "predict",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["setosa", "virginica"],
    }
    assert proba["datatype"] == "FP64" and proba["shape"] == [2, 3]
    sums = np.array(proba["data"]).reshape(2, 3).sum(axis=1)
    np.testing.assert_allclose(sums, 1.0)


def test_infer_nested_columns_and_versions(iris: AppClient) -> None:
    columns = [
        {"name": name, "datatype": "FP64", "shape": [2], "data": [a, b]}
        for name, a, b in zip(NAMES, SETOSA, VIRGINICA, strict=True)
    ]
    for path in ("/v2/models/iris-lr/infer", "/v2/models/iris-lr/versions/1/infer"):
        answer = iris.post(path, json={"inputs": columns}).json()
        assert [o["name"] for o in answer["outputs"]] == ["predict"]
        assert answer["outputs"][0]["data"] == ["setosa", "virginica"]
        assert "id" not in answer
    flat = {"inputs": [{**matrix([SETOSA]), "data": SETOSA}]}
    assert iris.post("/v2/models/iris-lr/infer", json=flat).json()["outputs"][0]["data"] == [
        "setosa"
    ]


def binary_request(
    rows: np.ndarray, outputs: list[dict[str, Any]] | None = None, **extra: Any
) -> tuple[bytes, dict[str, str]]:
    raw = rows.tobytes()
    header: dict[str, Any] = {
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP32",
                "shape": list(rows.shape),
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
        **extra,
    }
    if outputs is not None:
        header["outputs"] = outputs
    head = orjson.dumps(header)
    return head + raw, {HEADER: str(len(head)), "Content-Type": "application/octet-stream"}


def split_binary(response: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    size = int(response.headers[HEADER])
    answer = orjson.loads(response.content[:size])
    rest, chunks = response.content[size:], {}
    for output in answer["outputs"]:
        length = output.get("parameters", {}).get("binary_data_size")
        if length is not None:
            chunks[output["name"]], rest = rest[:length], rest[length:]
    assert rest == b""
    return answer, chunks


def test_binary_inputs_and_outputs(iris: AppClient) -> None:
    rows = np.array([SETOSA, VIRGINICA], dtype=np.float32)
    outputs: list[dict[str, Any]] = [
        {"name": "predict", "parameters": {"binary_data": True}},
        {"name": "predict_proba"},
    ]
    body, headers = binary_request(rows, outputs)
    response = iris.post("/v2/models/iris-lr/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    answer, chunks = split_binary(response)
    assert chunks["predict"] == b"\x06\x00\x00\x00setosa\x09\x00\x00\x00virginica"
    proba = answer["outputs"][1]
    assert "parameters" not in proba
    np.testing.assert_allclose(np.array(proba["data"]).reshape(2, 3).sum(axis=1), 1.0)


def test_binary_data_output_applies_to_every_output(iris: AppClient) -> None:
    rows = np.array([VIRGINICA], dtype=np.float32)
    body, headers = binary_request(
        rows,
        [{"name": "predict_proba"}, {"name": "predict", "parameters": {"binary_data": False}}],
        parameters={"binary_data_output": True},
    )
    answer, chunks = split_binary(
        iris.post("/v2/models/iris-dt/infer", content=body, headers=headers)
    )
    assert np.frombuffer(chunks["predict_proba"], dtype="<f8").tolist() == [0.0, 0.0, 1.0]
    assert answer["outputs"][1]["data"] == ["virginica"]


def test_json_input_with_binary_output_and_no_header_needed(iris: AppClient) -> None:
    body = {"inputs": [matrix([SETOSA])], "parameters": {"binary_data_output": True}}
    response = iris.post("/v2/models/iris-lr/infer", json=body)
    _, chunks = split_binary(response)
    assert chunks["predict"] == b"\x06\x00\x00\x00setosa"


def good_json() -> bytes:
    return orjson.dumps({"inputs": [matrix([SETOSA])]})


@pytest.mark.parametrize(
    ("body", "headers", "fragment"),
    [
        ({"inputs": [{**matrix([SETOSA]), "shape": [2, 4]}]}, {}, "needs 8 value(s)"),
        ({"inputs": [matrix([SETOSA], "FP128")]}, {}, "unknown datatype 'FP128'"),
        ({"inputs": [matrix([["a", "b", "c", "d"]], "BYTES")]}, {}, "expected a number"),
        ({"inputs": [matrix([["5", "3", "1", "0"]], "FP32")]}, {}, "needs numbers"),
        ({"inputs": []}, {}, "no inputs"),
        ({"outputs": [{"name": "predict"}]}, {}, "no inputs"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4]}]}, {}, "has no 'data'"),
        ({"inputs": [matrix([SETOSA[:3]])]}, {}, "needs 4 value(s)"),
        ({"inputs": [matrix([SETOSA]), matrix([SETOSA])]}, {}, "appears twice"),
        ({"inputs": [matrix([SETOSA])], "outputs": [{"name": "nope"}]}, {}, "unknown output"),
        (
            {
                "inputs": [matrix([SETOSA])],
                "outputs": [{"name": "predict_proba", "parameters": {"classification": 2}}],
            },
            {},
            "classification",
        ),
        ({"inputs": [matrix([SETOSA])], "id": 7}, {}, "id must be a string"),
        (b"[1, 2]", {}, "must be a JSON object"),
        (b"{nope", {}, "not valid JSON"),
        (good_json(), {HEADER: "12x"}, f"{HEADER} must be a whole number between 0 and"),
        (good_json(), {HEADER: "100000"}, "JSON part), got '100000'"),
        (good_json(), {HEADER: "10"}, f"not valid JSON (check {HEADER})"),
        (good_json() + b"\x00" * 8, {HEADER: str(len(good_json()))}, "belong to no input"),
    ],
)
def test_malformed_requests_are_400(
    iris: AppClient, body: Any, headers: dict[str, str], fragment: str
) -> None:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response = iris.post("/v2/models/iris-lr/infer", content=content, headers=headers)
    assert_v2_error(response, 400, fragment)
    # ...and the server keeps serving.
    ok = iris.post("/v2/models/iris-lr/infer", content=good_json())
    assert ok.json()["outputs"][0]["data"] == ["setosa"]


def test_binary_size_past_the_data_is_400(iris: AppClient) -> None:
    body, headers = binary_request(np.array([SETOSA], dtype=np.float32))
    assert_v2_error(
        iris.post("/v2/models/iris-lr/infer", content=body[:-4], headers=headers),
        400,
        "runs past",
    )
    body, _ = binary_request(np.array([SETOSA], dtype=np.float32))
    assert_v2_error(iris.post("/v2/models/iris-lr/infer", content=body), 400, "not valid JSON")


def test_unknown_model_infer_is_404(iris: AppClient) -> None:
    assert_v2_error(
        iris.post("/v2/models/nope/infer", content=good_json()), 404, "'nope' not found"
    )
    assert_v2_error(
        iris.post("/v2/models/iris-lr/versions/9/infer", content=good_json()), 404, "no version '9'"
    )


def test_repository_index_unload_and_load(make_client: MakeClient, iris_models: Path) -> None:
    client = make_client(iris_models)
    index = client.post("/v2/repository/index").json()
    assert index == [
        {"name": "iris-dt", "version": "1", "state": "READY"},
        {"name": "iris-lr", "version": "1", "state": "READY"},
    ]
    assert client.post("/v2/repository/models/iris-dt/unload", headers=client.admin).json() == {}
    assert_v2_error(client.post("/v2/models/iris-dt/infer", content=good_json()), 404, "not found")
    assert client.post("/v2/repository/index", json={"ready": True}).json() == [index[1]]
    assert {"name": "iris-dt", "state": "UNAVAILABLE", "reason": "unloaded"} in client.post(
        "/v2/repository/index"
    ).json()
    assert_v2_error(
        client.post("/v2/repository/models/iris-dt/unload", headers=client.admin), 404, "not found"
    )
    assert (
        client.post("/v2/repository/models/iris-dt/load", json={}, headers=client.admin).status_code
        == 200
    )
    answer = client.post("/v2/models/iris-dt/infer", content=good_json()).json()
    assert answer["outputs"][0]["data"] == ["setosa"]


def test_load_refusals(make_client: MakeClient, iris_models: Path) -> None:
    client = make_client(iris_models)
    assert_v2_error(
        client.post("/v2/repository/models/nope/load", headers=client.admin),
        404,
        "'nope' not found",
    )
    refused = client.post(
        "/v2/repository/models/iris-lr/load",
        json={"parameters": {"config": "{}"}},
        headers=client.admin,
    )
    assert_v2_error(refused, 400, "only from its model folder")
    (iris_models / "broken" / "1").mkdir(parents=True)
    (iris_models / "broken" / "1" / "model.joblib").write_bytes(b"not a pickle")
    assert_v2_error(
        client.post("/v2/repository/models/broken/load", headers=client.admin),
        400,
        "failed to load",
    )
    index = client.post("/v2/repository/index").json()
    assert index[0]["name"] == "broken" and index[0]["state"] == "UNAVAILABLE"


def test_reload_keeps_the_served_version_when_its_file_breaks(
    make_client: MakeClient, iris_models: Path
) -> None:
    client = make_client(iris_models)
    (iris_models / "iris-lr" / "1" / "model.joblib").write_bytes(b"garbage now")
    shutil.copytree(iris_models / "iris-dt" / "1", iris_models / "iris-dt" / "2")
    assert_v2_error(
        client.post("/v2/repository/models/iris-lr/load", headers=client.admin), 400, "stay"
    )
    assert client.post("/v2/models/iris-lr/infer", content=good_json()).status_code == 200
    assert (
        client.post("/v2/repository/models/iris-dt/load", headers=client.admin).status_code == 200
    )
    assert client.get("/v2/models/iris-dt").json()["versions"] == ["1", "2"]


def test_openapi_documents_every_protocol(iris: AppClient) -> None:
    document = iris.get("/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/v2/models/{name}/infer",
        "/v2/repository/index",
        "/invocations",
        "/v1/models/{name}/invocations",
    ):
        assert path in paths, path
    infer = paths["/v2/models/{name}/infer"]["post"]
    assert "inputs" in infer["requestBody"]["content"]["application/json"]["schema"]["properties"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_requests(iris: AppClient, encoding: str) -> None:
    raw = good_json()
    body = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    headers = {"Content-Encoding": encoding}
    response = iris.post("/v2/models/iris-lr/infer", content=body, headers=headers)
    assert response.json()["outputs"][0]["data"] == ["setosa"]
    assert_v2_error(
        iris.post("/v2/models/iris-lr/infer", content=raw, headers=headers), 400, "not valid"
    )
    unknown = iris.post("/v2/models/iris-lr/infer", content=raw, headers={"Content-Encoding": "br"})
    assert_v2_error(unknown, 400, "'br' is not supported")


def test_decompressed_size_is_limited(make_client: MakeClient, iris_models: Path) -> None:
    client = make_client(iris_models, max_body_size=4096)
    bomb = gzip.compress(b" " * 100_000)
    response = client.post(
        "/v2/models/iris-lr/infer", content=bomb, headers={"Content-Encoding": "gzip"}
    )
    assert_v2_error(response, 413, "larger than the limit of 4096 bytes")


def test_predict_proba_of_a_regressor_is_refused_by_the_version_that_would_answer(
    make_client: MakeClient, tmp_path: Path
) -> None:
    """The check is made on the version the request resolves to, once, in the core: a V2
    client is told to ask for 'predict', a native one to leave out the flag."""
    folder = tmp_path / "models" / "double" / "1"
    folder.mkdir(parents=True)
    (folder / "model.py").write_text("def predict(x: float) -> float:\n    return 2 * x\n")
    client = make_client(tmp_path / "models")
    row = {"name": "x", "datatype": "FP64", "shape": [1], "data": [1.5]}
    v2 = client.post(
        "/v2/models/double/infer",
        json={"inputs": [row], "outputs": [{"name": "predict_proba"}]},
    )
    assert_v2_error(v2, 400, "version 1 has no class probabilities")
    assert "ask for the output 'predict' only" in v2.json()["error"]
    native = client.post(
        "/v1/models/double:predict?probabilities=true", json={"instances": [[1.5]]}
    )
    assert native.status_code == 400, native.text
    assert "leave out probabilities=true" in native.json()["message"]
