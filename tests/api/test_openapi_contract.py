"""Every endpoint's real answers match the OpenAPI document the app publishes.

For each operation in /openapi.json a representative request (a success and a typical
error) is sent to an in-process app, and the JSON body is validated with ``jsonschema``
against the operation's response schema for that status, the document's components
resolved through a ``referencing.Registry``. The set of operations exercised must equal
the set in the document, so a new endpoint cannot go unchecked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .conftest import AppClient, MakeClient

ROW = [5.1, 3.5, 1.4, 0.2]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TENSOR = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}
_DOC_URI = "urn:modelport:openapi"

#: (method, path in the document, concrete URL, request options, expected status), in the
#: order sent: the management calls build on each other (upload, alias, delete).
Case = tuple[str, str, str, dict[str, Any], int]


def _cases(client: AppClient, upload: bytes) -> list[Case]:
    admin = {"headers": client.admin}
    predict = {"json": {"instances": [ROW]}}
    return [
        ("get", "/health/live", "/health/live", {}, 200),
        ("get", "/health/ready", "/health/ready", {}, 200),
        ("get", "/ping", "/ping", {}, 200),
        ("get", "/version", "/version", {}, 200),
        ("get", "/metrics", "/metrics", {}, 200),
        # native (V1)
        ("get", "/v1/models", "/v1/models", {}, 200),
        ("get", "/v1/models/{name}", "/v1/models/iris-lr", {}, 200),
        ("get", "/v1/models/{name}", "/v1/models/nope", {}, 404),
        ("get", "/v1/models/{name}/versions/{version}", "/v1/models/iris-lr/versions/1", {}, 200),
        ("get", "/v1/models/{name}/versions/{version}", "/v1/models/iris-lr/versions/9", {}, 404),
        ("post", "/v1/models/{name}:predict", "/v1/models/iris-lr:predict", predict, 200),
        (
            "post",
            "/v1/models/{name}:predict",
            "/v1/models/iris-lr:predict",
            {"json": {"instances": [[1.0]]}},
            422,
        ),
        ("post", "/v1/models/{name}:predict", "/v1/models/iris-lr:predict", {"json": {}}, 400),
        (
            "post",
            "/v1/models/{name}/versions/{version}:predict",
            "/v1/models/iris-lr/versions/1:predict",
            {"json": {"instances": [ROW]}, "params": {"probabilities": "true"}},
            200,
        ),
        (
            "post",
            "/v1/models/{name}/versions/{version}:predict",
            "/v1/models/iris-lr/versions/9:predict",
            predict,
            404,
        ),
        # MLflow
        ("post", "/invocations", "/invocations", {"json": {"inputs": [ROW]}}, 200),
        ("post", "/invocations", "/invocations", {"json": {"nothing": 1}}, 400),
        (
            "post",
            "/v1/models/{name}/invocations",
            "/v1/models/iris-lr/invocations",
            {"json": {"dataframe_split": {"columns": FEATURES, "data": [ROW]}}},
            200,
        ),
        (
            "post",
            "/v1/models/{name}/invocations",
            "/v1/models/nope/invocations",
            {"json": {"inputs": [ROW]}},
            404,
        ),
        # V2
        ("get", "/v2/health/live", "/v2/health/live", {}, 200),
        ("get", "/v2/health/ready", "/v2/health/ready", {}, 200),
        ("get", "/v2", "/v2", {}, 200),
        ("get", "/v2/models/{name}", "/v2/models/iris-lr", {}, 200),
        ("get", "/v2/models/{name}", "/v2/models/nope", {}, 404),
        ("get", "/v2/models/{name}/versions/{version}", "/v2/models/iris-lr/versions/1", {}, 200),
        ("get", "/v2/models/{name}/versions/{version}", "/v2/models/iris-lr/versions/9", {}, 404),
        ("get", "/v2/models/{name}/ready", "/v2/models/iris-lr/ready", {}, 200),
        ("get", "/v2/models/{name}/ready", "/v2/models/nope/ready", {}, 404),
        (
            "get",
            "/v2/models/{name}/versions/{version}/ready",
            "/v2/models/iris-lr/versions/1/ready",
            {},
            200,
        ),
        (
            "post",
            "/v2/models/{name}/infer",
            "/v2/models/iris-lr/infer",
            {"json": {"inputs": [TENSOR]}},
            200,
        ),
        (
            "post",
            "/v2/models/{name}/infer",
            "/v2/models/iris-lr/infer",
            {"json": {"inputs": 3}},
            400,
        ),
        (
            "post",
            "/v2/models/{name}/versions/{version}/infer",
            "/v2/models/iris-lr/versions/1/infer",
            {"json": {"inputs": [TENSOR]}},
            200,
        ),
        (
            "post",
            "/v2/models/{name}/versions/{version}/infer",
            "/v2/models/nope/versions/1/infer",
            {"json": {"inputs": [TENSOR]}},
            404,
        ),
        ("post", "/v2/repository/index", "/v2/repository/index", {"json": {}, **admin}, 200),
        (
            "post",
            "/v2/repository/models/{name}/unload",
            "/v2/repository/models/iris-dt/unload",
            admin,
            200,
        ),
        (
            "post",
            "/v2/repository/models/{name}/load",
            "/v2/repository/models/iris-dt/load",
            admin,
            200,
        ),
        (
            "post",
            "/v2/repository/models/{name}/load",
            "/v2/repository/models/nope/load",
            admin,
            404,
        ),
        # management
        (
            "post",
            "/v1/admin/models/{name}/versions",
            "/v1/admin/models/iris-lr/versions",
            {"params": {"filename": "model.joblib"}, "content": upload, **admin},
            201,
        ),
        (
            "post",
            "/v1/admin/models/{name}/versions",
            "/v1/admin/models/iris-lr/versions",
            {"params": {"filename": "model.joblib"}, "content": upload},
            401,
        ),
        (
            "get",
            "/v1/admin/models/{name}/versions",
            "/v1/admin/models/iris-lr/versions",
            admin,
            200,
        ),
        ("get", "/v1/admin/models/{name}/versions", "/v1/admin/models/nope/versions", admin, 404),
        (
            "put",
            "/v1/admin/models/{name}/aliases/{alias}",
            "/v1/admin/models/iris-lr/aliases/production",
            {"json": {"version": 1}, **admin},
            200,
        ),
        (
            "put",
            "/v1/admin/models/{name}/aliases/{alias}",
            "/v1/admin/models/iris-lr/aliases/production",
            {"json": {"version": 99}, **admin},
            404,
        ),
        (
            "put",
            "/v1/admin/models/{name}/traffic",
            "/v1/admin/models/iris-lr/traffic",
            {"json": {"traffic": {"production": 100, "1": 0}}, **admin},
            200,
        ),
        (
            "put",
            "/v1/admin/models/{name}/traffic",
            "/v1/admin/models/iris-lr/traffic",
            {"json": {"traffic": {"production": 50}}, **admin},
            400,
        ),
        (
            "put",
            "/v1/admin/models/{name}/traffic",
            "/v1/admin/models/iris-lr/traffic",
            {"json": {"traffic": {}}, **admin},
            200,
        ),
        (
            "put",
            "/v1/admin/models/{name}/shadow",
            "/v1/admin/models/iris-lr/shadow",
            {"json": {"version": 1, "sample_rate": 0.5}, **admin},
            200,
        ),
        (
            "put",
            "/v1/admin/models/{name}/shadow",
            "/v1/admin/models/iris-lr/shadow",
            {"json": {"version": "nope"}, **admin},
            404,
        ),
        (
            "put",
            "/v1/admin/models/{name}/shadow",
            "/v1/admin/models/iris-lr/shadow",
            {"json": {"version": None}, **admin},
            200,
        ),
        (
            "get",
            "/v1/admin/models/{name}/compare",
            "/v1/admin/models/iris-lr/compare",
            {"params": {"since": 60}, **admin},
            200,
        ),
        ("get", "/v1/admin/models/{name}/compare", "/v1/admin/models/nope/compare", admin, 404),
        (
            "delete",
            "/v1/admin/models/{name}/aliases/{alias}",
            "/v1/admin/models/iris-lr/aliases/production",
            admin,
            200,
        ),
        (
            "delete",
            "/v1/admin/models/{name}/versions/{version}",
            "/v1/admin/models/iris-lr/versions/2",
            admin,
            200,
        ),
        (
            "delete",
            "/v1/admin/models/{name}/versions/{version}",
            "/v1/admin/models/iris-lr/versions/2",
            admin,
            404,
        ),
        ("post", "/v1/admin/reload", "/v1/admin/reload", admin, 200),
        ("post", "/v1/admin/reload", "/v1/admin/reload", {}, 401),
        ("post", "/v1/admin/models/{name}/reload", "/v1/admin/models/iris-lr/reload", admin, 200),
        ("post", "/v1/admin/models/{name}/unload", "/v1/admin/models/iris-dt/unload", admin, 200),
        ("post", "/v1/admin/models/{name}/load", "/v1/admin/models/iris-dt/load", admin, 200),
        ("post", "/v1/admin/models/{name}/load", "/v1/admin/models/nope/load", admin, 404),
        ("get", "/v1/models/{name}/predictions", "/v1/models/iris-lr/predictions", admin, 200),
        ("get", "/v1/models/{name}/predictions", "/v1/models/iris-lr/predictions", {}, 401),
        ("get", "/v1/admin/stats", "/v1/admin/stats", admin, 200),
        ("get", "/v1/admin/status", "/v1/admin/status", admin, 200),
        ("get", "/v1/admin/status", "/v1/admin/status", {}, 401),
        ("get", "/v1/models/{name}/live", "/v1/models/iris-lr/live", {}, 200),
        ("get", "/v1/models/{name}/live", "/v1/models/nope/live", {}, 404),
        ("get", "/v1/models/{name}/monitor", "/v1/models/iris-lr/monitor", {}, 200),
        ("get", "/v1/models/{name}/monitor", "/v1/models/nope/monitor", {}, 404),
        (
            "get",
            "/v1/admin/audit",
            "/v1/admin/audit",
            {"params": {"model": "iris-lr"}, **admin},
            200,
        ),
        ("get", "/v1/admin/audit", "/v1/admin/audit", {"params": {"model": "../x"}, **admin}, 400),
        (
            "get",
            "/v1/admin/stats",
            "/v1/admin/stats",
            {"headers": {"authorization": "Bearer x"}},
            403,
        ),
    ]


def _documented(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    responses = document["paths"][path][method]["responses"]
    answer = responses.get(str(status)) or responses.get("default")
    assert answer is not None, f"{method.upper()} {path}: {status} is not documented"
    return answer


def _check(document: dict[str, Any], case: Case, response: Any) -> None:
    method, path, url, _, status = case
    assert response.status_code == status, f"{method.upper()} {url}: {response.text}"
    content = _documented(document, method, path, status).get("content", {})
    media_type = response.headers.get("content-type", "").partition(";")[0]
    if not response.content.strip():
        # MLflow's /ping answers a bare newline, as MLflow does: no JSON to check.
        assert not content.get(media_type, {}).get("schema"), f"{url}: empty body"
        return
    if media_type != "application/json":
        assert media_type in content or not content, f"{url}: {media_type} undocumented"
        return
    schema = _rebase(content.get("application/json", {}).get("schema", {}))
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_DOC_URI, resource)
    jsonschema.Draft202012Validator(schema, registry=registry).validate(response.json())


def _rebase(schema: Any) -> Any:
    """``#/components/...`` pointers of an operation's schema, aimed at the whole document."""
    if isinstance(schema, dict):
        return {
            key: (_DOC_URI + value if key == "$ref" and value.startswith("#") else _rebase(value))
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(item) for item in schema]
    return schema


@pytest.mark.parametrize("routed", [False, True], ids=["fastlane", "routed"])
def test_every_endpoint_answers_as_its_openapi_schema_says(
    make_client: MakeClient, iris_models: Path, routed: bool
) -> None:
    client = make_client(
        iris_models,
        log_predictions=True,
        log_flush_interval=0.05,
        default_model="iris-lr",
        allow_pickle_uploads=True,
    )
    document = client.get("/openapi.json").json()
    sender = client.routed() if routed else client
    upload = (iris_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    cases = _cases(client, upload)
    try:
        for case in cases:
            method, _, url, options, _ = case
            _check(document, case, sender.request(method, url, **options))
    finally:
        if routed:
            sender.close()
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert {(method, path) for method, path, *_ in cases} == documented


#: Operations whose success answer has no schema yet (a JSON body of any shape passes):
#: the contracts still to write. The list may only shrink.
UNTYPED_SUCCESS = {
    ("get", "/ping"),
    ("post", "/v2/repository/models/{name}/load"),
    ("post", "/v2/repository/models/{name}/unload"),
    ("get", "/v1/models/{name}/predictions"),
    ("get", "/v1/admin/stats"),
}


def test_success_answers_without_a_schema_are_only_the_known_ones(
    make_client: MakeClient, iris_models: Path
) -> None:
    document = make_client(iris_models).get("/openapi.json").json()
    untyped = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            content = success.get("content", {})
            if not any(media.get("schema") for media in content.values()):
                untyped.add((method, path))
    assert untyped == UNTYPED_SUCCESS
