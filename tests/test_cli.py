"""The ``modelport`` command in-process: help, settings errors, train-examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from modelport.cli import main
from modelport.config import Settings
from modelport.train_examples import EXAMPLES


def test_serve_help_documents_every_setting() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for name in Settings.model_fields:
        if name not in ("model_dir", "model_store"):  # the argument sets both
            assert f"--{name.replace('_', '-')}" in result.output
            assert f"MODELPORT_{name.upper()}" in result.output
    assert "MODEL_DIR" in result.output
    assert "s3://bucket/prefix" in result.output


def test_serve_rejects_bad_settings_before_starting(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", str(tmp_path), "--port", "70000"])
    assert result.exit_code == 2
    assert "port" in result.output


def test_train_examples_writes_models_once(tmp_path: Path) -> None:
    target = tmp_path / "models"
    first = CliRunner().invoke(main, ["train-examples", str(target)])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in target.iterdir()) == sorted(EXAMPLES)
    for name in ("iris-dt", "iris-lr"):
        assert (target / name / "1" / "model.joblib").is_file()
        assert "sepal_length" in (target / name / "model.yaml").read_text()
    before = (target / "iris-lr" / "1" / "model.joblib").stat().st_mtime_ns
    second = CliRunner().invoke(main, ["train-examples", str(target)])
    assert second.exit_code == 0
    assert "already" in second.output
    assert (target / "iris-lr" / "1" / "model.joblib").stat().st_mtime_ns == before
    assert not [p for p in target.rglob(".tmp-*")]


def test_serve_with_a_database_url_it_cannot_use_stops_with_one_line(tmp_path: Path) -> None:
    """`modelport serve models --database-url foo://x`: exit 2 and the reason, before any
    model loads, not a traceback."""
    (tmp_path / "models").mkdir()
    result = CliRunner().invoke(
        main, ["serve", str(tmp_path / "models"), "--database-url", "foo://x", "--watch"]
    )
    assert result.exit_code == 2
    assert "unsupported database 'foo'" in result.output
    assert "Traceback" not in result.output


def test_the_command_starts_without_the_serving_stack() -> None:
    """`modelport --help` and the operator commands load neither NumPy nor the database
    layer (a second's wait before every command, and before a newcomer's first)."""
    code = (
        "import sys, modelport.cli; heavy = ('numpy', 'sqlalchemy', 'fastapi', 'sklearn'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.strip() == "[]", shown.stdout
