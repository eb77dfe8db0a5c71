"""Drift monitoring end to end: a model uploaded with a reference sample, 2,000
predictions from the same distribution (all ok), then 2,000 with one feature shifted by
one standard deviation and a new category (those two alert, the rest ok), on SQLite and
PostgreSQL; the JSON and the gauges agree, and the webhook hears of the change once."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from databases import empty_database
from services import free_port

from .conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COLOURS = ["red", "green", "blue"]


def sample(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    """x ~ N(10, 2) moved by ``shift`` standard deviations, y ~ N(0, 1), a colour."""
    return pd.DataFrame(
        {
            "x": rng.normal(10, 2, rows) + 2 * shift,
            "y": rng.normal(0, 1, rows),
            "colour": rng.choice(COLOURS, rows, p=[0.5, 0.3, 0.2]),
        }
    )


class Receiver:
    """A local webhook receiver: every POSTed JSON document, in order."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        received = self.documents

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]
)
def monitored(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Receiver, np.random.Generator]]:
    """A server with an uploaded model `drift` (reference.csv beside it, a 0.3 s monitor
    interval, a webhook) on the backend of ``request.param``."""
    database = empty_database(request.param, tmp_path_factory)
    url = next(database)
    root = tmp_path_factory.mktemp("monitor")
    (root / "models").mkdir()
    receiver = Receiver()
    server = Server(
        [str(root / "models"), "--database-url", url, "--allow-pickle-uploads"], cwd=root
    )
    try:
        server.wait_ready()
        rng = np.random.default_rng(26)
        reference = sample(rng, 1_000)
        label = np.where(reference["x"] + reference["y"] > 10, "yes", "no")
        model = make_pipeline(
            ColumnTransformer(
                [
                    ("numbers", StandardScaler(), ["x", "y"]),
                    ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
                ]
            ),
            LogisticRegression(),
        ).fit(reference, label)
        artifact = io.BytesIO()
        joblib.dump(model, artifact)
        reference["prediction"] = model.predict(reference)
        model_yaml = (
            "features: [x, y, {name: colour, type: str}]\n"
            "example: {x: 10.0, y: 0.0, colour: red}\n"
            f"monitor: {{interval: 0.3, window: 2000, webhook: '{receiver.url}'}}\n"
        )
        answer = httpx.post(
            f"{server.url}/v1/admin/models/drift/versions",
            headers=server.admin,
            files=[
                ("file", ("model.joblib", artifact.getvalue())),
                ("model_yaml", ("model.yaml", model_yaml.encode())),
                # The part `modelport upload --reference FILE` sends.
                ("reference", ("sample.csv", reference.to_csv(index=False).encode())),
            ],
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        yield server, receiver, rng
    finally:
        server.stop()
        receiver.close()
        next(database, None)


def predict(server: Server, frame: pd.DataFrame) -> None:
    """``frame`` as 20 requests of 100 rows."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for start in range(0, len(frame), 100):
            rows = frame.iloc[start : start + 100].to_dict(orient="records")
            answer = http.post("/v1/models/drift:predict", json={"instances": rows})
            assert answer.status_code == 200, answer.text


def report(server: Server) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/v1/models/drift/monitor", timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def wait_for(what: Callable[[], dict[str, Any] | None], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def full_window(server: Server, last: int | None) -> dict[str, Any] | None:
    """The report once the window holds 2,000 rows newer than row id ``last``."""
    now = report(server)
    window = now["window"]
    if window["rows"] == 2_000 and (last is None or window["first_id"] > last):
        return now
    return None


def gauges(server: Server) -> dict[tuple[str, str], float]:
    """(series name, feature) -> value of the model's drift gauges."""
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    found = {}
    pattern = r"^(modelport_feature_drift(?:_status)?)\{(.*?)\} (\S+)$"
    for name, labels, value in re.findall(pattern, text, re.MULTILINE):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields.get("model") == "drift" and fields.get("version") == "1":
            found[name, fields["feature"]] = float(value)
    return found


def agree(server: Server, now: dict[str, Any]) -> None:
    """The gauges show the report's scores and statuses (after the worker's next round)."""
    codes = {"ok": 0, "warn": 1, "alert": 2}
    time.sleep(0.7)  # two monitor rounds over the same rows
    shown = gauges(server)
    assert shown, server.log()[-4000:]
    again = report(server)
    assert (
        again["window"] == now["window"] or again["window"]["last_id"] == now["window"]["last_id"]
    )
    for feature in now["features"]:
        name = feature["feature"]
        assert shown["modelport_feature_drift", name] == pytest.approx(feature["score"], abs=1e-6)
        assert shown["modelport_feature_drift_status", name] == codes[feature["status"]]


def test_in_distribution_then_shifted(
    monitored: tuple[Server, Receiver, np.random.Generator],
) -> None:
    server, receiver, rng = monitored
    # Before any prediction: nothing to compare yet.
    empty = report(server)
    assert empty["reference"] == {"source": "reference.csv", "rows": 1_000}
    assert empty["window"]["rows"] == 0 and empty["status"] == "ok"

    predict(server, sample(rng, 2_000))
    same = wait_for(lambda: full_window(server, None))
    assert {f["feature"]: f["status"] for f in same["features"]} == {
        "x": "ok",
        "y": "ok",
        "colour": "ok",
    }
    assert same["status"] == "ok", same
    agree(server, same)
    assert receiver.documents == []  # nothing changed, nothing sent

    shifted = sample(rng, 2_000, shift=1.0)
    shifted.loc[shifted.index[::20], "colour"] = "purple"  # 5% a category never seen
    predict(server, shifted)
    drifted = wait_for(lambda: full_window(server, same["window"]["last_id"]))
    statuses = {f["feature"]: f["status"] for f in drifted["features"]}
    assert statuses == {"x": "alert", "y": "ok", "colour": "alert"}, drifted
    assert drifted["features"][0]["feature"] in {"x", "colour"}  # the drifting ones first
    colour = next(f for f in drifted["features"] if f["feature"] == "colour")
    assert colour["unseen"] == ["purple"] and colour["unseen_rate"] == 0.05
    agree(server, drifted)

    time.sleep(1.0)  # more rounds over the same rows: no further message
    to_alert = [
        change
        for document in receiver.documents
        for change in document["changes"]
        if change["feature"] == "x" and change["to"] == "alert"
    ]
    assert len(to_alert) == 1, receiver.documents
    assert all(document["model"] == "drift" for document in receiver.documents)
    assert "monitor: model drift version 1 feature x: " in server.log()


def test_a_reference_that_is_not_csv_or_parquet_is_refused(
    monitored: tuple[Server, Receiver, np.random.Generator],
) -> None:
    server = monitored[0]
    answer = httpx.post(
        f"{server.url}/v1/admin/models/other/versions",
        headers=server.admin,
        files=[("file", ("model.joblib", b"x")), ("reference", ("sample.txt", b"a,b\n1,2\n"))],
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("'reference' must be a .csv or .parquet file")
