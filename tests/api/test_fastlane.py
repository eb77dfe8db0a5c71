"""The fast lane answers exactly like the routed endpoints it stands in for.

One matrix of requests (good ones, every kind of bad input, every access case, request
ids, browser origins under CORS) is sent twice: through the fast lane and through the
framework's routing and middleware; both must give the same status, body and headers. A
fast path added for another protocol adds its paths to ``FAST_PATHS``: a test fails
until it does.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from modelport.api.fastlane import FastLane, is_fast_lane_request

from .conftest import TEST_ADMIN_TOKEN, AppClient, copy_iris, running_app

SETOSA = [5.1, 3.5, 1.4, 0.2]
API_TOKEN = "api-token-of-the-fast-lane-matrix"
LIMIT = 4096

#: Every path a fast lane serves, as the routed endpoints declare them.
FAST_PATHS = {
    ("POST", "/v1/models/{name}:predict"),
    ("POST", "/v1/models/{name}/versions/{version}:predict"),
    ("POST", "/v2/models/{name}/infer"),
    ("POST", "/v2/models/{name}/versions/{version}/infer"),
}

PREDICT = "/v1/models/iris-lr:predict"
VERSION = "/v1/models/iris-lr/versions/{}:predict"
ROW = b"[5.1, 3.5, 1.4, 0.2]"

#: (id, url, body, headers): the requests of the matrix, on a server without api_token.
INPUTS: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("rows", PREDICT, b'{"instances": [%s]}' % ROW, {}),
    ("inputs", PREDICT, b'{"inputs": [%s, %s]}' % (ROW, ROW), {}),
    ("probabilities query", PREDICT + "?probabilities=true", b'{"instances": [%s]}' % ROW, {}),
    (
        "probabilities parameter",
        PREDICT,
        b'{"instances": [%s], "parameters": {"probabilities": true}}' % ROW,
        {},
    ),
    (
        "records",
        PREDICT,
        b'{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,'
        b' "petal_width": 0.2}]}',
        {},
    ),
    ("version", VERSION.format(1), b'{"instances": [%s]}' % ROW, {}),
    ("latest", VERSION.format("latest"), b'{"instances": [%s]}' % ROW, {}),
    ("alias of the file name", "/v1/models/lr_iris.model:predict", b'{"instances": [[1,2]]}', {}),
    ("empty body", PREDICT, b"", {}),
    ("blank body", PREDICT, b" \n ", {}),
    ("not JSON", PREDICT, b"{", {}),
    ("not UTF-8", PREDICT, b"\xff\xfe{}", {}),
    ("JSON array", PREDICT, b"[[5.1, 3.5, 1.4, 0.2]]", {}),
    ("no envelope", PREDICT, b'{"rows": [[1]]}', {}),
    ("two envelopes", PREDICT, b'{"instances": [%s], "inputs": [%s]}' % (ROW, ROW), {}),
    ("unknown key", PREDICT, b'{"instances": [%s], "extra": 1}' % ROW, {}),
    ("parameters not an object", PREDICT, b'{"instances": [%s], "parameters": []}' % ROW, {}),
    (
        "bad probabilities parameter",
        PREDICT,
        b'{"instances": [%s], "parameters": {"probabilities": "maybe"}}' % ROW,
        {},
    ),
    ("bad probabilities query", PREDICT + "?probabilities=maybe", b'{"instances": [[1]]}', {}),
    ("too few features", PREDICT, b'{"instances": [[1, 2]]}', {}),
    ("too many features", PREDICT, b'{"instances": [[1, 2, 3, 4, 5]]}', {}),
    ("text for a number", PREDICT, b'{"instances": [["a", 3.5, 1.4, 0.2]]}', {}),
    ("booleans", PREDICT, b'{"instances": [[true, 3.5, 1.4, 0.2]]}', {}),
    ("no rows", PREDICT, b'{"instances": []}', {}),
    ("too deep", PREDICT, b'{"instances": [[[5.1, 3.5, 1.4, 0.2]]]}', {}),
    ("a number", PREDICT, b'{"instances": 5}', {}),
    ("huge number", PREDICT, b'{"instances": [[1e999, 3.5, 1.4, 0.2]]}', {}),
    ("unknown feature", PREDICT, b'{"instances": [{"petal": 1}]}', {}),
    ("dataframe_split without data", PREDICT, b'{"dataframe_split": {"columns": []}}', {}),
    ("unknown model", "/v1/models/nope:predict", b'{"instances": [%s]}' % ROW, {}),
    ("bad model name", "/v1/models/..:predict", b'{"instances": [%s]}' % ROW, {}),
    ("unknown version", VERSION.format(9), b'{"instances": [%s]}' % ROW, {}),
    ("unknown alias", VERSION.format("production"), b'{"instances": [%s]}' % ROW, {}),
    ("huge version", VERSION.format("9" * 40), b'{"instances": [%s]}' % ROW, {}),
    ("body over the limit", PREDICT, b'{"instances": [%s]}' % b",".join([ROW] * 250), {}),
    ("sane request id", PREDICT, b'{"instances": [%s]}' % ROW, {"X-Request-ID": "trace-7"}),
    ("request id on an error", PREDICT, b'{"instances": [[1]]}', {"X-Request-ID": "bad-row"}),
    ("request id too long", PREDICT, b'{"instances": [%s]}' % ROW, {"X-Request-ID": "x" * 129}),
    ("other host", PREDICT, b'{"instances": [%s]}' % ROW, {"Host": "evil.example"}),
    ("host with port", PREDICT, b'{"instances": [%s]}' % ROW, {"Host": "localhost:8000"}),
]

INFER = "/v2/models/iris-lr/infer"
V2_ROW = b'{"name": "input-0", "datatype": "FP64", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}'
V2_BODY = b'{"inputs": [%s]}' % V2_ROW
#: Four little-endian float64s: the binary tensor extension's form of the row.
RAW_ROW = struct.pack("<4d", *SETOSA)
BINARY_JSON = (
    b'{"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 4],'
    b' "parameters": {"binary_data_size": 32}}], "outputs": [{"name": "predict",'
    b' "parameters": {"binary_data": true}}]}'
)
_LENGTH = "Inference-Header-Content-Length"

#: (id, url, body, headers): Open Inference Protocol infer requests, same server.
V2_INPUTS: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("v2 rows", INFER, V2_BODY, {}),
    ("v2 with id", INFER, b'{"id": "r1", "inputs": [%s]}' % V2_ROW, {}),
    ("v2 version", "/v2/models/iris-lr/versions/1/infer", V2_BODY, {}),
    (
        "v2 probabilities",
        INFER,
        b'{"inputs": [%s], "outputs": [{"name": "predict_proba"}]}' % V2_ROW,
        {},
    ),
    ("v2 binary in and out", INFER, BINARY_JSON + RAW_ROW, {_LENGTH: str(len(BINARY_JSON))}),
    (
        "v2 binary output for all",
        INFER,
        b'{"inputs": [%s], "parameters": {"binary_data_output": true}}' % V2_ROW,
        {},
    ),
    ("v2 gzip", INFER, gzip.compress(V2_BODY), {"Content-Encoding": "gzip"}),
    ("v2 deflate", INFER, zlib.compress(V2_BODY), {"Content-Encoding": "deflate"}),
    ("v2 unknown encoding", INFER, V2_BODY, {"Content-Encoding": "br"}),
    ("v2 broken gzip", INFER, b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip"}),
    ("v2 gzip bomb", INFER, gzip.compress(b" " * 100_000), {"Content-Encoding": "gzip"}),
    ("v2 header length too big", INFER, V2_BODY, {_LENGTH: "99999"}),
    ("v2 header length not a number", INFER, V2_BODY, {_LENGTH: "ten"}),
    (
        "v2 binary size past the end",
        INFER,
        BINARY_JSON + RAW_ROW[:8],
        {_LENGTH: str(len(BINARY_JSON))},
    ),
    ("v2 bytes left over", INFER, V2_BODY + b"xx", {_LENGTH: str(len(V2_BODY))}),
    ("v2 empty body", INFER, b"", {}),
    ("v2 not JSON", INFER, b"{", {}),
    ("v2 JSON array", INFER, b"[]", {}),
    ("v2 no inputs", INFER, b'{"inputs": []}', {}),
    ("v2 input without name", INFER, b'{"inputs": [{"data": [1]}]}', {}),
    ("v2 input twice", INFER, b'{"inputs": [%s, %s]}' % (V2_ROW, V2_ROW), {}),
    (
        "v2 wrong shape",
        INFER,
        b'{"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 3], "data": [1, 2]}]}',
        {},
    ),
    (
        "v2 unknown datatype",
        INFER,
        b'{"inputs": [{"name": "x", "datatype": "FP65", "shape": [1], "data": [1]}]}',
        {},
    ),
    (
        "v2 too few features",
        INFER,
        b'{"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}]}',
        {},
    ),
    ("v2 id not a string", INFER, b'{"id": 7, "inputs": [%s]}' % V2_ROW, {}),
    (
        "v2 classification",
        INFER,
        b'{"inputs": [%s], "outputs": [{"name": "predict",'
        b' "parameters": {"classification": 2}}]}' % V2_ROW,
        {},
    ),
    ("v2 unknown output", INFER, b'{"inputs": [%s], "outputs": [{"name": "nope"}]}' % V2_ROW, {}),
    ("v2 unknown model", "/v2/models/nope/infer", V2_BODY, {}),
    ("v2 unknown version", "/v2/models/iris-lr/versions/9/infer", V2_BODY, {}),
    ("v2 body over the limit", INFER, b'{"inputs": [%s]}' % b",".join([V2_ROW] * 60), {}),
    ("v2 request id", INFER, V2_BODY, {"X-Request-ID": "v2-trace"}),
    ("v2 other host", INFER, V2_BODY, {"Host": "evil.example"}),
]

_BIG = b'{"instances": [%s]}' % b",".join([ROW] * 250)
_ADMIN = f"Bearer {TEST_ADMIN_TOKEN}"
#: (id, headers, body): every access case on a server with api_token set.
ACCESS: list[tuple[str, dict[str, str], bytes]] = [
    ("no token", {}, b'{"instances": [%s]}' % ROW),
    ("api token", {"Authorization": f"Bearer {API_TOKEN}"}, b'{"instances": [%s]}' % ROW),
    ("admin token", {"Authorization": _ADMIN}, b'{"instances": [%s]}' % ROW),
    ("lower-case scheme", {"Authorization": f"bearer {API_TOKEN}"}, b'{"instances": [[1]]}'),
    ("wrong token", {"Authorization": "Bearer nope"}, b'{"instances": [%s]}' % ROW),
    ("other scheme", {"Authorization": f"Basic {API_TOKEN}"}, b'{"instances": [%s]}' % ROW),
    ("scheme alone", {"Authorization": "Bearer"}, b'{"instances": [%s]}' % ROW),
    ("token, bad input", {"Authorization": f"Bearer {API_TOKEN}"}, b"{"),
    ("no token, bad input", {}, b"{"),
    ("other host, no token", {"Host": "evil.example"}, b'{"instances": [%s]}' % ROW),
    (
        "other host, api token",
        {"Host": "evil.example", "Authorization": f"Bearer {API_TOKEN}"},
        b'{"instances": [%s]}' % ROW,
    ),
    ("body over the limit, no token", {}, _BIG),
    ("body over the limit, other host", {"Host": "evil.example"}, _BIG),
]


ORIGIN = "http://app.example"
#: (id, headers, body): browser requests, on a server with cors_origins set.
CORS: list[tuple[str, dict[str, str], bytes]] = [
    ("allowed origin", {"Origin": ORIGIN}, b'{"instances": [%s]}' % ROW),
    ("allowed origin, bad input", {"Origin": ORIGIN}, b'{"instances": [[1]]}'),
    ("allowed origin, unknown key", {"Origin": ORIGIN}, b'{"instances": [[1]], "x": 1}'),
    ("allowed origin, over the limit", {"Origin": ORIGIN}, _BIG),
    ("allowed origin, other host", {"Origin": ORIGIN, "Host": "evil.example"}, b"{}"),
    ("other origin", {"Origin": "http://evil.example"}, b'{"instances": [%s]}' % ROW),
    ("no origin", {}, b'{"instances": [%s]}' % ROW),
]


@pytest.fixture(scope="module")
def models(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_iris(trained_models, tmp_path_factory.mktemp("lane") / "models")


@pytest.fixture(scope="module")
def open_server(models: Path) -> Iterator[AppClient]:
    with running_app(models, max_body_size=LIMIT) as client:
        yield client


@pytest.fixture(scope="module")
def token_server(models: Path) -> Iterator[AppClient]:
    with running_app(models, max_body_size=LIMIT, api_token=API_TOKEN) as client:
        yield client


@pytest.fixture(scope="module")
def cors_server(models: Path) -> Iterator[AppClient]:
    with running_app(models, max_body_size=LIMIT, cors_origins=[ORIGIN]) as client:
        yield client


class CountingLane:
    """Counts the requests the fast lane answers (the lane's own class, spied on)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        answer = FastLane.__call__

        async def counting(lane: FastLane, *args: Any) -> None:
            self.calls += 1
            await answer(lane, *args)

        monkeypatch.setattr(FastLane, "__call__", counting)


def both_paths(
    client: AppClient, monkeypatch: pytest.MonkeyPatch, url: str, body: bytes, headers: Any
) -> tuple[httpx.Response, httpx.Response]:
    """The answer of the fast lane, then of the router, to the same request."""
    spy = CountingLane(monkeypatch)
    lane = client.post(url, content=body, headers=headers)
    assert spy.calls == 1, "the fast lane did not answer"
    routed_client = client.routed()
    try:
        routed = routed_client.post(url, content=body, headers=headers)
    finally:
        routed_client.close()
    assert spy.calls == 1, "the fast lane answered a routed request"
    return lane, routed


def assert_same(lane: httpx.Response, routed: httpx.Response, headers: dict[str, str]) -> None:
    assert (lane.status_code, lane.content) == (routed.status_code, routed.content)
    given = headers.get("X-Request-ID")
    if given is not None and len(given) <= 128:
        assert lane.headers["x-request-id"] == routed.headers["x-request-id"] == given
    for answer in (lane, routed):
        assert re.fullmatch(r"\S{1,128}", answer.headers["x-request-id"])
        if given is not None and len(given) > 128:
            assert re.fullmatch("[0-9a-f]{32}", answer.headers["x-request-id"])

    def comparable(answer: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in answer.headers.items() if k != "x-request-id"}

    assert comparable(lane) == comparable(routed)


@pytest.mark.parametrize(
    ("url", "body", "headers"),
    [pytest.param(url, body, headers, id=name) for name, url, body, headers in INPUTS],
)
def test_every_input_gets_the_same_answer_on_both_paths(
    open_server: AppClient,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> None:
    lane, routed = both_paths(open_server, monkeypatch, url, body, headers)
    assert_same(lane, routed, headers)
    assert lane.status_code < 500  # bad input is the client's to fix, never a 500


@pytest.mark.parametrize(
    ("url", "body", "headers"),
    [pytest.param(url, body, headers, id=name) for name, url, body, headers in V2_INPUTS],
)
def test_every_v2_infer_gets_the_same_answer_on_both_paths(
    open_server: AppClient,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> None:
    lane, routed = both_paths(open_server, monkeypatch, url, body, headers)
    assert_same(lane, routed, headers)
    assert lane.status_code < 500


@pytest.mark.parametrize(
    ("headers", "body"), [pytest.param(h, b, id=name) for name, h, b in ACCESS]
)
def test_every_access_case_gets_the_same_answer_on_both_paths(
    token_server: AppClient,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
    body: bytes,
) -> None:
    lane, routed = both_paths(token_server, monkeypatch, PREDICT, body, headers)
    assert_same(lane, routed, headers)


@pytest.mark.parametrize(("headers", "body"), [pytest.param(h, b, id=name) for name, h, b in CORS])
def test_every_cors_case_gets_the_same_answer_on_both_paths(
    cors_server: AppClient,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
    body: bytes,
) -> None:
    lane, routed = both_paths(cors_server, monkeypatch, PREDICT, body, headers)
    assert_same(lane, routed, headers)
    granted = lane.headers.get("access-control-allow-origin")
    assert granted == (ORIGIN if headers.get("Origin") == ORIGIN else None)


def test_the_matrix_decides_what_it_should(
    open_server: AppClient, token_server: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few answers of the matrix, checked against what they must be (on both paths
    alike, by the tests above)."""
    expected = {
        "rows": 200,
        "empty body": 400,
        "too few features": 422,
        "unknown model": 404,
        "body over the limit": 413,
        "other host": 400,
    }
    v2_expected = {
        "v2 rows": 200,
        "v2 binary in and out": 200,
        "v2 gzip": 200,
        "v2 unknown encoding": 400,
        "v2 gzip bomb": 413,
        "v2 header length too big": 400,
        "v2 unknown model": 404,
        "v2 body over the limit": 413,
    }
    for name, url, body, headers in INPUTS + V2_INPUTS:
        if name in expected or name in v2_expected:
            answer = open_server.post(url, content=body, headers=headers)
            assert answer.status_code == {**expected, **v2_expected}[name], name
    access = {
        "no token": 401,
        "api token": 200,
        "admin token": 200,
        "wrong token": 403,
        "other scheme": 401,
        "other host, api token": 400,
        "body over the limit, no token": 413,
    }
    for name, headers, body in ACCESS:
        if name in access:
            answer = token_server.post(PREDICT, content=body, headers=headers)
            assert answer.status_code == access[name], name
            if access[name] == 401:
                assert answer.headers["www-authenticate"] == "Bearer"


def test_the_lane_answers_binary_tensors_in_the_extensions_framing(
    open_server: AppClient,
) -> None:
    answer = open_server.post(
        INFER, content=BINARY_JSON + RAW_ROW, headers={_LENGTH: str(len(BINARY_JSON))}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    size = int(answer.headers[_LENGTH])
    header = json.loads(answer.content[:size])
    assert header["outputs"][0]["name"] == "predict"
    raw = answer.content[size:]
    assert header["outputs"][0]["parameters"] == {"binary_data_size": len(raw)}
    # BYTES tensors: each element is a 4-byte little-endian length, then the bytes.
    assert raw == struct.pack("<I", 6) + b"setosa"


def test_a_streamed_body_over_the_limit_is_refused_on_both_paths(
    open_server: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Content-Length the body is counted as it arrives."""

    async def chunks() -> Any:
        for _ in range(8):
            yield b" " * 1024

    spy = CountingLane(monkeypatch)
    lane = open_server.post(PREDICT, content=chunks())
    routed_client = open_server.routed()
    try:
        routed = routed_client.post(PREDICT, content=chunks())
    finally:
        routed_client.close()
    assert spy.calls == 1
    assert (lane.status_code, lane.json()) == (routed.status_code, routed.json())
    assert lane.json()["error"] == "payload_too_large"


def test_every_fast_path_is_in_the_matrix(open_server: AppClient) -> None:
    """Each routed endpoint a fast lane takes over is one of FAST_PATHS, and the other
    way round: so a new fast path cannot skip the matrix."""
    taken = set()
    routes: list[Any] = []
    for route in open_server.app.routes:
        # FastAPI keeps an included router as one entry; its routes carry full paths.
        included = getattr(route, "original_router", None)
        routes.extend(included.routes if included is not None else [route])
    assert len(routes) > 20
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        sample = re.sub(r"\{\w+\}", "m", route.path)
        for method in route.methods or ():
            if is_fast_lane_request({"type": "http", "method": method, "path": sample}):
                taken.add((method, route.path))
    assert taken == FAST_PATHS


@pytest.mark.parametrize(
    ("method", "path", "fast"),
    [
        ("POST", "/v1/models/iris-lr:predict", True),
        ("POST", "/v1/models/lr_iris.model/versions/1:predict", True),
        ("POST", "/v1/models/iris-lr/versions/latest:predict", True),
        ("GET", "/v1/models/iris-lr:predict", False),
        ("POST", "/v1/models/iris-lr/invocations", False),
        ("POST", "/v1/models/a/b:predict", False),
        ("POST", "/v2/models/iris-lr/infer", True),
        ("POST", "/v2/models/iris-lr/versions/2/infer", True),
        ("POST", "/v2/models/versions/infer", True),
        ("POST", "/v2/models/iris-lr/versions/infer", False),
        ("POST", "/v2/models/a/b/infer", False),
        ("GET", "/v2/models/iris-lr/infer", False),
        ("POST", "/v2/models/iris-lr/ready", False),
        ("POST", "/v1/models/iris-lr/infer", False),
        ("POST", "/v2/repository/index", False),
    ],
)
def test_which_requests_take_the_lane(method: str, path: str, fast: bool) -> None:
    assert is_fast_lane_request({"type": "http", "method": method, "path": path}) is fast
