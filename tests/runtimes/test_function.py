"""Python function models: model.py's predict(...) parameters are the features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelport.errors import InvalidInputError
from modelport.example_data import COMPUTE_CODE
from modelport.inputs import to_batch
from modelport.outputs import ModelOutputs, run_model
from modelport.payloads import Records, Rows
from modelport.registry import ModelVersion, load_model
from modelport.repository import scan_repository
from modelport.runtimes.base import artifact_suffixes


def function_model(model_dir: Path, code: str, yaml_text: str = "", name: str = "fn") -> None:
    (model_dir / name / "1").mkdir(parents=True)
    (model_dir / name / "1" / "model.py").write_text(code)
    if yaml_text:
        (model_dir / name / "model.yaml").write_text(yaml_text)


def load_version(model_dir: Path, name: str = "fn") -> ModelVersion:
    sources = {s.name: s for s in scan_repository(model_dir, artifact_suffixes())}
    return load_model(sources[name]).versions[1]


def run(version: ModelVersion, payload: Rows | Records, rows: int) -> ModelOutputs:
    assert version.runtime is not None and version.signature is not None, version.error
    batch = to_batch(payload, version.signature)
    return run_model(version.runtime, version.signature, batch, rows, probabilities=True)


@pytest.fixture
def compute(tmp_path: Path) -> ModelVersion:
    function_model(tmp_path, COMPUTE_CODE, "example: {a: 1, b: 2, ctype: 1}\n")
    return load_version(tmp_path)


def test_parameters_become_typed_features(compute: ModelVersion) -> None:
    assert compute.runtime is not None and compute.runtime.kind == "function"
    assert compute.signature is not None
    assert [(f.name, f.type) for f in compute.signature.features or ()] == [
        ("a", "float"),
        ("b", "float"),
        ("ctype", "int"),
    ]


@pytest.mark.parametrize(
    ("a", "b", "ctype", "answer"),
    [(1, 2, 0, 3.0), (1, 2, 1, -1.0), (3, 4, 2, 12.0), (1, 4, 3, 0.25)],
)
def test_compute_answers(compute: ModelVersion, a: int, b: int, ctype: int, answer: float) -> None:
    outputs = run(compute, Records([{"a": a, "b": b, "ctype": ctype}]), 1)

    assert outputs.predictions == [answer]
    assert outputs.probabilities is None


def test_rows_and_records_both_work(compute: ModelVersion) -> None:
    assert run(compute, Rows([[1, 2, 1], [2, 2, 2]]), 2).predictions == [-1.0, 4.0]


def test_division_by_zero_is_the_callers_error(compute: ModelVersion) -> None:
    with pytest.raises(InvalidInputError) as info:
        run(compute, Records([{"a": 1, "b": 2, "ctype": 0}, {"a": 1, "b": 0, "ctype": 3}]), 2)

    assert info.value.status_code == 422
    assert info.value.message.startswith("row 1: the model refused the input: ValueError")
    assert "cannot divide by zero" in info.value.message


def test_int_feature_refuses_a_fraction(compute: ModelVersion) -> None:
    with pytest.raises(InvalidInputError, match="row 0, feature 'ctype': expected a whole number"):
        run(compute, Records([{"a": 1, "b": 2, "ctype": 1.5}]), 1)


@pytest.mark.parametrize(
    ("failing", "message"),
    [
        ("1 / 0", "row 1: the model refused the input: ZeroDivisionError: division by zero"),
        ("{}['x']", "row 1: the model refused the input: KeyError: 'x'"),
        ("float('x')", "row 1: the model refused the input: ValueError: could not convert"),
        ("throw(InvalidInputError('x must be positive'))", "x must be positive"),
    ],
)
def test_refusals_become_invalid_input(tmp_path: Path, failing: str, message: str) -> None:
    code = (
        "from modelport.errors import InvalidInputError\n\n"
        "def throw(exc):\n    raise exc\n\n"
        f"def predict(x):\n    return {failing} if x < 0 else x\n"
    )
    function_model(tmp_path, code)

    with pytest.raises(InvalidInputError) as info:
        run(load_version(tmp_path), Rows([[1.0], [-1.0]]), 2)

    assert info.value.message.startswith(message)


def test_a_bug_in_the_function_is_not_the_callers_error(tmp_path: Path) -> None:
    function_model(tmp_path, "def predict(x):\n    raise RuntimeError('oops')\n", "example: [1]\n")

    version = load_version(tmp_path)

    assert version.state == "failed"
    assert version.error is not None
    assert "warm-up prediction failed: RuntimeError: oops" in version.error


def test_dict_list_and_string_answers_are_returned_as_is(tmp_path: Path) -> None:
    code = (
        "import numpy as np\n\n"
        "def predict(name: str, n: int):\n"
        "    if n == 0:\n        return {'hello': name, 'score': np.float64(0.5)}\n"
        "    if n == 1:\n        return [name] * 2\n"
        "    return name.upper()\n"
    )
    function_model(tmp_path, code, "example: {name: a, n: 0}\n")

    outputs = run(
        load_version(tmp_path),
        Records([{"name": "x", "n": 0}, {"name": "y", "n": 1}, {"name": "z", "n": 2}]),
        3,
    )

    assert outputs.predictions == [{"hello": "x", "score": 0.5}, ["y", "y"], "Z"]
    assert type(outputs.predictions[0]["score"]) is float


def test_missing_values_arrive_as_none(tmp_path: Path) -> None:
    code = "def predict(x: float, label: str):\n    return [x, label]\n"
    function_model(tmp_path, code, "allow_missing: true\nexample: {x: 1, label: a}\n")

    outputs = run(load_version(tmp_path), Records([{"x": None, "label": None}]), 1)

    assert outputs.predictions == [[None, None]]


def test_model_yaml_features_may_rename_nothing_but_must_match(tmp_path: Path) -> None:
    function_model(tmp_path, "def predict(a, b):\n    return a\n", "features: [b, a]\n")

    version = load_version(tmp_path)

    assert version.state == "failed"
    assert version.error is not None
    assert "do not match" in version.error


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("x = 1\n", "defines no predict() function"),
        ("def predict(*rows):\n    return 1\n", "predict() takes no named parameters"),
        ("raise ImportError('needs torch')\n", "model.py failed to import (line 1): ImportError"),
    ],
)
def test_bad_model_py_fails_clearly(tmp_path: Path, code: str, fragment: str) -> None:
    function_model(tmp_path, code)

    version = load_version(tmp_path)

    assert version.state == "failed"
    assert version.error is not None
    assert fragment in version.error


def test_code_files_are_importable_from_model_py(tmp_path: Path) -> None:
    function_model(
        tmp_path,
        "from rules import double\n\ndef predict(x):\n    return double(x)\n",
        "code: [rules.py]\nexample: [1]\n",
    )
    (tmp_path / "fn" / "1" / "rules.py").write_text("def double(x):\n    return 2 * x\n")

    outputs = run(load_version(tmp_path), Rows([[21]]), 1)

    assert outputs.predictions == [42.0]


def test_predict_proba_is_not_offered(compute: ModelVersion) -> None:
    assert compute.signature is not None and not compute.signature.has_proba
    assert compute.runtime is not None
    assert np.asarray(compute.runtime.predict(np.array([[1.0, 2.0, 1.0]]))).tolist() == [-1.0]
