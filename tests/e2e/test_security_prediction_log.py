"""Flooding the prediction log, tried as an attacker would, against the real server.

Before log_max_input_bytes, three requests holding one 9 MB string each (refused by the
model: 422) grew the SQLite log from 0.1 MB to 47 MB, and one 4 MB binary V2 tensor
added 24 MB. Now each prediction's input and output are at most log_max_input_bytes of
JSON each; what is cut shows in the log as ``truncated`` with the full size and sha256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import sqlite3
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.predlog_rows import STRING_KEEP
from modelport.train_examples import train_examples

from .conftest import MODELPORT, Server

pytestmark = pytest.mark.e2e

ADMIN = "admin-token-for-the-log-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
LIMIT = 64 * 1024  # log_max_input_bytes' default, which the server runs with
#: Most a logged prediction may add to the database: its input and its output (LIMIT each),
#: the other columns and the truncation note (well under 1 KiB), and SQLite's pages
#: around them (overflow pages are 4 KiB; index entries).
PER_ROW = 2 * LIMIT + 16 * 1024
LOAN_ROW: dict[str, Any] = {
    "Gender": "Male",
    "Married": "Yes",
    "Dependents": "0",
    "Education": "Graduate",
    "Self_Employed": "No",
    "ApplicantIncome": 5720,
    "CoapplicantIncome": 0,
    "LoanAmount": 110.0,
    "Loan_Amount_Term": 360.0,
    "Credit_History": 1.0,
    "Property_Area": "Urban",
}


@pytest.fixture(scope="module")
def logging_server(
    trained_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    """iris-lr and loan-rf (string features), the log in SQLite under the server's folder."""
    root = tmp_path_factory.mktemp("log-flood")
    models = root / "models"
    shutil.copytree(trained_models, models)
    train_examples(models, names=["loan-rf"])
    server = Server(
        [str(models), "--log-flush-interval", "0.1", "--data-dir", str(root)],
        cwd=root,
        env={"MODELPORT_ADMIN_TOKEN": ADMIN},
    )
    try:
        server.wait_ready()
        yield server, root / "modelport.db"
    finally:
        server.stop()


def database_bytes(path: Path) -> int:
    """The database's size as SQLite counts it (pages in use, the log's WAL included)."""
    with sqlite3.connect(path) as connection:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        size = connection.execute("PRAGMA page_size").fetchone()[0]
    return int(pages * size)


def all_logged(server: Server, model: str) -> list[dict[str, Any]]:
    """The model's logged predictions so far, oldest first."""
    answer = httpx.get(
        f"{server.url}/v1/models/{model}/predictions",
        params={"limit": 10_000},
        headers=AUTH,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["predictions"]
    return rows


def logged(server: Server, model: str, count: int) -> list[dict[str, Any]]:
    """The model's predictions once ``count`` are written (the writer runs every 0.1 s)."""
    deadline = time.monotonic() + 30
    while len(rows := all_logged(server, model)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return rows


@pytest.mark.parametrize(
    ("model", "status"), [("loan-rf", 422), ("iris-lr", 422)], ids=["model-refuses", "invalid"]
)
def test_huge_strings_in_rejected_requests_are_logged_bounded(
    logging_server: tuple[Server, Path], model: str, status: int
) -> None:
    server, database = logging_server
    before_rows = len(all_logged(server, model))
    before = database_bytes(database)
    huge = "M" * (9 * 1024 * 1024)
    row = {**LOAN_ROW, "Gender": huge} if model == "loan-rf" else {"sepal_length": huge}

    for _ in range(3):
        answer = httpx.post(
            f"{server.url}/v1/models/{model}:predict", json={"instances": [row]}, timeout=120
        )
        assert answer.status_code == status, answer.text[:300]

    rows = logged(server, model, before_rows + 3)[-3:]
    grown = database_bytes(database) - before
    assert grown <= 3 * PER_ROW, f"the log grew {grown} bytes for 3 requests"
    if model == "loan-rf":  # the model refused it: the validated row is logged, cut
        assert all(r["truncated"] and r["input_bytes"] > 9_000_000 for r in rows)
        assert len({r["input_sha256"] for r in rows}) == 1  # the same input, the same hash
        kept = rows[0]["input"][0]
        assert kept["Gender"] == "M" * STRING_KEEP + f"…[cut: {len(huge)} characters]"
        assert kept["Property_Area"] == "Urban"  # the rest of the row is still there
    else:  # refused before a batch existed: the input as sent is logged, cut the same way
        assert all(r["status"] == "invalid_input" and r["error"] for r in rows)
        assert all(r["truncated"] and r["input_bytes"] > 9_000_000 for r in rows)
        kept = rows[0]["input"][0]
        assert kept["sepal_length"] == "M" * STRING_KEEP + f"…[cut: {len(huge)} characters]"


def test_a_4_mb_binary_v2_tensor_adds_a_bounded_row(logging_server: tuple[Server, Path]) -> None:
    server, database = logging_server
    count = 1_000_000  # float32: 4 MB of tensor, 250,000 rows of 4 features
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [count // 4, 4],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 4 * count},
                }
            ]
        }
    ).encode()
    body = header + struct.pack(f"<{count}f", *([5.1] * count))
    before_rows = len(all_logged(server, "iris-lr"))
    before = database_bytes(database)

    answer = httpx.post(
        f"{server.url}/v2/models/iris-lr/infer",
        content=body,
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=120,
    )

    assert answer.status_code == 200, answer.text[:300]
    (row,) = logged(server, "iris-lr", before_rows + 1)[-1:]
    grown = database_bytes(database) - before
    assert grown <= PER_ROW, f"the log grew {grown} bytes for one request"
    assert row["truncated"] and row["input"] is None and row["output"] is None
    assert row["input_bytes"] > 4 * count and len(row["input_sha256"]) == 64
    assert row["output_bytes"] > 250_000 and len(row["output_sha256"]) == 64


def test_a_big_numeric_request_is_logged_as_its_sha256(
    logging_server: tuple[Server, Path],
) -> None:
    server, database = logging_server
    rows_text = json.dumps([[5.1, 3.5, 1.4, 0.2]] * 100_000, separators=(",", ":"))
    before_rows = len(all_logged(server, "iris-lr"))
    before = database_bytes(database)

    answer = httpx.post(
        f"{server.url}/v1/models/iris-lr:predict",
        content=f'{{"instances":{rows_text}}}',
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    small = httpx.post(
        f"{server.url}/v1/models/iris-lr:predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}
    )

    assert answer.status_code == 200 and small.status_code == 200
    big, whole = logged(server, "iris-lr", before_rows + 2)[-2:]
    assert database_bytes(database) - before <= 2 * PER_ROW
    # The sha256 of the rows exactly as this client sent them: it can tell its request.
    assert big["input_sha256"] == hashlib.sha256(rows_text.encode()).hexdigest()
    assert big["input_bytes"] == len(rows_text) and big["input"] is None
    assert whole["truncated"] is False and whole["input"] == [[5.1, 3.5, 1.4, 0.2]]
    assert whole["input_sha256"] is None

    # The export says the same, read from the database itself.
    exported = subprocess.run(
        [str(MODELPORT), "predictions", "export", "iris-lr", "--data-dir", str(database.parent)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    by_id = {r["request_id"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert by_id[big["request_id"]]["truncated"] == "True"
    assert by_id[big["request_id"]]["input_sha256"] == big["input_sha256"]
    assert by_id[whole["request_id"]]["truncated"] == "False"
