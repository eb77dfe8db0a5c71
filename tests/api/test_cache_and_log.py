"""The response cache and the prediction log through every protocol, in process: the
X-Modelport-Cache header, no stale answer after a reload, upload or alias move, the log's
rows per protocol, and GET /v1/models/{name}/predictions with its bad inputs and rules."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from modelport.api.proto import grpc_predict_v2_pb2 as pb
from modelport.api.proto import grpc_predict_v2_pb2_grpc as pb_grpc
from modelport.cache import MemoryCache
from modelport.db import store
from services import free_port

from .conftest import AppClient, MakeClient

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ADMIN = "admin-token-for-tests"


def caching(models: Path, name: str = "iris-lr", extra: str = "cache: true\n") -> Path:
    config = models / name / "model.yaml"
    config.write_text(config.read_text() + extra)
    return models


def predict(client: AppClient, body: Any, path: str = "iris-lr:predict", **kw: Any) -> Any:
    return client.post(f"/v1/models/{path}", json=body, **kw)


def logged(client: AppClient, name: str, want: int, **params: Any) -> list[dict[str, Any]]:
    """The model's log rows once ``want`` of them are written (the writer is async)."""
    deadline = time.monotonic() + 10
    while True:
        answer = client.get(
            f"/v1/models/{name}/predictions",
            params={"limit": 1000, **params},
            headers=client.admin,
        )
        assert answer.status_code == 200, answer.text
        rows: list[dict[str, Any]] = answer.json()["predictions"]
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


# -- the response cache -------------------------------------------------------------------


def test_each_protocol_says_miss_then_hit(make_client: MakeClient, iris_models: Path) -> None:
    client = make_client(caching(iris_models), log_flush_interval=0.05)
    first = predict(client, {"instances": [SETOSA]})
    again = predict(client, {"instances": [SETOSA]})
    assert first.headers["x-modelport-cache"] == "miss"
    assert again.headers["x-modelport-cache"] == "hit"
    assert again.json() == first.json()
    # The key is the validated input: another shape of the same row is a hit.
    records = predict(client, {"instances": [dict(zip(FEATURES, SETOSA, strict=True))]})
    assert records.headers["x-modelport-cache"] == "hit"
    # Probabilities are another answer, so another entry.
    proba = predict(client, {"instances": [SETOSA]}, params={"probabilities": "true"})
    assert proba.headers["x-modelport-cache"] == "miss" and "probabilities" in proba.json()
    assert (
        predict(client, {"instances": [SETOSA]}, params={"probabilities": "true"}).headers[
            "x-modelport-cache"
        ]
        == "hit"
    )
    tensor = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": SETOSA}
    v2 = [client.post("/v2/models/iris-lr/infer", json={"inputs": [tensor]}) for _ in range(2)]
    assert [r.headers["x-modelport-cache"] for r in v2] == ["hit", "hit"]  # same input as above
    assert v2[0].json()["outputs"][0]["data"] == ["setosa"]
    mlflow = (
        client.post("/v1/models/iris-lr/invocations", json={"instances": [VIRGINICA]}),
        client.post("/v1/models/iris-lr/invocations", json={"instances": [VIRGINICA]}),
    )
    assert [r.headers["x-modelport-cache"] for r in mlflow] == ["miss", "hit"]
    assert mlflow[1].json() == {"predictions": ["virginica"]}
    # iris-dt does not cache: no header at all.
    assert (
        "x-modelport-cache"
        not in predict(client, {"instances": [SETOSA]}, "iris-dt:predict").headers
    )
    stats = client.get("/v1/admin/stats", headers=client.admin).json()["response_cache"]
    assert stats["backend"] == "memory" and stats["hits"] >= 5 and stats["misses"] >= 3


def test_the_server_setting_caches_every_model_unless_model_yaml_says_no(
    make_client: MakeClient, iris_models: Path
) -> None:
    client = make_client(caching(iris_models, "iris-dt", "cache: false\n"), cache=True)
    assert [
        predict(client, {"instances": [SETOSA]}).headers["x-modelport-cache"] for _ in "ab"
    ] == [
        "miss",
        "hit",
    ]
    answer = predict(client, {"instances": [SETOSA]}, "iris-dt:predict")
    assert "x-modelport-cache" not in answer.headers


def test_size_limit_and_ttl(make_client: MakeClient, iris_models: Path) -> None:
    client = make_client(iris_models, cache=True, cache_max_entry_size=64, cache_ttl=0.2)
    small = [predict(client, {"instances": [SETOSA]}) for _ in range(2)]
    assert [r.headers["x-modelport-cache"] for r in small] == ["miss", "hit"]
    big = {"instances": [SETOSA] * 20}  # its answer is longer than 64 bytes: never stored
    assert [predict(client, big).headers["x-modelport-cache"] for _ in range(2)] == [
        "miss",
        "miss",
    ]
    # The ttl reaches the cache, whose expiry tests/test_cache.py shows on a fake clock.
    backend = client.app.state.inference.cache.backend
    assert isinstance(backend, MemoryCache) and backend.ttl_s == 0.2
    assert (
        client.get("/v1/admin/stats", headers=client.admin).json()["response_cache"]["too_large"]
        == 2
    )


def test_a_reload_with_new_labels_never_serves_the_old_answer(
    make_client: MakeClient, iris_models: Path
) -> None:
    client = make_client(caching(iris_models))
    assert predict(client, {"instances": [SETOSA]}).json()["predictions"] == ["setosa"]
    assert predict(client, {"instances": [SETOSA]}).headers["x-modelport-cache"] == "hit"
    config = iris_models / "iris-lr" / "model.yaml"
    config.write_text(config.read_text().replace("- setosa", "- SETOSA"))
    assert client.post("/v1/admin/reload", json={}, headers=client.admin).status_code == 200
    after = predict(client, {"instances": [SETOSA]})
    assert after.json()["predictions"] == ["SETOSA"]
    assert after.headers["x-modelport-cache"] == "miss"


def test_upload_and_alias_moves_never_serve_another_versions_answer(
    make_client: MakeClient, iris_models: Path
) -> None:
    client = make_client(caching(iris_models), cache=True, allow_pickle_uploads=True)
    before = predict(client, {"instances": [VIRGINICA]}, params={"probabilities": "true"})
    assert before.json()["model_version"] == 1
    assert (
        predict(client, {"instances": [VIRGINICA]}, params={"probabilities": "true"}).headers[
            "x-modelport-cache"
        ]
        == "hit"
    )
    # Version 2 is the decision tree: certain where the regression is not.
    data = (iris_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    uploaded = client.post(
        "/v1/admin/models/iris-lr/versions",
        params={"filename": "model.joblib"},
        content=data,
        headers=client.admin,
    )
    assert uploaded.status_code == 201, uploaded.text
    after = predict(client, {"instances": [VIRGINICA]}, params={"probabilities": "true"})
    assert after.json()["model_version"] == 2
    assert after.headers["x-modelport-cache"] == "miss"
    assert after.json()["probabilities"] != before.json()["probabilities"]
    moved = client.request(
        "PUT",
        "/v1/admin/models/iris-lr/aliases/production",
        json={"version": 1},
        headers=client.admin,
    )
    assert moved.status_code == 200, moved.text
    path = "iris-lr/versions/production:predict"
    first = predict(client, {"instances": [VIRGINICA]}, path, params={"probabilities": "true"})
    assert first.json()["model_version"] == 1
    assert first.json()["probabilities"] == before.json()["probabilities"]
    client.request(
        "PUT",
        "/v1/admin/models/iris-lr/aliases/production",
        json={"version": 2},
        headers=client.admin,
    )
    second = predict(client, {"instances": [VIRGINICA]}, path, params={"probabilities": "true"})
    assert second.json()["model_version"] == 2
    assert second.json()["probabilities"] == after.json()["probabilities"]


# -- the prediction log ---------------------------------------------------------------------


def test_every_protocol_is_logged_with_its_request_id_and_client(
    make_client: MakeClient, iris_models: Path
) -> None:
    port = free_port()
    client = make_client(iris_models, log_flush_interval=0.05, grpc_port=port)
    predict(client, {"instances": [SETOSA]}, headers={"x-request-id": "native-1"})
    tensor = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": VIRGINICA}
    client.post(
        "/v2/models/iris-lr/infer", json={"inputs": [tensor]}, headers={"x-request-id": "v2"}
    )
    client.post(
        "/v1/models/iris-lr/invocations",
        json={"instances": [SETOSA]},
        headers={"x-request-id": "ml-1"},
    )
    bad = predict(client, {"instances": [[1, 2]]}, headers={"x-request-id": "bad-1"})
    assert bad.status_code == 422
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
        request = pb.ModelInferRequest(
            model_name="iris-lr",
            id="grpc-1",
            inputs=[
                pb.ModelInferRequest.InferInputTensor(
                    name="input-0",
                    datatype="FP64",
                    shape=[1, 4],
                    contents=pb.InferTensorContents(fp64_contents=SETOSA),
                )
            ],
        )
        stub.ModelInfer(request)
    rows = logged(client, "iris-lr", 5)
    by_id = {row["request_id"]: row for row in rows}
    assert set(by_id) == {"native-1", "v2", "ml-1", "bad-1", "grpc-1"}
    assert by_id["native-1"]["protocol"] == "native"
    assert by_id["v2"]["protocol"] == "v2-rest"
    assert by_id["ml-1"]["protocol"] == "mlflow"
    assert by_id["grpc-1"]["protocol"] == "v2-grpc"
    assert by_id["grpc-1"]["client_address"] == "127.0.0.1"
    assert by_id["native-1"]["input"] == [SETOSA]
    assert by_id["native-1"]["output"] == {"predictions": ["setosa"]}
    assert by_id["v2"]["output"] == {"predictions": ["virginica"]}
    assert by_id["native-1"]["status"] == "ok" and by_id["native-1"]["version"] == 1
    assert by_id["bad-1"]["status"] == "invalid_input" and by_id["bad-1"]["output"] is None
    assert all(row["latency_ms"] >= 0 for row in rows)


def test_model_yaml_sampling_and_hash_only_inputs(
    make_client: MakeClient, iris_models: Path
) -> None:
    caching(iris_models, "iris-lr", "log:\n  inputs: hash\n")
    caching(iris_models, "iris-dt", "log: false\n")
    client = make_client(iris_models, log_flush_interval=0.05)
    predict(client, {"instances": [SETOSA]})
    predict(client, {"instances": [SETOSA]}, "iris-dt:predict")
    predict(client, {"instances": [SETOSA]})
    rows = logged(client, "iris-lr", 2)
    assert len(rows) == 2
    assert all(row["input"] is None and len(row["input_hash"]) == 32 for row in rows)
    # The log writes in order: iris-dt's prediction, made before the second iris-lr one,
    # would be written by now.
    assert logged(client, "iris-dt", 0) == []


def test_paging_follows_next_to_the_end(make_client: MakeClient, iris_models: Path) -> None:
    client = make_client(iris_models, log_flush_interval=0.05)
    for i in range(7):
        predict(client, {"instances": [SETOSA]}, headers={"x-request-id": f"r{i}"})
    logged(client, "iris-lr", 7)
    seen: list[str] = []
    url: str | None = "/v1/models/iris-lr/predictions?limit=3"
    pages = 0
    while url is not None:
        page = client.get(url, headers=client.admin).json()
        seen += [row["request_id"] for row in page["predictions"]]
        url = page["next"]
        pages += 1
    assert seen == [f"r{i}" for i in range(7)] and pages == 3
    since = client.get("/v1/models/iris-lr/predictions", headers=client.admin).json()[
        "predictions"
    ][4]["at"]
    later = client.get(
        "/v1/models/iris-lr/predictions", params={"since": since}, headers=client.admin
    ).json()
    assert [row["request_id"] for row in later["predictions"]] == ["r4", "r5", "r6"]
    naive = since.replace("+00:00", "")  # no offset: UTC
    assert (
        client.get(
            "/v1/models/iris-lr/predictions", params={"since": naive}, headers=client.admin
        ).json()
        == later
    )
    assert (
        client.get(
            "/v1/models/iris-lr/predictions", params={"version": 2}, headers=client.admin
        ).json()["predictions"]
        == []
    )


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"since": "yesterday"}, "since must be an ISO 8601 time"),
        ({"since": "2026-13-40T00:00:00Z"}, "since must be an ISO 8601 time"),
        ({"limit": "0"}, "limit must be a whole number between 1 and 10000"),
        ({"limit": "10001"}, "limit must be a whole number between 1 and 10000"),
        ({"limit": "ten"}, "limit must be a whole number"),
        ({"limit": "-5"}, "limit must be a whole number"),
        ({"limit": "9" * 40}, "limit must be a whole number"),
        ({"version": "0"}, "version must be a whole number between 1 and 9223372036854775807"),
        ({"version": "latest"}, "version must be a whole number"),
        ({"after_id": "x", "since": "2026-01-01"}, "after_id must be a whole number"),
        ({"after_id": "5"}, "give since too"),
    ],
)
def test_bad_paging_parameters_answer_400(
    iris: AppClient, params: dict[str, str], fragment: str
) -> None:
    answer = iris.get("/v1/models/iris-lr/predictions", params=params, headers=iris.admin)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert fragment in answer.json()["message"]


def test_unknown_and_invalid_model_names(iris: AppClient) -> None:
    unknown = iris.get("/v1/models/nope/predictions", headers=iris.admin)
    assert unknown.status_code == 404
    assert (
        unknown.json()["error"] == "not_found" and "'nope' not found" in unknown.json()["message"]
    )
    invalid = iris.get("/v1/models/Not..Valid/predictions", headers=iris.admin)
    assert invalid.status_code == 400 and "invalid model name" in invalid.json()["message"]


def test_admin_rules_guard_the_log_and_the_stats(
    make_client: MakeClient, iris_models: Path
) -> None:
    client = make_client(iris_models, admin_token=ADMIN, api_token="api-token")
    api = {"authorization": "Bearer api-token"}
    assert predict(client, {"instances": [SETOSA]}, headers=api).status_code == 200
    for path in ("/v1/models/iris-lr/predictions", "/v1/admin/stats"):
        missing = client.get(path)
        assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
        wrong = client.get(path, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
        assert client.get(path, headers=api).status_code == 403  # the API token is not admin
        assert client.get(path, headers={"authorization": f"Bearer {ADMIN}"}).status_code == 200
    # A database token is an admin token here too, although it is not the API token.
    token = store.create_token(client.app.state.database.engine, "ops")
    answer = client.get(
        "/v1/models/iris-lr/predictions", headers={"authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text


def test_no_address_reads_the_log_without_a_token(
    make_client: MakeClient, iris_models: Path
) -> None:
    """A loopback client is no one in particular (any local user, any web page through
    the user's browser): it needs the token like everyone else."""
    client = make_client(iris_models)
    transport = httpx.ASGITransport(app=client.app, client=("127.0.0.1", 5000))
    local = httpx.AsyncClient(transport=transport, base_url="http://localhost")
    try:
        for path in ("/v1/models/iris-lr/predictions", "/v1/admin/stats"):
            answer = client.portal.call(partial(local.get, path))
            assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
            assert client.get(path, headers=client.admin).status_code == 200
    finally:
        client.portal.call(local.aclose)


def test_grpc_answers_say_hit_or_miss_in_initial_metadata(
    make_client: MakeClient, iris_models: Path
) -> None:
    port = free_port()
    make_client(caching(iris_models), grpc_port=port)
    request = pb.ModelInferRequest(
        model_name="iris-lr",
        inputs=[
            pb.ModelInferRequest.InferInputTensor(
                name="input-0",
                datatype="FP64",
                shape=[1, 4],
                contents=pb.InferTensorContents(fp64_contents=VIRGINICA),
            )
        ],
    )
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
        seen = []
        for _ in range(2):
            answer, call = stub.ModelInfer.with_call(request)
            seen.append(dict(call.initial_metadata())["x-modelport-cache"])
            assert list(answer.outputs[0].contents.bytes_contents) == [b"virginica"]
    assert seen == ["miss", "hit"]
