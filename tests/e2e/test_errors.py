"""Bad input over real HTTP: a clear JSON error every time, and the server keeps serving."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

pytestmark = pytest.mark.e2e

PREDICT = "/v1/models/iris-lr:predict"
GOOD = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


def assert_error(response: httpx.Response, status: int, code: str, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == code
    assert fragment in body["message"], body["message"]


def assert_still_serving(client: httpx.Client) -> None:
    response = client.post(PREDICT, json=GOOD)
    assert response.status_code == 200
    assert response.json()["predictions"] == ["setosa"]


def test_unknown_model_names_what_exists(client: httpx.Client) -> None:
    response = client.post("/v1/models/nope:predict", json=GOOD)
    assert_error(response, 404, "not_found", "known models: broken, iris-dt, iris-lr")
    assert_error(client.get("/v1/models/nope"), 404, "not_found", "model 'nope' not found")
    assert_still_serving(client)


@pytest.mark.parametrize("version", ["7", "two"])
def test_unknown_version_names_what_exists(client: httpx.Client, version: str) -> None:
    response = client.post(f"/v1/models/iris-lr/versions/{version}:predict", json=GOOD)
    assert_error(response, 404, "not_found", "known versions: 1, latest")
    response = client.get(f"/v1/models/iris-lr/versions/{version}")
    assert_error(response, 404, "not_found", f"no version '{version}'")
    assert_still_serving(client)


def test_failed_model_answers_503_with_reason(client: httpx.Client) -> None:
    response = client.post("/v1/models/broken:predict", json=GOOD)
    assert_error(response, 503, "model_not_ready", "not a readable pickle")
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        (b"{bad json", 400, "bad_request", "not valid JSON"),
        (b"", 400, "bad_request", "empty body"),
        (b"[[5.1, 3.5, 1.4, 0.2]]", 400, "bad_request", "must be a JSON object"),
        (b'{"rows": [[1, 2, 3, 4]]}', 400, "bad_request", "exactly one of"),
        (b'{"instances": [[1,2,3,4]], "inputs": [[1,2,3,4]]}', 400, "bad_request", "found"),
        (b'{"instances": [[1,2,3,4]], "extra": 1}', 400, "bad_request", "unknown key"),
        (b'{"instances": [[NaN, 1, 2, 3]]}', 400, "bad_request", "not valid JSON"),
        (b'{"instances": [[1e999, 1, 2, 3]]}', 400, "bad_request", "not valid JSON"),
        (b'{"instances": [[5.1, 3.5, 1.4]]}', 422, "invalid_input", "row 0 has 3 values"),
        (
            b'{"instances": [[5.1, 3.5, 1.4, 0.2], [1, 2, 3, 4, 5]]}',
            422,
            "invalid_input",
            "row 1 has 5 values but the model takes 4",
        ),
        (
            b'{"instances": [[5.1, "wide", 1.4, 0.2]]}',
            422,
            "invalid_input",
            "row 0, feature 'sepal_width': expected a number, got string 'wide'",
        ),
        (
            b'{"instances": [[5.1, 3.5, null, 0.2]]}',
            422,
            "invalid_input",
            "row 0, feature 'petal_length': missing value",
        ),
        (b'{"instances": [[' + b"9" * 400 + b", 1, 2, 3]]}", 400, "bad_request", "not valid JSON"),
        (
            b'{"instances": [[123456789012345678901234567890e300, 1, 2, 3]]}',
            400,
            "bad_request",
            "not valid JSON",
        ),
        (b'{"instances": [5.1, 3.5, 1.4, 0.2]}', 422, "invalid_input", "wrap a single row"),
        (b'{"instances": []}', 422, "invalid_input", "empty"),
        (b'{"instances": {"a": 1}}', 400, "bad_request", "must be a list of rows"),
        (
            b'{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}]}',
            422,
            "invalid_input",
            "missing feature(s) ['petal_width']",
        ),
        (
            b'{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,'
            b' "petal_width": 0.2, "color": "red"}]}',
            422,
            "invalid_input",
            "unknown feature(s) ['color']",
        ),
        (
            b'{"inputs": {"sepal_length": [5.1, 1], "sepal_width": [3.5], '
            b'"petal_length": [1.4], "petal_width": [0.2]}}',
            422,
            "invalid_input",
            "different lengths",
        ),
        (b'{"dataframe_split": {"data": [[1, 2, 3, 4]]}}', 400, "bad_request", "'columns'"),
        (
            b'{"instances": [[1, 2, 3, 4]], "parameters": {"probabilities": "maybe"}}',
            400,
            "bad_request",
            "probabilities must be true or false",
        ),
        (b'{"instances": [[true, 1, 2, 3]]}', 422, "invalid_input", "got true"),
        (b'{"instances": [[1, 2, 3, 4]], "parameters": []}', 400, "bad_request", "object"),
    ],
)
def test_bad_bodies(
    client: httpx.Client, body: bytes, status: int, code: str, fragment: str
) -> None:
    response = client.post(PREDICT, content=body, headers={"content-type": "application/json"})
    assert_error(response, status, code, fragment)
    assert_still_serving(client)


def test_positional_model_refuses_named_input(client: httpx.Client) -> None:
    body = {"instances": [{"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}]}
    response = client.post("/v1/models/lr_iris.model:predict", json=body)
    assert_error(response, 422, "invalid_input", "no feature names")
    assert_still_serving(client)


def test_bad_query_flag(client: httpx.Client) -> None:
    response = client.post(f"{PREDICT}?probabilities=perhaps", json=GOOD)
    assert_error(response, 400, "bad_request", "probabilities must be true or false")


def test_oversized_body_by_content_length(client: httpx.Client) -> None:
    rows = [[5.1, 3.5, 1.4, 0.2]] * 5000  # ~110 KB > the 64 KiB limit of this server
    response = client.post(PREDICT, json={"instances": rows})
    assert_error(response, 413, "payload_too_large", "65536 bytes")
    assert_still_serving(client)


def test_oversized_body_streamed_without_length(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instances": ['
        for _ in range(5000):
            yield b"[5.1, 3.5, 1.4, 0.2],"
        yield b"[5.1, 3.5, 1.4, 0.2]]}"

    response = client.post(PREDICT, content=chunks())
    assert_error(response, 413, "payload_too_large", "max_body_size")
    assert_still_serving(client)


@pytest.mark.slow  # a real 1 s request timeout
def test_timeout_answers_504_and_other_requests_go_on(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.post("/v1/models/quirky:predict", json={"instances": [[5, 0]]})
    elapsed = time.monotonic() - started
    assert_error(response, 504, "timeout", "did not answer within 1 s")
    assert elapsed < 4.5  # answered at the timeout, not when the model finished (5 s)
    # The stuck model call holds one thread; every other request is answered meanwhile.
    assert_still_serving(client)
    fast = client.post("/v1/models/quirky:predict", json={"instances": [[0, 0]]})
    assert fast.status_code == 200
    assert fast.json()["predictions"] == [0.0]


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert_error(client.get("/nothing/here"), 404, "not_found", "no endpoint GET /nothing/here")
    assert_error(client.delete("/v1/models"), 405, "method_not_allowed", "DELETE")
    assert_still_serving(client)


def test_model_refusing_the_input_is_422(client: httpx.Client) -> None:
    response = client.post("/v1/models/quirky:predict", json={"instances": [[-2, 0]]})
    assert_error(response, 422, "invalid_input", "the model rejected the input: this model")
    assert_still_serving(client)


def test_model_bug_is_a_json_500_with_request_id(client: httpx.Client) -> None:
    response = client.post(
        "/v1/models/quirky:predict",
        json={"instances": [[-1, 0]]},
        headers={"X-Request-ID": "trace-me-42"},
    )
    assert_error(response, 500, "internal_error", "trace-me-42")
    assert response.headers["x-request-id"] == "trace-me-42"
    assert_still_serving(client)
