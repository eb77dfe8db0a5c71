"""Custom routes in-process: binding, request parsing, answers, error shapes, collisions,
OpenAPI, admin routes, CORS, the server handle (models, store, database)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from modelport.routes import load_routes

from .conftest import AppClient, MakeClient, running_app

ROUTES_PY = '''
import asyncio
import time

from sqlalchemy import text

from modelport.errors import InvalidRequestError
from modelport.routes import Reply


def species(request, server):
    """Iris species from four query parameters (default 2.0)."""
    row = [request.arg(n, 2.0, float) for n in ("sl", "sw", "pl", "pw")]
    answer = server.predict("iris-lr", row)
    return {"status": 0, "model": answer.model, "version": answer.version,
            "label": answer.predictions[0]}


async def species_async(request, server):
    answer = await server.apredict("iris-lr", request.json["rows"], probabilities=True)
    return {"labels": answer.predictions, "p": answer.probabilities[0]["setosa"] > 0.5}


def hello():
    return "hello!!"


def created(request):
    return {"id": request.path_params["item"]}, 201, {"X-Thing": "yes"}


def raw(request):
    return Reply(b"\\x00\\x01", status=202, media_type="application/x-thing")


def greet(request):
    return {"result": "Hello, {}!".format(request.json["name"])}


def refuse(request):
    raise InvalidRequestError(
        "Bad Request: " + request.url + "--> Please check your data payload..."
    )


def boom(request):
    raise RuntimeError("a bug in the route")


def slow(request):
    time.sleep(1.5)
    return {"late": True}


def remember(request, server):
    server.store.set("k:" + request.arg("key"), {"v": request.arg("value", type=float)})
    return {"stored": server.store.get("k:" + request.arg("key"))}


def sql(request, server):
    with server.database.begin() as connection:
        return {"one": connection.execute(text("SELECT 1")).scalar_one()}


def reload(request, server):
    return {"report": server.reload(request.arg("model", None))}


def sneaky_reload(request, server):
    return server.reload()


def upload(request, server):
    part = request.files["file"]
    return server.upload("iris-lr", part.filename, part.data)


def echo(request):
    files = {k: [f.filename, len(f.data)] for k, f in request.files.items()}
    return {"form": dict(request.form), "files": files, "query": dict(request.query_lists),
            "agent": request.header("User-Agent")}
'''

ROUTES_YAML = """
errors: {status: "{status}", error: "{message}"}
json: tornado
routes:
  - {path: /iris/species, handler: species}
  - {path: /iris/species, method: POST, handler: species_async, json: compact}
  - {path: /, handler: hello}
  - {path: "/items/{item}", method: PUT, handler: created}
  - {path: /raw, handler: raw}
  - path: /refuse
    method: POST
    handler: refuse
    errors: {status: "{status}", message: "{message}"}
    json: flask
  - {path: /boom, handler: boom}
  - {path: /slow, handler: slow}
  - {path: /remember, handler: remember}
  - {path: /sql, handler: sql}
  - {path: /reload, handler: reload, admin: true}
  - {path: /sneaky, handler: sneaky_reload}
  - {path: /upload, method: POST, handler: upload, admin: true}
  - {path: /echo, method: POST, handler: echo}
  - {path: /open, handler: hello, cors: "*"}
  - {path: /closed, handler: hello, cors: false}
  - {path: /health/live, handler: hello}
  - {path: /docs, handler: hello}
  - {path: "/v1/models/{name}:predict", method: POST, handler: hello}
  - {path: /v2/anything, handler: hello}
  - {path: /, handler: hello}
  - {path: /missing, handler: nowhere}
  - {path: /nofile, handler: "other.py:hello"}
"""

GREET_YAML = """
description: says hello
routes:
  - path: /v1/Greeter
    method: POST
    handler: greet
    json: flask-restful
    errors: {message: "{message}"}
    schema:
      type: object
      properties: {name: {type: string}}
      required: [name]
"""


@pytest.fixture(scope="module")
def route_models(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("routes") / "models"
    shutil.copytree(trained_models / "iris-lr", models / "iris-lr")
    (models / "routes.py").write_text(ROUTES_PY)
    (models / "routes.yaml").write_text(ROUTES_YAML)
    (models / "greeter").mkdir()
    (models / "greeter" / "model.yaml").write_text(GREET_YAML)
    (models / "greeter" / "routes.py").write_text(ROUTES_PY)
    (models / "greeter" / "1").mkdir()
    (models / "greeter" / "1" / "model.py").write_text(
        "def predict(name: str) -> str:\n    return f'Hello, {name}!'\n"
    )
    return models


@pytest.fixture(scope="module")
def client(route_models: Path) -> Iterator[AppClient]:
    with running_app(route_models, request_timeout=1.0, cors_origins=("http://a.example",)) as app:
        yield app


def test_refused_routes_are_named_and_the_rest_load(route_models: Path) -> None:
    table = load_routes(route_models)
    problems = "\n".join(table.problems)
    assert "GET / (routes.yaml): already declared in routes.yaml" in problems
    assert "GET /missing (routes.yaml): routes.py defines no function 'nowhere'" in problems
    assert "GET /nofile (routes.yaml): handler file 'other.py' is not a file in models/" in problems
    labels = {route.label for route in table.routes}
    assert {"GET /iris/species", "POST /iris/species", "POST /v1/Greeter"} <= labels


def test_a_route_calls_a_model_through_the_inference_path(client: AppClient) -> None:
    answer = client.get("/iris/species")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=UTF-8"
    # Tornado's spacing (json: tornado), keys in the function's order.
    assert answer.content.startswith(b'{"status": 0, "model": "iris-lr", "version": 1, "label": "')
    assert (
        client.get("/iris/species", params={"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2}).json()[
            "label"
        ]
        == "setosa"
    )


def test_async_route_and_probabilities(client: AppClient) -> None:
    answer = client.post("/iris/species", json={"rows": [[5.1, 3.5, 1.4, 0.2]]})
    assert answer.content == b'{"labels":["setosa"],"p":true}'


def test_bad_query_and_model_input_answer_the_route_shape(client: AppClient) -> None:
    answer = client.get("/iris/species", params={"sl": "abc"})
    assert answer.status_code == 400
    assert answer.json() == {"status": 400, "error": "parameter 'sl' must be a number, got 'abc'"}
    answer = client.post("/iris/species", json={"rows": [[1, 2]]})
    assert answer.status_code == 422
    assert set(answer.json()) == {"status", "error"}
    answer = client.post("/iris/species", content=b"{not json")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("the body is not valid JSON")


def test_text_tuple_and_reply_answers(client: AppClient) -> None:
    hello = client.get("/")
    assert (hello.status_code, hello.text) == (200, "hello!!")
    assert hello.headers["content-type"].startswith("text/plain")
    created = client.request("PUT", "/items/42")
    assert created.status_code == 201
    assert created.headers["x-thing"] == "yes"
    assert created.json() == {"id": "42"}
    raw = client.get("/raw")
    assert (raw.status_code, raw.content, raw.headers["content-type"]) == (
        202,
        b"\x00\x01",
        "application/x-thing",
    )


def test_schema_validation_and_flask_restful_style(client: AppClient) -> None:
    missing = client.post("/v1/Greeter")
    assert (missing.status_code, missing.content) == (400, b'{"message": "No JSON object"}\n')
    empty = client.post("/v1/Greeter", json={})
    assert (empty.status_code, empty.content) == (
        400,
        b'{"message": "\'name\' is a required property"}\n',
    )
    wrong = client.post("/v1/Greeter", json={"name": 3})
    assert wrong.json() == {"message": "3 is not of type 'string'"}
    ok = client.post("/v1/Greeter", json={"name": "Leo"})
    assert (ok.status_code, ok.content) == (200, b'{"result": "Hello, Leo!"}\n')


def test_a_refusal_uses_the_route_template_and_flask_style(client: AppClient) -> None:
    answer = client.post("/refuse", json=[])
    assert answer.status_code == 400
    assert answer.content == (
        b'{"message":"Bad Request: http://localhost/refuse--> Please check your data '
        b'payload...","status":400}\n'
    )


def test_a_bug_is_a_500_in_the_route_shape_with_the_request_id(client: AppClient) -> None:
    answer = client.get("/boom", headers={"X-Request-ID": "rid-42"})
    assert answer.status_code == 500
    assert answer.json() == {
        "status": 500,
        "error": "internal server error; quote request id rid-42 when reporting it",
    }
    assert client.get("/").status_code == 200  # still serving


def test_wrong_method_answers_the_route_shape(client: AppClient) -> None:
    answer = client.get("/refuse")
    assert answer.status_code == 405
    assert answer.content == b'{"message":"GET is not allowed on /refuse","status":405}\n'


@pytest.mark.slow  # the route sleeps past the real 1 s request timeout
def test_slow_route_times_out_with_504(client: AppClient) -> None:
    answer = client.get("/slow")
    assert answer.status_code == 504
    assert "did not answer within 1 s" in answer.json()["error"]


def test_store_and_database_handles(client: AppClient) -> None:
    assert client.get("/remember", params={"key": "a", "value": 1.5}).json() == {
        "stored": {"v": 1.5}
    }
    assert client.get("/sql").json() == {"one": 1}


def test_collisions_with_built_ins_are_refused(client: AppClient) -> None:
    assert client.get("/health/live").json() == {"status": "live"}
    assert client.get("/docs").headers["content-type"].startswith("text/html")
    problems = "\n".join(client.app.state.route_problems)
    assert (
        "GET /health/live (routes.yaml) collides with a built-in endpoint "
        "(modelport answers GET /health/live)" in problems
    )
    assert "GET /docs (routes.yaml) collides with a built-in endpoint" in problems
    assert "POST /v1/models/{name}:predict (routes.yaml) collides with a built-in" in problems
    assert "GET /v2/anything (routes.yaml) collides with the paths modelport keeps" in problems


def test_openapi_lists_the_routes(client: AppClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    species = paths["/iris/species"]["get"]
    assert species["tags"] == ["custom routes"]
    assert species["summary"] == "Iris species from four query parameters (default 2.0)."
    greet = paths["/v1/Greeter"]["post"]
    schema = greet["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["name"]
    assert paths["/items/{item}"]["put"]["parameters"][0]["name"] == "item"
    assert "/health/live" in paths and "/missing" not in paths


def test_management_needs_an_admin_route(client: AppClient) -> None:
    answer = client.get("/sneaky")
    assert answer.status_code == 403
    assert "declare it with admin: true" in answer.json()["error"]
    # Coming from 127.0.0.1 is not enough: an admin route needs the token.
    assert client.get("/reload", params={"model": "iris-lr"}).status_code == 401
    assert client.get("/reload", params={"model": "iris-lr"}, headers=client.admin).json() == {
        "report": {"iris-lr": "unchanged"}
    }


def test_admin_routes_with_a_token(
    route_models: Path, tmp_path: Path, make_client: MakeClient
) -> None:
    models = tmp_path / "models"
    shutil.copytree(route_models, models)
    client = make_client(models, admin_token="s3cret", allow_pickle_uploads=True)
    refused = client.get("/reload")
    assert refused.status_code == 401
    assert refused.json()["status"] == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert client.get("/reload", params={"model": "iris-lr"}, headers=auth).json() == {
        "report": {"iris-lr": "unchanged"}
    }
    artifact = (models / "iris-lr" / "1" / "model.joblib").read_bytes()
    uploaded = client.post("/upload", files={"file": ("model.joblib", artifact)}, headers=auth)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["version"] == 2
    assert client.get("/iris/species").json()["version"] == 2


def test_form_and_files_and_query_lists(client: AppClient) -> None:
    answer = client.post(
        "/echo?x=1&x=2",
        data={"a": "b"},
        files={"f": ("name.bin", b"12345")},
        headers={"User-Agent": "tester"},
    )
    assert answer.json() == {
        "form": {"a": "b"},
        "files": {"f": ["name.bin", 5]},
        "query": {"x": ["1", "2"]},
        "agent": "tester",
    }


def test_a_broken_form_is_a_400_in_the_route_shape(client: AppClient) -> None:
    answer = client.post(
        "/echo",
        content=b"--xyz\r\nnonsense",
        headers={"Content-Type": "multipart/form-data"},
    )
    assert answer.status_code == 400
    assert answer.json()["status"] == 400


def test_cors_server_origins_and_route_overrides(client: AppClient) -> None:
    origin = {"Origin": "http://a.example"}
    answer = client.get("/", headers=origin)
    assert answer.headers["access-control-allow-origin"] == "http://a.example"
    assert "origin" in answer.headers["vary"].lower()
    assert (
        "access-control-allow-origin"
        not in client.get("/", headers={"Origin": "http://b.example"}).headers
    )
    assert (
        client.get("/open", headers={"Origin": "http://b.example"}).headers[
            "access-control-allow-origin"
        ]
        == "*"
    )
    assert "access-control-allow-origin" not in client.get("/closed", headers=origin).headers
    preflight = client.request(
        "OPTIONS",
        "/v1/Greeter",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    # Errors carry the header too, so a browser can read them.
    error = client.post("/v1/Greeter", headers=origin)
    assert error.headers["access-control-allow-origin"] == "http://a.example"
    # And the native API (served by the fast lane).
    native = client.post(
        "/v1/models/iris-lr:predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}, headers=origin
    )
    assert native.headers["access-control-allow-origin"] == "http://a.example"


def test_no_cors_headers_unless_configured(
    route_models: Path, tmp_path: Path, make_client: MakeClient
) -> None:
    models = tmp_path / "models"
    (models / "iris-lr").parent.mkdir(parents=True)
    shutil.copytree(route_models / "iris-lr", models / "iris-lr")
    client = make_client(models)
    answer = client.get("/v1/models", headers={"Origin": "http://a.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_database_handle_is_the_server_engine(client: AppClient) -> None:
    engine = client.app.state.database.engine
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 2")).scalar_one() == 2


def test_refusals_before_routing_take_the_route_shape(
    route_models: Path, tmp_path: Path, make_client: MakeClient
) -> None:
    models = tmp_path / "models"
    shutil.copytree(route_models, models)
    client = make_client(models, max_body_size=1024, api_token="api-secret")
    unauthorized = client.get("/")
    assert unauthorized.status_code == 401
    assert list(unauthorized.json()) == ["status", "error"]
    auth = {"Authorization": "Bearer api-secret"}
    assert client.get("/", headers=auth).text == "hello!!"
    too_big = client.post("/echo", content=b"x" * 2048, headers=auth)
    assert too_big.status_code == 413
    assert too_big.json()["status"] == 413
    # Built-in endpoints keep modelport's own shape.
    assert client.get("/v1/models").json()["error"] == "unauthorized"
