"""``modelport predictions export`` on every backend: CSV and Parquet, filters, errors."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from modelport.cli import main
from modelport.db import store
from modelport.db.store import NewPrediction
from modelport.export import COLUMNS, PAGE

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fill(engine: Engine, count: int, model: str = "iris") -> None:
    store.insert_predictions(
        engine,
        [
            NewPrediction(
                request_id=f"req-{i}",
                at=START + timedelta(seconds=i),
                model=model,
                version=1 + i % 2,
                protocol="native",
                input=[[5.1, 3.5, 1.4, i]],
                input_hash=f"{i:032x}",
                output={"predictions": ["setosa"]},
                latency_ms=0.5 + i,
                status="ok",
                client_address="127.0.0.1",
            )
            for i in range(count)
        ],
    )


def export(engine: Engine, *args: str) -> tuple[int, str, str]:
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["predictions", "export", *args, "--database-url", url])
    return result.exit_code, result.stdout, result.stderr


def test_csv_to_standard_output_pages_through_everything(engine: Engine) -> None:
    count = PAGE + 3
    fill(engine, count)
    fill(engine, 2, model="other")
    code, out, err = export(engine, "iris")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == count and tuple(rows[0]) == COLUMNS
    assert [row["request_id"] for row in rows[:3]] == ["req-0", "req-1", "req-2"]
    assert json.loads(rows[1]["input"]) == [[5.1, 3.5, 1.4, 1]]
    assert json.loads(rows[1]["output"]) == {"predictions": ["setosa"]}
    assert datetime.fromisoformat(rows[1]["at"]) == START + timedelta(seconds=1)
    assert f"exported {count} prediction(s) of 'iris'" in err


def test_since_until_and_version_filters_to_a_file(engine: Engine, tmp_path: Path) -> None:
    fill(engine, 10)
    target = tmp_path / "out.csv"
    since = (START + timedelta(seconds=2)).isoformat()
    until = (START + timedelta(seconds=8)).replace(tzinfo=None).isoformat()  # naive = UTC
    code, _, err = export(
        engine, "iris", "-o", str(target), "--since", since, "--until", until, "--version", "1"
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [row["request_id"] for row in rows] == ["req-2", "req-4", "req-6"]


def test_parquet(engine: Engine, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    fill(engine, 25)
    target = tmp_path / "log.parquet"
    code, _, err = export(engine, "iris", "--format", "parquet", "-o", str(target))
    assert code == 0, err
    table = pq.read_table(target)
    assert table.num_rows == 25 and tuple(table.column_names) == COLUMNS
    assert table.column("at")[3].as_py() == START + timedelta(seconds=3)
    assert json.loads(table.column("input")[2].as_py()) == [[5.1, 3.5, 1.4, 2]]
    empty = tmp_path / "empty.parquet"
    store.record_version(engine, "quiet", 1, sha256=None, size=None, runtime=None, state="ready")
    code, _, err = export(engine, "quiet", "--format", "parquet", "-o", str(empty))
    assert code == 0, err
    assert pq.read_table(empty).num_rows == 0


def test_errors(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "never.csv"
    code, _, err = export(engine, "nope", "-o", str(target))
    assert code == 1 and "model 'nope' not found" in err
    assert not target.exists()  # nothing is written for an unknown model
    code, _, err = export(engine, "iris", "--format", "parquet")
    assert code == 2 and "-o/--output" in err
    code, _, err = export(engine, "iris", "--since", "yesterday")
    assert code == 2 and "not an ISO 8601 time" in err
    fill(engine, 1)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    code, _, err = export(engine, "iris", "--format", "parquet", "-o", str(tmp_path / "x.pq"))
    assert code == 1 and "pip install 'modelport[parquet]'" in err
    assert "Parquet export needs the Python package 'pyarrow'" in err


def test_a_truncated_row_says_so_in_both_formats(engine: Engine, tmp_path: Path) -> None:
    note = {"input": {"bytes": 9_437_311, "sha256": "ab" * 32, "strings_cut": 1}}
    store.insert_predictions(
        engine,
        [
            NewPrediction(
                request_id="big",
                at=START,
                model="iris",
                version=1,
                protocol="native",
                input=[{"Gender": "MMM…[cut: 9437184 characters]"}],
                input_hash=None,
                output=None,
                latency_ms=1.0,
                status="invalid_input",
                truncation=note,
            )
        ],
    )
    fill(engine, 1)  # and a whole one
    code, out, err = export(engine, "iris")
    assert code == 0, err
    cut, whole = csv.DictReader(io.StringIO(out))
    assert (cut["truncated"], cut["input_bytes"], cut["input_sha256"]) == (
        "True",
        "9437311",
        "ab" * 32,
    )
    assert (cut["output_bytes"], cut["output_sha256"]) == ("", "")
    assert (whole["truncated"], whole["input_sha256"]) == ("False", "")
    pq = pytest.importorskip("pyarrow.parquet")
    target = tmp_path / "log.parquet"
    assert export(engine, "iris", "--format", "parquet", "-o", str(target))[0] == 0
    table = pq.read_table(target).to_pylist()
    assert [(r["truncated"], r["input_bytes"]) for r in table] == [(True, 9_437_311), (False, None)]
