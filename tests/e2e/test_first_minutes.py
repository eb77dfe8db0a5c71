"""A newcomer's first minutes, from their side: the commands they type first and the
requests they send first, and what they see."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from e2e.conftest import MODELPORT, StartServer
from services import free_port

IRIS_ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


def test_serve_one_model_file(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    """`modelport serve model.pkl` serves that file, as the model named after its stem."""
    shutil.copy(trained_models / "iris-lr" / "1" / "model.joblib", tmp_path / "model.pkl")
    server = start_server(["model.pkl"])
    server.wait_ready()
    models = httpx.get(f"{server.url}/v1/models").json()["models"]
    assert [(m["name"], m["state"]) for m in models] == [("model", "ready")]
    answer = httpx.post(f"{server.url}/v1/models/model:predict", json=IRIS_ROW)
    assert answer.status_code == 200, answer.text
    assert "serving the file model.pkl as model 'model'" in server.log()
    assert "does not exist" not in server.log()
    # Uploads need a folder to write into: a clear refusal, not a crash.
    refused = httpx.post(
        f"{server.url}/v1/admin/models/other/versions",
        files={"file": ("m.onnx", b"x")},
        headers=server.admin,
    )
    assert refused.status_code == 409, refused.text
    assert "serves the one file model.pkl" in refused.json()["message"]


def test_serve_a_missing_folder_stops_with_exit_2(
    start_server: StartServer, tmp_path: Path
) -> None:
    """`modelport serve /no/such/dir` stops at once, saying what to do."""
    missing = tmp_path / "no" / "such" / "dir"
    server = start_server([str(missing)])
    assert server.process.wait(timeout=30) == 2
    log = server.log()
    assert f"model folder {missing} does not exist" in log
    assert "--watch" in log
    # With no folder given, the default ./models is named as the default.
    default = start_server([])
    assert default.process.wait(timeout=30) == 2
    assert "(the default: no MODEL_DIR was given)" in default.log()


def test_serve_a_missing_folder_with_watch_waits_for_it(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    """With --watch, a folder that does not exist yet is served once it appears."""
    later = tmp_path / "later"
    server = start_server([str(later), "--watch", "--watch-interval", "0.1"])
    server.wait_ready()
    assert httpx.get(f"{server.url}/v1/models").json() == {"models": []}
    assert "does not exist yet; watching for it" in server.log()
    # The server made the folder, for its database (later/.modelport).
    shutil.copytree(trained_models, later, dirs_exist_ok=True)
    url = f"{server.url}/v1/models/iris-lr:predict"
    for _ in range(300):
        if httpx.post(url, json=IRIS_ROW).status_code == 200:
            break
        time.sleep(0.1)
    assert httpx.post(url, json=IRIS_ROW).status_code == 200, server.log()


def test_serve_a_file_that_is_no_model_stops_with_exit_2(
    start_server: StartServer, tmp_path: Path
) -> None:
    (tmp_path / "notes.md").write_text("# my model\n")
    server = start_server(["notes.md"])
    assert server.process.wait(timeout=30) == 2
    assert "notes.md is not a model file modelport reads" in server.log()


def _save_native_models(folder: Path) -> None:
    """What a user's own training script writes: XGBoost's and LightGBM's save_model."""
    import lightgbm
    import numpy as np
    import xgboost

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 4))
    target = (features[:, 0] > 0).astype(int)
    booster = xgboost.train(
        {"objective": "binary:logistic"}, xgboost.DMatrix(features, label=target), 5
    )
    booster.save_model(str(folder / "churn.json"))
    booster.save_model(str(folder / "churn-ubj.ubj"))
    gbm = lightgbm.train(
        {"objective": "binary", "verbose": -1}, lightgbm.Dataset(features, label=target), 5
    )
    gbm.save_model(str(folder / "fraud.txt"))


def test_native_xgboost_and_lightgbm_files_are_served_as_dropped(
    start_server: StartServer, model_dir: Path
) -> None:
    """`booster.save_model("churn.json")` / `("fraud.txt")` into the folder: served."""
    _save_native_models(model_dir)
    (model_dir / "notes.txt").write_text("trained on Monday\n")
    server = start_server([str(model_dir)])
    server.wait_ready()
    models = {m["name"]: m for m in httpx.get(f"{server.url}/v1/models").json()["models"]}
    # Each is named after its file without the ending, and answers to its file name too.
    for name, file_name, runtime in [
        ("churn", "churn.json", "xgboost"),
        ("churn-ubj", "churn-ubj.ubj", "xgboost"),
        ("fraud", "fraud.txt", "lightgbm"),
    ]:
        assert models[name]["state"] == "ready", models[name]
        assert models[name]["versions"][0]["runtime"] == runtime
        for called in (name, file_name):
            answer = httpx.post(
                f"{server.url}/v1/models/{called}:predict",
                json={"instances": [[1.0, 0.0, 0.0, 0.0]]},
            )
            assert answer.status_code == 200, answer.text
    assert "notes" not in models and "notes.txt" not in models


def test_a_json_model_file_not_recognised_says_to_name_the_runtime(
    start_server: StartServer, model_dir: Path
) -> None:
    """A version folder holding only an unrecognised model.json is failed, with the fix."""
    (model_dir / "booster" / "1").mkdir(parents=True)
    (model_dir / "booster" / "1" / "model.json").write_text('{"trees": []}')
    server = start_server([str(model_dir)])
    server.wait_ready()
    model = httpx.get(f"{server.url}/v1/models/booster").json()
    assert model["state"] == "failed"
    assert "add `runtime: xgboost`" in model["versions"][0]["error"]


def test_names_the_server_refuses_are_listed_as_failed_and_warned_once(
    start_server: StartServer, model_dir: Path
) -> None:
    """`My Model.pkl` and `Iris/` appear in GET /v1/models as failed, with the rule."""
    shutil.copy(model_dir / "iris-lr" / "1" / "model.joblib", model_dir / "My Model.pkl")
    shutil.copytree(model_dir / "iris-dt", model_dir / "Iris")
    server = start_server([str(model_dir), "--watch", "--watch-interval", "0.1"])
    server.wait_ready()
    models = {m["name"]: m for m in httpx.get(f"{server.url}/v1/models").json()["models"]}
    assert models["My Model.pkl"]["state"] == "failed"
    assert "lowercase letters" in models["My Model.pkl"]["error"]
    assert "rename it to 'my-model.pkl'" in models["My Model.pkl"]["error"]
    assert "rename it to 'iris'" in models["Iris"]["error"]
    assert models["iris-lr"]["state"] == "ready"
    # Rescans (here: a new model appearing under --watch) do not warn again.
    shutil.copytree(model_dir / "iris-lr", model_dir / "iris-copy")
    url = f"{server.url}/v1/models/iris-copy:predict"
    for _ in range(300):
        if httpx.post(url, json=IRIS_ROW).status_code == 200:
            break
        time.sleep(0.1)
    # Nor does a reload of every model asked for by hand.
    reload = httpx.post(f"{server.url}/v1/admin/reload", headers=server.admin, timeout=60)
    assert reload.status_code == 200, reload.text
    assert server.log().count("model 'My Model.pkl' failed") == 1, server.log()


def _save_regressor(target: Path) -> None:
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    features = np.arange(20, dtype=float).reshape(10, 2)
    joblib.dump(LinearRegression().fit(features, features.sum(axis=1)), target)


def test_errors_say_how_to_fix_the_request(start_server: StartServer, model_dir: Path) -> None:
    """The first bodies a newcomer sends, and the answers that teach the right one."""
    shutil.copy(model_dir / "iris-lr" / "1" / "model.joblib", model_dir / "classes.joblib")
    _save_regressor(model_dir / "price.joblib")
    server = start_server([str(model_dir)])
    server.wait_ready()
    url = f"{server.url}/v1/models/iris-lr:predict"
    json_type = {"Content-Type": "application/json"}

    def post(body: bytes, target: str = url) -> httpx.Response:
        return httpx.post(target, content=body, headers=json_type)

    # A bare row by feature name: wrap it, shown with the user's own body.
    bare = post(b'{"sepal_length": 5.1, "sepal_width": 3.5}')
    assert bare.status_code == 400
    assert '{"instances": [{"sepal_length":5.1,"sepal_width":3.5}]}' in bare.json()["message"]
    # A list of records, as df.to_json(orient="records") writes it.
    records = post(b'[{"sepal_length": 5.1}]')
    assert records.status_code == 400
    assert '{"instances": [{"sepal_length":5.1}]}' in records.json()["message"]
    # pandas df.to_json(orient="split").
    split = post(b'{"columns": ["a", "b"], "index": [0], "data": [[1, 2]]}')
    assert split.status_code == 400
    assert (
        '{"dataframe_split": {"columns":["a","b"],"index":[0],"data":[[1,2]]}}'
        in (split.json()["message"])
    )
    # NaN, as Python's json.dumps writes it.
    nan = post(b'{"instances": [[5.1, NaN, 1.4, 0.2]]}')
    assert nan.status_code == 400
    assert "NaN and Infinity are not JSON values" in nan.json()["message"]
    assert "null" in nan.json()["message"] and "allow_missing" in nan.json()["message"]
    # An object where rows belong: a 400 like the other wrong-shape bodies, with the fix.
    one = post(b'{"instances": {"sepal_length": 5.1}}')
    assert one.status_code == 400
    assert one.json()["error"] == "bad_request"
    assert '{"instances": [{"sepal_length":5.1}]}' in one.json()["message"]
    # The key names itself: `inputs` is not called `instances`.
    scalar = post(b'{"inputs": 5}')
    assert scalar.status_code == 400
    assert scalar.json()["message"] == "inputs must be a list of rows, got int"
    # GET on a predict URL: 405 with Allow: POST (it was a 404 "model not found").
    get = httpx.get(url)
    assert get.status_code == 405
    assert get.headers["allow"] == "POST"
    assert "send POST" in get.json()["message"]
    assert httpx.get(f"{server.url}/v1/models/iris-lr/versions/1:predict").status_code == 405
    # Probabilities from a regressor: a clear 400, not silence.
    price = post(
        b'{"instances": [[1, 2]], "parameters": {"probabilities": true}}',
        f"{server.url}/v1/models/price.joblib:predict",
    )
    assert price.status_code == 400
    assert "has no class probabilities" in price.json()["message"]
    # Labels in the metadata are typed as the predictions are.
    meta = httpx.get(f"{server.url}/v1/models/classes.joblib").json()
    answer = post(
        b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}', f"{server.url}/v1/models/classes.joblib:predict"
    )
    assert meta["signature"]["labels"] == [0, 1, 2]
    assert answer.json()["predictions"] == [0]


EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def test_coming_from_flask_curl_works_as_written(start_server: StartServer, tmp_path: Path) -> None:
    """The "Coming from Flask" page's curl -d (a form content type) reaches a JSON route."""
    example = tmp_path / "flask-iris"
    shutil.copytree(EXAMPLES / "flask-iris", example)
    subprocess.run([sys.executable, str(example / "train.py")], check=True, capture_output=True)
    server = start_server([str(example)])
    server.wait_ready()
    body = '{"sepalLengthCm": 5.9, "sepalWidthCm": 3, "petalLengthCm": 5.1, "petalWidthCm": 1.8}'
    # Exactly as the page writes it: curl -d labels the body application/x-www-form-urlencoded.
    shown = subprocess.run(
        ["curl", "-s", "-X", "POST", f"{server.url}/predict", "-d", body],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert shown == '{"return":"2"}\n'
    # A real form still reaches the route as a form (and the schema says what is missing).
    form = httpx.post(f"{server.url}/predict", data={"sepalLengthCm": "5.9"})
    assert form.status_code == 400
    assert "No JSON object" in form.text


def test_what_the_example_models_say_holds_no_project_internal_words(
    start_server: StartServer, tmp_path: Path
) -> None:
    """`modelport train-examples`, then GET /v1/models: descriptions a user can read."""
    from docs.blocks import internal_words

    subprocess.run([str(MODELPORT), "train-examples", "models"], cwd=tmp_path, check=True)
    server = start_server(["models"])
    server.wait_ready()
    listing = httpx.get(f"{server.url}/v1/models").text
    assert "compute" in listing
    assert internal_words(listing) == []
    written = "\n".join(p.read_text() for p in (tmp_path / "models").rglob("*.py"))
    assert internal_words(written) == []


REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # pip checks the environment (nothing to download) and trains examples
def test_make_serve_takes_port_and_models_and_fills_an_empty_folder(tmp_path: Path) -> None:
    """`make serve PORT=... MODELS=...` on an empty folder: the example models, served."""
    port = free_port()
    models = tmp_path / "my-models"
    log_path = tmp_path / "make-serve.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODELPORT_")}
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            ["make", "serve", f"PORT={port}", f"MODELS={models}", "--no-print-directory"],
            cwd=REPOSITORY,
            env={**env, "XDG_RUNTIME_DIR": str(tmp_path / "run"), "MODELPORT_GRPC_PORT": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make and the server it starts: stopped together
        )
    try:
        deadline = time.monotonic() + 300
        answer = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/v1/models/iris-lr:predict", json=IRIS_ROW
                )
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 200:
                break
            time.sleep(0.2)
        log = log_path.read_text()
        assert answer is not None and answer.status_code == 200, log
        assert answer.json()["predictions"] == ["setosa"]
        assert f"{models} is empty: writing the example models there" in log
        assert (models / "iris-lr").is_dir()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def test_serve_an_empty_folder_says_how_to_get_started(
    start_server: StartServer, tmp_path: Path
) -> None:
    """`modelport serve` with an empty ./models: it serves, and says what to do next."""
    (tmp_path / "models").mkdir()
    server = start_server([])
    server.wait_ready()
    log = server.log()
    assert "is empty: the server starts with no model" in log
    assert "modelport train-examples models" in log
