"""The five example apps (examples/<name>), each trained by its own train.py into a copy
of its folder and served by the real ``modelport serve <folder>`` with no other
argument, from another working directory. Every request the apps document is replayed
and compared with the original app's answer: byte for byte where the answer does not depend on
training, and against the trained model itself where it does."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest

from databases import empty_database
from modelport.runtimes.code import module_named
from modelport.train_examples import IRIS_LABELS
from services import free_port

from .conftest import Server

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_NAMES = (
    "simple-restful-ml",
    "flask-diabetes",
    "flask-iris",
    "flask-restful-gae",
    "flask-loan",
)
#: What each train.py writes (ignored by git); never copied from the source tree.
TRAINED = {
    "simple-restful-ml": ["lr_iris.model", "dt_iris.model"],
    "flask-diabetes": ["diabetes/1"],
    "flask-iris": ["xgboost-iris/1"],
    "flask-loan": ["loan/1"],
}
TORNADO_JSON = "application/json; charset=UTF-8"
#: A Redis database of its own (1-15), so a parallel run's keys never meet these.
REDIS_URL = f"redis://127.0.0.1:6379/{1 + secrets.randbelow(15)}"
REFERENCE_KEY = "modelport:kv:error500_test:2018-10-10 00:01:00"

#: Seed 004's test batch (df.head() of its test.csv), as its client sent it.
LOAN_RECORDS = (
    '[{"Loan_ID":"LP001015","Gender":"Male","Married":"Yes","Dependents":"0",'
    '"Education":"Graduate","Self_Employed":"No","ApplicantIncome":5720,"CoapplicantIncome":0,'
    '"LoanAmount":110.0,"Loan_Amount_Term":360.0,"Credit_History":1.0,"Property_Area":"Urban"},'
    '{"Loan_ID":"LP001022","Gender":"Male","Married":"Yes","Dependents":"1",'
    '"Education":"Graduate","Self_Employed":"No","ApplicantIncome":3076,'
    '"CoapplicantIncome":1500,"LoanAmount":126.0,"Loan_Amount_Term":360.0,'
    '"Credit_History":1.0,"Property_Area":"Urban"},'
    '{"Loan_ID":"LP001031","Gender":"Male","Married":"Yes","Dependents":"2",'
    '"Education":"Graduate","Self_Employed":"No","ApplicantIncome":5000,'
    '"CoapplicantIncome":1800,"LoanAmount":208.0,"Loan_Amount_Term":360.0,'
    '"Credit_History":1.0,"Property_Area":"Urban"},'
    '{"Loan_ID":"LP001035","Gender":"Male","Married":"Yes","Dependents":"2",'
    '"Education":"Graduate","Self_Employed":"No","ApplicantIncome":2340,'
    '"CoapplicantIncome":2546,"LoanAmount":100.0,"Loan_Amount_Term":360.0,'
    '"Credit_History":null,"Property_Area":"Urban"},'
    '{"Loan_ID":"LP001051","Gender":"Male","Married":"No","Dependents":"0",'
    '"Education":"Not Graduate","Self_Employed":"No","ApplicantIncome":3276,'
    '"CoapplicantIncome":0,"LoanAmount":78.0,"Loan_Amount_Term":360.0,"Credit_History":1.0,'
    '"Property_Area":"Urban"}]'
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every example copied (source files only) and trained by its own train.py, run
    from an unrelated working directory; the five run side by side."""
    root = tmp_path_factory.mktemp("trained")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    folders: dict[str, Path] = {}
    runs: list[subprocess.Popen[bytes]] = []
    for name in EXAMPLE_NAMES:
        folder = folders[name] = root / name
        shutil.copytree(EXAMPLES / name, folder, ignore=shutil.ignore_patterns(".*", "__pycache__"))
        for path in TRAINED.get(name, []):
            shutil.rmtree(folder / path, ignore_errors=True)
        runs.append(
            subprocess.Popen(
                [sys.executable, str(folder / "train.py")],
                cwd=elsewhere,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    for name, run in zip(EXAMPLE_NAMES, runs, strict=True):
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"{name}/train.py failed:\n{output.decode()}"
    return folders


def copy_of(trained: dict[str, Path], name: str, root: Path) -> Path:
    """A private copy of a trained example (a test may change its files)."""
    folder = root / name
    shutil.copytree(trained[name], folder)
    return folder


def serve(folder: Path, cwd: Path, env: dict[str, str] | None = None) -> Server:
    """``modelport serve <folder>`` and nothing else but the test's port (gRPC off)."""
    server = Server([str(folder)], cwd=cwd, env={"MODELPORT_GRPC_PORT": "0", **(env or {})})
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def servers(
    trained: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Server, Path]]]:
    """One server per example, started side by side: (server, its model folder).

    simple-restful-ml's runs on the embedded defaults (SQLite, in-process store) with an admin
    token, and one extra route that fails: a bug must be a JSON 500 with a request id.
    """
    root = tmp_path_factory.mktemp("servers")
    folders = {name: trained[name] for name in EXAMPLE_NAMES}
    folders["simple-restful-ml"] = copy_of(trained, "simple-restful-ml", root)
    with (folders["simple-restful-ml"] / "routes.py").open("a") as code:
        code.write("\n\ndef broken(request):\n    return {'x': 1 / 0}\n")
    with (folders["simple-restful-ml"] / "routes.yaml").open("a") as routes:
        routes.write("  - {method: GET, path: /broken, handler: broken}\n")
    # Its /upload_model takes joblib files, which only allow_pickle_uploads accepts.
    env = {
        "simple-restful-ml": {
            "MODELPORT_ADMIN_TOKEN": "seed-token",
            "MODELPORT_ALLOW_PICKLE_UPLOADS": "true",
        }
    }
    started = {
        name: Server(
            [str(folder)],
            cwd=root,
            env={"MODELPORT_GRPC_PORT": "0", **env.get(name, {})},
        )
        for name, folder in folders.items()
    }
    try:
        for server in started.values():
            server.wait_ready()
        yield {name: (server, folders[name]) for name, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def restful_ml(servers: dict[str, tuple[Server, Path]]) -> tuple[Server, Path]:
    return servers["simple-restful-ml"]


def iris_label(folder: Path, model: str, row: list[float]) -> str:
    estimator = joblib.load(folder / model / "1" / "model.joblib")
    return IRIS_LABELS[int(estimator.predict(np.array([row]))[0])]


# -- simple-restful-ml: a Tornado app's routes, management and database routes -------------


def test_get_routes_answer_byte_for_byte_as_the_tornado_app(
    restful_ml: tuple[Server, Path],
) -> None:
    server, _ = restful_ml
    answer = httpx.get(f"{server.url}/description")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == TORNADO_JSON
    assert answer.content == (
        b'{"status": 0, "result": "this is restful API for machine learning. welcome !"}'
    )
    answer = httpx.get(f"{server.url}/compute?a=1&b=2&ctype=1")
    assert (answer.status_code, answer.content) == (200, b'{"status": 0, "result": -1}')


@pytest.mark.parametrize(("route", "model"), [("lr", "lr_iris.model"), ("dt", "dt_iris.model")])
def test_route_parameters_default_and_route_predictions_are_logged(
    restful_ml: tuple[Server, Path], route: str, model: str
) -> None:
    server, folder = restful_ml
    answer = httpx.get(f"{server.url}/iris/{route}_predict")
    label = iris_label(folder, model, [2.0, 2.0, 2.0, 2.0])
    assert answer.status_code == 200
    assert answer.content == (
        f'{{"status": 0, "model": "{model}", "version": 1.0, "label": "{label}"}}'.encode()
    )
    given = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}
    answer = httpx.get(f"{server.url}/iris/{route}_predict", params=given)
    assert answer.json()["label"] == iris_label(folder, model, list(given.values()))

    # A route's predictions take the same path as any other: the log has them, marked.
    request_id = answer.headers["x-request-id"]
    deadline = time.monotonic() + 10
    logged: list[dict[str, Any]] = []
    while not logged and time.monotonic() < deadline:
        page = httpx.get(
            f"{server.url}/v1/models/{model}/predictions",
            params={"limit": 1000},
            headers=server.admin,
        )
        assert page.status_code == 200, page.text
        logged = [row for row in page.json()["predictions"] if row["request_id"] == request_id]
        time.sleep(0.1)
    assert [(row["protocol"], row["status"]) for row in logged] == [("route", "ok")]


def test_route_bad_requests_are_4xx_in_the_apps_error_shape(
    restful_ml: tuple[Server, Path],
) -> None:
    server, _ = restful_ml
    cases = {
        "/compute?a=x&b=2&ctype=1": (400, "parameter 'a' must be a number, got 'x'"),
        "/compute?b=2&ctype=1": (400, "missing parameter 'a'"),
        "/compute?a=1.5&b=2&ctype=1": (422, "row 0, feature 'a': expected a whole number"),
        "/compute?a=1&b=0&ctype=3": (422, "cannot divide by zero"),
        "/iris/lr_predict?sepal_length=nan": (400, "must be a finite number"),
        "/dbtest/predict_data?timestamp=yesterday": (400, "is not a date and time"),
        "/dbtest/predict_data?timestamp=1999-01-01 00:00:00": (404, "no reference value"),
    }
    for path, (status, message) in cases.items():
        answer = httpx.get(f"{server.url}{path}")
        assert answer.status_code == status, (path, answer.text)
        body = answer.json()
        assert list(body) == ["status", "error"] and body["status"] == 1, body
        assert message in body["error"], (path, body)
    wrong_method = httpx.post(f"{server.url}/description")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"status": 1, "error": "POST is not allowed on /description"}


def test_a_route_bug_is_a_500_with_a_request_id(restful_ml: tuple[Server, Path]) -> None:
    server, _ = restful_ml
    answer = httpx.get(f"{server.url}/broken", headers={"X-Request-ID": "seed-bug-1"})
    assert answer.status_code == 500
    assert answer.json() == {
        "status": 1,
        "error": "internal server error; quote request id seed-bug-1 when reporting it",
    }
    assert "Traceback" not in answer.text
    assert httpx.get(f"{server.url}/description").status_code == 200  # still serving
    assert "ZeroDivisionError" in server.log() and "seed-bug-1" in server.log()


def test_reload_and_upload_routes_need_the_admin_token(restful_ml: tuple[Server, Path]) -> None:
    server, folder = restful_ml
    refused = httpx.get(f"{server.url}/reload_model")
    assert refused.status_code == 401
    assert refused.json()["status"] == 1
    assert "needs a token" in refused.json()["error"]
    wrong = httpx.get(f"{server.url}/reload_model", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["status"]) == (403, 1)
    upload = httpx.post(f"{server.url}/upload_model", files={"file": ("lr_iris.model", b"x")})
    assert upload.status_code == 401
    auth = {"Authorization": "Bearer seed-token"}
    answer = httpx.get(f"{server.url}/reload_model", headers=auth)
    assert answer.content == b'{"status": 0, "message": "server has reload all models"}'
    answer = httpx.get(f"{server.url}/reload_model?modelname=lr_iris.model", headers=auth)
    assert answer.content == b'{"status": 0, "message": "server has reload lr_iris.model"}'
    unknown = httpx.get(f"{server.url}/reload_model?modelname=nope", headers=auth)
    assert (unknown.status_code, unknown.json()["status"]) == (404, 1)
    no_file = httpx.post(f"{server.url}/upload_model", data={"a": "b"}, headers=auth)
    assert (no_file.status_code, no_file.json()["status"]) == (400, 1)
    garbage = httpx.post(
        f"{server.url}/upload_model",
        files={"file": ("lr_iris.model", b"not a model")},
        headers=auth,
    )
    assert (garbage.status_code, garbage.json()["status"]) == (422, 1)
    # The seed's upload: the file becomes lr_iris.model's next version and serves at once.
    artifact = (folder / "lr_iris.model" / "1" / "model.joblib").read_bytes()
    answer = httpx.post(
        f"{server.url}/upload_model", files={"file": ("lr_iris.model", artifact)}, headers=auth
    )
    assert answer.content == (
        b'{"status": 0, "message": "upload lr_iris.model success! server has reload lr_iris.model"}'
    )
    assert httpx.get(f"{server.url}/iris/lr_predict").json()["version"] == 3.0  # 2 was garbage


def test_custom_routes_are_in_openapi(restful_ml: tuple[Server, Path]) -> None:
    server, _ = restful_ml
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    for path in ("/description", "/compute", "/iris/lr_predict", "/dbtest/train_data"):
        assert paths[path]["get"]["tags"] == ["custom routes"], path
    assert "admin token" in paths["/upload_model"]["post"]["description"]


# -- the database routes on every database --------------------------------------------------


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("mariadb", marks=pytest.mark.services),
        pytest.param("postgresql", marks=pytest.mark.services),
    ],
)
def network_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database on MariaDB, then on PostgreSQL (SQLite: the restful_ml server)."""
    yield from empty_database(request.param, tmp_path_factory)


def test_database_routes_on_sqlite_keep_rows_and_read_the_table(
    restful_ml: tuple[Server, Path],
) -> None:
    server, _ = restful_ml
    assert_dbtest(server, None)


def test_database_routes_on_mariadb_and_postgresql_with_the_redis_store(
    network_database: str, trained: dict[str, Path], tmp_path: Path
) -> None:
    redis = _redis_or_skip()
    redis.delete(REFERENCE_KEY)
    env = {"MODELPORT_DATABASE_URL": network_database, "MODELPORT_REDIS_URL": REDIS_URL}
    server = serve(trained["simple-restful-ml"], tmp_path, env)
    try:
        assert_dbtest(server, redis)
    finally:
        server.stop()
        redis.delete(REFERENCE_KEY)
        redis.close()


def assert_dbtest(server: Server, redis: Any | None) -> None:
    """The seed's two answers; rows kept on a second insert; the table answers for a
    missing cache entry."""
    for _ in range(2):  # insert-or-ignore: the second run keeps the five rows
        answer = httpx.get(f"{server.url}/dbtest/train_data")
        assert answer.content == (
            b'{"status": 0, "message": "succeed to insert ignore 5 rows to error500_test"}'
        )
    expected = b'{"status": 0, "true value": 0.5, "reference": 1.1, "label": 0}'
    query = "timestamp=2018-10-10 00:01:00&value=0.5"
    assert httpx.get(f"{server.url}/dbtest/predict_data?{query}").content == expected
    assert httpx.get(f"{server.url}/dbtest/predict_data").content == expected  # defaults
    high = httpx.get(f"{server.url}/dbtest/predict_data?timestamp=2018-10-10 00:01:00&value=1.1")
    assert high.json()["label"] == 1
    if redis is not None:
        assert redis.get(REFERENCE_KEY) == b"1.1"
        redis.delete(REFERENCE_KEY)  # the table answers when the cache does not
        assert httpx.get(f"{server.url}/dbtest/predict_data?{query}").content == expected
        assert redis.get(REFERENCE_KEY) == b"1.1"


def _redis_or_skip() -> Any:
    import redis

    from services import unavailable

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable("Redis", str(exc))
    return client


# -- flask-diabetes: an XGBoost probability, CORS ----------------------------------------------


def test_probability_route_with_cors_for_any_origin(
    servers: dict[str, tuple[Server, Path]],
) -> None:
    from xgboost import XGBClassifier

    server, folder = servers["flask-diabetes"]
    url = f"{server.url}/katana-ml/api/v1.0/diabetes"
    answer = httpx.post(url, json={"data": "1,106,70,28,135,34.2,0.142,22"})
    assert answer.status_code == 200
    model = XGBClassifier()
    model.load_model(folder / "diabetes" / "1" / "model.ubj")
    row = pd.DataFrame(
        [[1, 106, 70, 28, 135, 34.2, 0.142, 22]],
        columns=model.get_booster().feature_names,
        dtype=float,
    )
    expected = float(model.predict_proba(row)[0][1])
    assert answer.json() == {"prediction": pytest.approx(expected, rel=1e-6)}
    assert answer.content == f'{{"prediction":{answer.json()["prediction"]!r}}}'.encode()
    # CORS on, as the seed's CORS(app): any origin, preflight included.
    origin = {"Origin": "http://elsewhere.example"}
    assert (
        httpx.post(url, json={"data": "1,106,70,28,135,34.2,0.142,22"}, headers=origin).headers[
            "access-control-allow-origin"
        ]
        == "*"
    )
    preflight = httpx.options(
        url,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    # Bad requests: 4xx with modelport's error shape, never a 500.
    for body, status, message in [
        (None, 400, "No JSON object"),
        ({"data": "1,2,x"}, 400, "data must be comma-separated numbers"),
        ({"data": "1,2,3"}, 422, "8"),
        ({"data": 5}, 400, "5 is not of type 'string'"),
    ]:
        answer = httpx.post(url, json=body) if body is not None else httpx.post(url)
        assert answer.status_code == status, answer.text
        assert message in answer.json()["message"]


# -- flask-iris: a pickled model behind Flask-style answers -------------------------------------


def test_text_route_and_class_index_answer_as_flask_jsonify(
    servers: dict[str, tuple[Server, Path]],
) -> None:
    server, folder = servers["flask-iris"]
    hello = httpx.get(f"{server.url}/")
    assert (hello.status_code, hello.text) == (200, "hello!!")
    flower = {
        "sepalLengthCm": 5.9,
        "sepalWidthCm": 3,
        "petalLengthCm": 5.1,
        "petalWidthCm": 1.8,
    }
    answer = httpx.post(f"{server.url}/predict", json=flower)
    with gzip.open(folder / "xgboost-iris" / "1" / "model.pgz", "rb") as handle:
        model = pickle.load(handle)
    expected = str(model.predict(np.array([list(flower.values())], dtype=float))[0])
    assert expected == "2"  # the seed's answer; this model agrees
    assert answer.status_code == 200
    assert answer.content == b'{"return":"2"}\n'  # Flask's jsonify
    assert (
        httpx.get(f"{server.url}/", headers={"Origin": "http://x.example"}).headers[
            "access-control-allow-origin"
        ]
        == "*"
    )
    missing = httpx.post(f"{server.url}/predict", json={"sepalLengthCm": 5.9})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "bad_request",
        "message": "'sepalWidthCm' is a required property",
    }
    text = httpx.post(f"{server.url}/predict", json={**flower, "petalWidthCm": "wide"})
    assert (text.status_code, text.json()["error"]) == (400, "bad_request")


# -- flask-restful-gae: a validated route called from another origin ---------------------------


def test_schema_validated_route_and_cors_preflight_from_another_origin(
    servers: dict[str, tuple[Server, Path]],
) -> None:
    server, folder = servers["flask-restful-gae"]
    url = f"{server.url}/v1/XXXModel"
    no_json = httpx.post(url)
    assert (no_json.status_code, no_json.content) == (400, b'{"message": "No JSON object"}\n')
    invalid = httpx.post(
        url, content=b"{}", headers={"Content-Type": "application/json; charset=UTF-8"}
    )
    assert (invalid.status_code, invalid.content) == (
        400,
        b'{"message": "\'name\' is a required property"}\n',
    )
    valid = httpx.post(
        url,
        content=b'{"name": "Leo"}',
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    assert (valid.status_code, valid.content) == (200, b'{"result": "Hello, Leo!"}\n')
    # client.html's call, as a browser makes it from another origin: the preflight
    # (JSON content type), then the POST; both must allow that origin.
    page_origin = "http://127.0.0.1:1"
    preflight = httpx.options(
        url,
        headers={
            "Origin": page_origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "content-type" in preflight.headers["access-control-allow-headers"]
    call = httpx.post(url, json={"name": "Leo"}, headers={"Origin": page_origin})
    assert call.headers["access-control-allow-origin"] == "*"
    assert call.json() == {"result": "Hello, Leo!"}
    page = (folder / "client.html").read_text()
    assert "/v1/XXXModel" in page and "application/json" in page


def test_client_page_from_another_origin_works_in_a_real_browser(
    servers: dict[str, tuple[Server, Path]],
) -> None:
    """client.html, served from another origin, submits in headless Chromium and shows
    the answer (without CORS the browser blocks it: 'Failed to fetch')."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    server, folder = servers["flask-restful-gae"]
    page_port = free_port()
    pages = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(page_port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = f"http://127.0.0.1:{page_port}/client.html?server={server.url}&auto"
        for _ in range(50):  # until the page server answers
            try:
                httpx.get(page, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        dom = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=5000",
                "--dump-dom",
                page,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        assert '<div id="result">Hello, Leo!</div>' in dom
    finally:
        pages.terminate()
        pages.wait(timeout=10)


# -- flask-loan: a pipeline with its own model.py, batches ----------------------------------------


def test_batch_route_over_a_pipeline_and_its_empty_batch_error(
    servers: dict[str, tuple[Server, Path]],
) -> None:
    server, folder = servers["flask-loan"]
    url = f"{server.url}/predict"
    header = {"Content-Type": "application/json", "Accept": "application/json"}
    # requests.post(url, data=json.dumps(data), headers=header), data being a JSON text
    answer = httpx.post(url, content=json.dumps(LOAN_RECORDS), headers=header)
    assert answer.status_code == 200, answer.text
    version = folder / "loan" / "1"
    with module_named(version / "model.py", "model"):
        model = joblib.load(version / "model.joblib")
    frame = pd.read_json(__import__("io").StringIO(LOAN_RECORDS), orient="records")
    frame["Dependents"] = [str(x) for x in frame["Dependents"]]
    labels = [int(v) for v in model.predict(frame.drop(columns=["Loan_ID"]))]
    table = ",".join(
        f'{{"0":"{loan}","1":{label}}}'
        for loan, label in zip(frame["Loan_ID"], labels, strict=True)
    )
    assert answer.json() == {"predictions": f"[{table}]"}
    assert (
        answer.content
        == json.dumps({"predictions": f"[{table}]"}, separators=(",", ":")).encode() + b"\n"
    )
    # An empty batch: the seed's bad_request() answer, in its shape.
    expected = (
        b'{"message":"Bad Request: ' + url.encode() + b"--> Please check your data payload"
        b'...","status":400}\n'
    )
    for empty in (json.dumps("[]"), "[]"):
        refused = httpx.post(url, content=empty, headers=header)
        assert (refused.status_code, refused.content) == (400, expected)
    for bad in ('"not json', "{}", '"[1, 2]"'):
        refused = httpx.post(url, content=bad, headers=header)
        assert refused.status_code == 400, (bad, refused.text)
        assert list(refused.json()) == ["message", "status"]
    unknown = json.dumps([{"Loan_ID": "X", "Gender": "Robot"}])
    refused = httpx.post(url, content=unknown, headers=header)
    assert refused.status_code == 422
    assert refused.json()["status"] == 422
