"""Rejected requests in the prediction log, from the user's side: what a client sent and
the message it got, bounded as good rows are; and ``predictions export --flatten``."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from e2e.conftest import MODELPORT, StartServer

pytestmark = pytest.mark.e2e

ADMIN = "admin-token-for-rejected-rows"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def logged(url: str, count: int) -> list[dict[str, Any]]:
    """The model's log once it holds ``count`` rows (written up to a moment late)."""
    rows: list[dict[str, Any]] = []
    for _ in range(100):
        rows = httpx.get(url, headers=AUTH, timeout=10).json()["predictions"]
        if len(rows) >= count:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"{len(rows)} of {count} rows logged: {rows}")


def export(model_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    return subprocess.run(
        [str(MODELPORT), "predictions", "export", "iris-lr", "--model-dir", str(model_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_rejected_request_is_logged_with_its_input_and_error(
    start_server: StartServer, model_dir: Path
) -> None:
    """`POST /v1/models/iris-lr:predict {"instances": [[1, 2, 3]]}` answers 422; then
    `GET /v1/models/iris-lr/predictions` (admin token) shows that input and message."""
    server = start_server(
        [str(model_dir), "--log-flush-interval", "0.1"], env={"MODELPORT_ADMIN_TOKEN": ADMIN}
    )
    server.wait_ready()
    predict = f"{server.url}/v1/models/iris-lr:predict"
    sent: list[tuple[str, dict[str, Any]]] = [
        ("native", {"instances": [[1, 2, 3]]}),  # a value short
        ("native", {"instances": [{"sepal_length": "long", "sepal_width": 3.5}]}),
        ("native", {"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}),  # good
        (
            "v2-rest",
            {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
        ),
        ("native", {"instances": [["x" * 200_000, 1, 2, 3]]}),  # too big to log whole
    ]
    answers = []
    for protocol, body in sent:
        url = predict if protocol == "native" else f"{server.url}/v2/models/iris-lr/infer"
        answers.append(httpx.post(url, json=body, timeout=30))
    assert [a.status_code for a in answers] == [422, 422, 200, 400, 422]

    rows = logged(f"{server.url}/v1/models/iris-lr/predictions", len(sent))
    short, wrong_type, good, tensor, huge = rows
    assert short["status"] == "invalid_input"
    assert short["input"] == [[1, 2, 3]]
    assert short["error"] == answers[0].json()["message"]
    assert "3 values" in short["error"] and short["output"] is None
    assert wrong_type["input"] == [{"sepal_length": "long", "sepal_width": 3.5}]
    assert wrong_type["error"] == answers[1].json()["message"]
    assert good["status"] == "ok" and good["error"] is None
    assert good["input"] == [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    assert tensor["protocol"] == "v2-rest" and tensor["status"] == "invalid_input"
    assert tensor["input"] == {"x": [[1.0, 2.0, 3.0]]}
    assert tensor["error"] == answers[3].json()["error"]
    # Bounded as good rows are: the long string cut, the row marked truncated.
    assert huge["truncated"] is True
    assert huge["input_bytes"] > 200_000
    assert huge["input"][0][0].endswith("…[cut: 200000 characters]")
    assert huge["error"] is not None and len(huge["error"]) < 5000


def test_export_flatten_writes_one_column_per_feature(
    start_server: StartServer, model_dir: Path, tmp_path: Path
) -> None:
    """`modelport predictions export iris-lr --flatten`: one line per input row, the
    features (named as in model.yaml) as columns, each row's prediction beside it."""
    server = start_server(
        [str(model_dir), "--log-flush-interval", "0.1"], env={"MODELPORT_ADMIN_TOKEN": ADMIN}
    )
    server.wait_ready()
    predict = f"{server.url}/v1/models/iris-lr:predict"
    two = {"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}
    assert httpx.post(predict, json=two).status_code == 200
    record = {"instances": [dict(zip(FEATURES, [5.9, 3.0, 4.2, 1.5], strict=True))]}
    assert httpx.post(predict, json=record).status_code == 200
    assert httpx.post(predict, json={"instances": [[1, 2, 3]]}).status_code == 422
    logged(f"{server.url}/v1/models/iris-lr/predictions", 3)

    done = export(model_dir, "--flatten")
    assert done.returncode == 0, done.stderr
    assert "exported 3 prediction(s) of 'iris-lr' (4 input row(s))" in done.stderr
    header = done.stdout.splitlines()[0].split(",")
    assert header[:11] == [
        "id", "request_id", "at", "model", "version", "protocol", "row", *FEATURES,
    ]  # fmt: skip
    assert header[11:15] == ["prediction", "probabilities", "status", "error"]
    lines = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(line["id"], line["row"]) for line in lines] == [
        ("1", "0"), ("1", "1"), ("2", "0"), ("3", "0"),
    ]  # fmt: skip
    assert [line["petal_length"] for line in lines] == ["1.4", "5.2", "4.2", "3"]
    assert [line["prediction"] for line in lines[:3]] == ["setosa", "virginica", "versicolor"]
    assert lines[3]["status"] == "invalid_input" and "3 values" in lines[3]["error"]
    assert lines[3]["petal_width"] == "" and lines[3]["prediction"] == ""

    # Parquet: the same lines, the features as numbers.
    target = tmp_path / "flat.parquet"
    done = export(model_dir, "--flatten", "--format", "parquet", "-o", str(target))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(target)
    assert table.column_names == header
    assert str(table.schema.field("sepal_length").type) == "double"
    assert table.column("petal_length").to_pylist() == [1.4, 5.2, 4.2, 3.0]

    # Without --flatten, the input stays one JSON column.
    plain = export(model_dir)
    assert plain.returncode == 0, plain.stderr
    assert "sepal_length" not in plain.stdout.splitlines()[0]
    assert "error" in plain.stdout.splitlines()[0].split(",")
