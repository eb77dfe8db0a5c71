"""The fast lane answers exactly like the routed native endpoints it stands in for."""

from __future__ import annotations

from typing import Any

import pytest

from modelport.api.fastlane import is_fast_lane_request

from .conftest import AppClient

SETOSA = [5.1, 3.5, 1.4, 0.2]


def scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path}


@pytest.mark.parametrize(
    ("method", "path", "fast"),
    [
        ("POST", "/v1/models/iris-lr:predict", True),
        ("POST", "/v1/models/lr_iris.model/versions/1:predict", True),
        ("POST", "/v1/models/iris-lr/versions/latest:predict", True),
        ("GET", "/v1/models/iris-lr:predict", False),
        ("POST", "/v1/models/iris-lr/invocations", False),
        ("POST", "/v1/models/a/b:predict", False),
        ("POST", "/v2/models/iris-lr/infer", False),
    ],
)
def test_which_requests_take_the_lane(method: str, path: str, fast: bool) -> None:
    assert is_fast_lane_request(scope(method, path)) is fast


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/v1/models/iris-lr:predict", {"instances": [SETOSA]}),
        ("/v1/models/iris-lr/versions/1:predict?probabilities=true", {"instances": [SETOSA]}),
        ("/v1/models/iris-lr:predict", {"instances": [[1, 2]]}),
        ("/v1/models/nope:predict", {"instances": [SETOSA]}),
        ("/v1/models/iris-lr/versions/9:predict", {"instances": [SETOSA]}),
    ],
)
def test_lane_and_router_give_the_same_answer(iris: AppClient, url: str, body: Any) -> None:
    lane = iris.post(url, json=body)
    fast_lane = iris.app.fast_lane  # type: ignore[attr-defined]
    iris.app.fast_lane = None  # type: ignore[attr-defined]
    try:
        routed = iris.post(url, json=body)
    finally:
        iris.app.fast_lane = fast_lane  # type: ignore[attr-defined]
    assert (lane.status_code, lane.json()) == (routed.status_code, routed.json())
    assert lane.headers["content-type"] == routed.headers["content-type"]
    assert "x-request-id" in lane.headers


def test_lane_enforces_the_body_limit(make_client: Any, iris_models: Any) -> None:
    client = make_client(iris_models, max_body_size=2048)
    response = client.post("/v1/models/iris-lr:predict", json={"instances": [SETOSA] * 200})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_lane_echoes_a_sane_request_id_and_replaces_others(iris: AppClient) -> None:
    url = "/v1/models/iris-lr:predict"
    given = iris.post(url, json={"instances": [SETOSA]}, headers={"X-Request-ID": "trace-7"})
    assert given.headers["x-request-id"] == "trace-7"
    too_long = iris.post(url, json={"instances": [SETOSA]}, headers={"X-Request-ID": "x" * 129})
    made = too_long.headers["x-request-id"]
    assert len(made) == 32 and int(made, 16) >= 0
    failed = iris.post(url, json={"instances": [[1]]}, headers={"X-Request-ID": "bad-row"})
    assert (failed.status_code, failed.headers["x-request-id"]) == (422, "bad-row")
