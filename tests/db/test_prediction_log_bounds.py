"""The prediction log keeps at most log_max_input_bytes of one prediction's input and of
its output, on every backend; what it leaves out is named in the row's truncation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Engine

from modelport.db import store
from modelport.db.prediction_rows import encode_json
from modelport.outputs import ModelOutputs
from modelport.predlog_rows import STRING_KEEP

from .test_prediction_log import make_log, record, run, version

LIMIT = 4096


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_sizes(engine: Engine) -> list[tuple[int, int]]:
    """Characters of input and output JSON per row, as the database holds them."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT input, output FROM prediction_log ORDER BY id"
        ).all()
    return [(len(given or ""), len(made or "")) for given, made in rows]


def loan_rows(gender: str, count: int = 1) -> pd.DataFrame:
    return pd.DataFrame({"Gender": [gender] * count, "Income": [5720.0] * count})


def test_a_huge_string_is_cut_and_the_rest_of_the_row_kept(engine: Engine, tmp_path: Path) -> None:
    # A rejected request (the model refused the value): 422, logged bounded all the same.
    batch = loan_rows("M" * 9_000_000)
    log = make_log(engine, tmp_path, log_max_input_bytes=LIMIT)
    record(log, version(), 1, batch=batch, outputs=None, status="invalid_input")
    run(log.flush())

    (row,) = store.list_predictions(engine, "iris")
    full = encode_json(batch.to_dict(orient="records"))
    assert row.truncation == {
        "input": {"bytes": len(full), "sha256": sha256(full), "strings_cut": 1}
    }
    (kept,) = row.input
    assert kept["Income"] == 5720.0
    assert kept["Gender"] == "M" * STRING_KEEP + "…[cut: 9000000 characters]"
    assert stored_sizes(engine)[0][0] <= LIMIT


def test_strings_are_cut_only_when_the_input_is_too_big(engine: Engine, tmp_path: Path) -> None:
    log = make_log(engine, tmp_path, log_max_input_bytes=LIMIT)
    record(log, version(), 1, batch=loan_rows("x" * 3000))  # 3 kB of text fits in 4 kB
    run(log.flush())

    (row,) = store.list_predictions(engine, "iris")
    assert row.truncation is None and row.input[0]["Gender"] == "x" * 3000


def test_cut_strings_that_still_do_not_fit_leave_the_input_out(
    engine: Engine, tmp_path: Path
) -> None:
    batch = loan_rows("y" * 5000, count=20)  # 20 cut strings are still 20 kB
    log = make_log(engine, tmp_path, log_max_input_bytes=LIMIT)
    record(log, version(), 1, batch=batch)
    run(log.flush())

    (row,) = store.list_predictions(engine, "iris")
    full = encode_json(batch.to_dict(orient="records"))
    assert row.input is None
    assert row.truncation == {"input": {"bytes": len(full), "sha256": sha256(full)}}


def test_a_big_numeric_input_and_its_output_are_left_out(engine: Engine, tmp_path: Path) -> None:
    # What a 4 MB binary V2 tensor becomes: 250,000 rows, and as many labels.
    batch = np.full((250_000, 4), 5.1, dtype=np.float32)
    outputs = ModelOutputs(["virginica"] * len(batch))
    log = make_log(engine, tmp_path)  # the default, 64 KiB
    record(log, version(), 1, batch=batch, outputs=outputs)
    run(log.flush())

    (row,) = store.list_predictions(engine, "iris")
    given = orjson.dumps(batch, option=orjson.OPT_SERIALIZE_NUMPY)
    made = encode_json({"predictions": outputs.predictions})
    assert (row.input, row.output) == (None, None)
    assert row.truncation == {
        "input": {"bytes": len(given), "sha256": sha256(given)},
        "output": {"bytes": len(made), "sha256": sha256(made)},
    }
    assert stored_sizes(engine) == [(0, 0)]


def test_the_clients_row_text_is_measured_as_it_is(engine: Engine, tmp_path: Path) -> None:
    rows = np.full((300, 4), 5.25)
    text = orjson.dumps(rows.tolist())  # 7 kB of the client's own JSON
    log = make_log(engine, tmp_path, log_max_input_bytes=LIMIT)
    record(log, version(), 1, batch=rows, text=text)
    record(log, version(), 2, batch=rows[:100], text=orjson.dumps(rows[:100].tolist()))
    run(log.flush())

    big, small = store.list_predictions(engine, "iris")
    assert big.input is None
    assert big.truncation == {"input": {"bytes": len(text), "sha256": sha256(text)}}
    assert small.truncation is None and len(small.input) == 100


def test_the_bound_is_per_part_and_small_rows_pay_nothing(engine: Engine, tmp_path: Path) -> None:
    rows = np.full((100, 4), 1.0)  # 1.7 kB of input
    outputs = ModelOutputs([f"class-{i:040d}" for i in range(100)])  # 5 kB of output
    log = make_log(engine, tmp_path, log_max_input_bytes=LIMIT)
    record(log, version(), 1, batch=rows, outputs=outputs)
    run(log.flush())

    (row,) = store.list_predictions(engine, "iris")
    assert row.input == rows.tolist() and row.output is None
    assert set(row.truncation or {}) == {"output"}
