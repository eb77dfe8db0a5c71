"""MLmodel files as MLflow writes them: which runtime reads the model, the signature's
columns, the input example, and the layouts the scan accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelport.errors import ModelLoadError
from modelport.repository import ModelConfig, scan_repository
from modelport.repository.mlmodel import MLMODEL, read_mlmodel, with_mlmodel
from modelport.repository.model_yaml import FeatureSpec
from modelport.runtimes.base import artifact_suffixes, runtime_for

COLUMNS = [
    {"type": "double", "name": "x", "required": True},
    {"type": "long", "name": "n", "required": True},
    {"type": "string", "name": "city", "required": True},
    {"type": "boolean", "name": "member", "required": False},
]


def sklearn_flavor(serialization: str = "skops", artifact: str = "model.skops") -> dict[str, Any]:
    return {
        "python_function": {"loader_module": "mlflow.sklearn", "model_path": artifact},
        "sklearn": {"pickled_model": artifact, "serialization_format": serialization},
    }


def write_mlmodel(
    folder: Path,
    flavors: dict[str, Any],
    inputs: Any = COLUMNS,
    example: Any = None,
    files: tuple[str, ...] = ("model.skops",),
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"flavors": flavors, "mlflow_version": "3.18.0"}
    if inputs is not None:
        data["signature"] = {"inputs": json.dumps(inputs), "outputs": None, "params": None}
    if example is not None:
        (folder / "input_example.json").write_text(json.dumps(example))
        data["saved_input_example_info"] = {
            "artifact_path": "input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
        }
    for name in files:
        (folder / name).write_bytes(b"artifact")
    path = folder / MLMODEL
    path.write_text(yaml.safe_dump(data))
    return path


def test_columns_become_typed_features(tmp_path: Path) -> None:
    model = read_mlmodel(write_mlmodel(tmp_path, sklearn_flavor()))
    assert model.features == (
        FeatureSpec(name="x", type="float"),
        FeatureSpec(name="n", type="int"),
        FeatureSpec(name="city", type="str"),
        FeatureSpec(name="member", type="bool"),
    )


@pytest.mark.parametrize(
    "inputs",
    [
        [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}],
        [{"type": "array", "items": {"type": "double"}, "name": "xs"}],
        None,
    ],
    ids=["tensor", "array-column", "no-signature"],
)
def test_signatures_modelport_cannot_check_leave_features_open(tmp_path: Path, inputs: Any) -> None:
    assert read_mlmodel(write_mlmodel(tmp_path, sklearn_flavor(), inputs=inputs)).features is None


@pytest.mark.parametrize(
    "example",
    [
        {"columns": ["x", "n"], "data": [[1.5, 2], [3.0, 4]]},
        [{"x": 1.5, "n": 2}, {"x": 3.0, "n": 4}],
    ],
    ids=["split", "records"],
)
def test_the_input_example_first_row_is_the_example(tmp_path: Path, example: Any) -> None:
    model = read_mlmodel(write_mlmodel(tmp_path, sklearn_flavor(), example=example))
    assert model.example == {"x": 1.5, "n": 2}


@pytest.mark.parametrize(
    ("flavors", "files", "runtime", "artifact"),
    [
        (sklearn_flavor(), ("model.skops",), "skops", "model.skops"),
        (sklearn_flavor("cloudpickle", "model.pkl"), ("model.pkl",), "sklearn", "model.pkl"),
        (
            {
                "python_function": {"loader_module": "mlflow.xgboost", "data": "model.ubj"},
                "xgboost": {"data": "model.ubj", "model_format": "ubj"},
            },
            ("model.ubj",),
            "xgboost",
            "model.ubj",
        ),
        (
            {
                "python_function": {"loader_module": "mlflow.lightgbm", "data": "model.lgb"},
                "lightgbm": {"data": "model.lgb"},
            },
            ("model.lgb",),
            "lightgbm",
            "model.lgb",
        ),
        (
            {
                "python_function": {"loader_module": "mlflow.lightgbm", "data": "model.skops"},
                "lightgbm": {
                    "data": "model.skops",
                    "serialization_format": "skops",
                    "skops_trusted_types": ["lightgbm.basic.Booster"],
                },
            },
            ("model.skops",),
            "skops",
            "model.skops",
        ),
    ],
    ids=["sklearn-skops", "sklearn-cloudpickle", "xgboost-ubj", "lightgbm-text", "lightgbm-skops"],
)
def test_native_flavors_name_a_modelport_runtime(
    tmp_path: Path, flavors: dict[str, Any], files: tuple[str, ...], runtime: str, artifact: str
) -> None:
    model = read_mlmodel(write_mlmodel(tmp_path, flavors, files=files))
    assert model.runtime == runtime
    assert model.artifact == (tmp_path / artifact).resolve()


def test_lightgbm_skops_types_mlflow_trusted_are_trusted(tmp_path: Path) -> None:
    flavors = {
        "lightgbm": {
            "data": "model.skops",
            "skops_trusted_types": ["lightgbm.basic.Booster", "collections.OrderedDict"],
        }
    }
    model = read_mlmodel(write_mlmodel(tmp_path, flavors))
    config = with_mlmodel(ModelConfig(trusted_types=["mine.Type"]), model)
    assert config.trusted_types == [
        "mine.Type",
        "lightgbm.basic.Booster",
        "collections.OrderedDict",
    ]


@pytest.mark.parametrize(
    "flavors",
    [
        # A custom PythonModel.
        {"python_function": {"loader_module": "mlflow.pyfunc.model", "python_model": "m.pkl"}},
        # scikit-learn, but served through predict_proba: MLflow's pyfunc decides.
        {
            "python_function": {"loader_module": "mlflow.sklearn", "predict_fn": "predict_proba"},
            "sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"},
        },
        # scikit-learn with code paths of its own.
        {
            "python_function": {"loader_module": "mlflow.sklearn", "code": "code"},
            "sklearn": {"pickled_model": "model.skops", "code": "code"},
        },
        # XGBoost's old binary format.
        {
            "python_function": {"loader_module": "mlflow.xgboost", "data": "model.xgb"},
            "xgboost": {"data": "model.xgb", "model_format": "xgb"},
        },
    ],
    ids=["python-model", "predict-proba", "code-paths", "xgboost-binary"],
)
def test_other_models_go_to_mlflow_pyfunc(tmp_path: Path, flavors: dict[str, Any]) -> None:
    model = read_mlmodel(write_mlmodel(tmp_path, flavors))
    assert (model.runtime, model.artifact, model.flavor) == (None, None, "python_function")


def test_model_yaml_wins_over_the_mlmodel(tmp_path: Path) -> None:
    model = read_mlmodel(
        write_mlmodel(tmp_path, sklearn_flavor(), example={"columns": ["x"], "data": [[1.0]]})
    )
    mine = ModelConfig(features=["a", "b"], example=[0.5, 0.5])
    assert with_mlmodel(mine, model) == mine
    filled = with_mlmodel(ModelConfig(), model)
    assert filled.features == list(model.features or ())
    assert filled.example == {"x": 1.0}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("flavors: {}\n", "has no flavors"),
        ("[1, 2\n", "cannot read"),
        ("flavors:\n  onnx: {data: model.onnx}\n", "none of which modelport or mlflow.pyfunc"),
        (
            "flavors:\n  sklearn: {pickled_model: ../../etc/passwd, serialization_format: "
            "pickle}\n",
            "outside the model folder",
        ),
        (
            "flavors:\n  sklearn: {pickled_model: gone.pkl, serialization_format: pickle}\n",
            "not in the folder",
        ),
        (
            "flavors: {python_function: {}}\nsignature: {inputs: '[{oops'}\n",
            "signature inputs are not JSON",
        ),
    ],
    ids=["no-flavors", "not-yaml", "unknown-flavor", "path-out", "missing-file", "bad-signature"],
)
def test_a_broken_mlmodel_is_a_load_error_naming_it(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / MLMODEL).write_text(text)
    with pytest.raises(ModelLoadError, match=problem):
        read_mlmodel(tmp_path / MLMODEL)


def test_an_mlflow_folder_is_a_version_or_a_whole_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_mlmodel(models / "churn" / "3", sklearn_flavor(), files=("model.skops", "conda.yaml"))
    (models / "churn" / "3" / "requirements.txt").write_text("scikit-learn\n")
    write_mlmodel(models / "fraud", sklearn_flavor())
    (models / "fraud" / "metadata").mkdir()  # MLflow's own subfolders are no versions
    found = {s.name: s for s in scan_repository(models, artifact_suffixes())}
    churn, fraud = found["churn"], found["fraud"]
    assert churn.problem is None and fraud.problem is None
    assert churn.versions[3].artifact == models / "churn" / "3" / MLMODEL
    assert list(fraud.versions) == [1]
    assert fraud.versions[1].artifact == models / "fraud" / MLMODEL
    assert runtime_for(models / "fraud" / MLMODEL).kind == "mlflow"


def test_model_dir_may_be_one_mlflow_folder(tmp_path: Path) -> None:
    folder = tmp_path / "Churn Model"
    write_mlmodel(folder, sklearn_flavor())
    [source] = scan_repository(folder, artifact_suffixes())
    assert source.name == "churn-model"
    assert source.versions[1].artifact == folder / MLMODEL
