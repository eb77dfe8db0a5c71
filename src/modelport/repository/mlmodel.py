"""MLflow model folders: the ``MLmodel`` file ``mlflow.<flavor>.save_model`` writes.

A folder holding ``MLmodel`` is one model version. The file says which flavors can read
the model, where the artifact is, the signature (``inputs``: a JSON string of column
specs) and the input example. Reading it needs no MLflow: the scikit-learn, XGBoost and
LightGBM flavors name a file one of modelport's own runtimes reads; any other flavor (a
custom ``mlflow.pyfunc.PythonModel``, models from code, a flavor with code paths) is
left to ``mlflow.pyfunc.load_model`` (runtimes/mlflow.py).

The signature and example fill in what ``model.yaml`` leaves unsaid (:func:`with_mlmodel`):
features and their types, the warm-up row, the skops types MLflow recorded as trusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelport.errors import ModelLoadError
from modelport.repository.model_yaml import FeatureSpec, ModelConfig
from modelport.types import FeatureType

__all__ = ["MLMODEL", "MlflowModel", "is_mlflow_folder", "read_mlmodel", "with_mlmodel"]

MLMODEL = "MLmodel"

#: MLflow column types -> modelport feature types. Dates and bytes travel in JSON as text.
_COLUMN_TYPES: dict[str, FeatureType] = {
    "double": "float",
    "float": "float",
    "long": "int",
    "integer": "int",
    "boolean": "bool",
    "string": "str",
    "datetime": "str",
    "binary": "str",
}
#: The pyfunc loader module of each flavor modelport reads itself.
_NATIVE_LOADERS = {
    "sklearn": "mlflow.sklearn",
    "xgboost": "mlflow.xgboost",
    "lightgbm": "mlflow.lightgbm",
}
#: How MLflow serialized a scikit-learn-like object -> the modelport runtime reading it.
_SERIALIZATIONS = {"pickle": "sklearn", "cloudpickle": "sklearn", "skops": "skops"}


@dataclass(frozen=True, slots=True)
class MlflowModel:
    """What an ``MLmodel`` file says, as modelport uses it."""

    folder: Path
    #: The flavor served: "sklearn", "xgboost", "lightgbm", or "python_function".
    flavor: str
    #: The modelport runtime reading ``artifact`` ("sklearn", "skops", "xgboost",
    #: "lightgbm"); None: the model loads through ``mlflow.pyfunc.load_model``.
    runtime: str | None
    artifact: Path | None
    #: Columns from the signature's inputs; None for a tensor signature or none at all.
    features: tuple[FeatureSpec, ...] | None
    #: The first row of the saved input example, keyed by column.
    example: dict[str, Any] | None
    #: skops types MLflow trusted when it saved the model (the LightGBM flavor lists some).
    trusted_types: tuple[str, ...] = ()


def is_mlflow_folder(folder: Path) -> bool:
    """Whether ``folder`` is an MLflow model (an ``MLmodel`` file in it)."""
    return (folder / MLMODEL).is_file()


def read_mlmodel(path: Path) -> MlflowModel:
    """Parse an ``MLmodel`` file; any problem is a ModelLoadError naming it."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"{MLMODEL}: cannot read: {exc}") from exc
    flavors = data.get("flavors") if isinstance(data, dict) else None
    if not isinstance(flavors, dict) or not flavors:
        raise ModelLoadError(f"{MLMODEL} has no flavors: is it a file mlflow save_model wrote?")
    folder = path.parent
    flavor, runtime, artifact_name = _native_flavor(flavors)
    artifact = None
    if runtime is not None and artifact_name is not None:
        artifact = _inside(folder, artifact_name)
    elif "python_function" not in flavors:
        raise ModelLoadError(
            f"{MLMODEL} has the flavors {sorted(flavors)}, none of which modelport or "
            "mlflow.pyfunc can load (no python_function flavor)"
        )
    trusted = flavors.get(flavor, {}).get("skops_trusted_types") if runtime == "skops" else None
    return MlflowModel(
        folder=folder,
        flavor=flavor,
        runtime=runtime,
        artifact=artifact,
        features=_features(data.get("signature")),
        example=_example(folder, data.get("saved_input_example_info")),
        trusted_types=tuple(str(t) for t in trusted) if isinstance(trusted, list) else (),
    )


def with_mlmodel(config: ModelConfig, model: MlflowModel) -> ModelConfig:
    """``config`` (model.yaml) with the MLmodel's signature, example and skops types
    where model.yaml says nothing; what model.yaml says wins."""
    update: dict[str, Any] = {}
    if config.features is None and model.features is not None:
        update["features"] = list(model.features)
    if config.example is None and model.example is not None:
        update["example"] = model.example
    if model.trusted_types:
        update["trusted_types"] = list(
            dict.fromkeys([*(config.trusted_types or ()), *model.trusted_types])
        )
    return config.model_copy(update=update) if update else config


def _native_flavor(flavors: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(flavor, runtime, artifact file) of the flavor modelport reads itself, if any.

    Only when the model's python_function flavor answers with that flavor's own
    ``predict``: a custom loader, ``predict_fn: predict_proba`` or code paths are
    MLflow's to run.
    """
    pyfunc = flavors.get("python_function")
    pyfunc = pyfunc if isinstance(pyfunc, dict) else None
    for flavor, loader in _NATIVE_LOADERS.items():
        spec = flavors.get(flavor)
        if not isinstance(spec, dict) or spec.get("code"):
            continue
        if pyfunc is not None and (
            pyfunc.get("loader_module") != loader
            or pyfunc.get("predict_fn", "predict") != "predict"
            or pyfunc.get("code")
        ):
            continue
        runtime, artifact = _runtime_of(flavor, spec)
        if runtime is not None:
            return flavor, runtime, artifact
    return "python_function", None, None


def _runtime_of(flavor: str, spec: dict[str, Any]) -> tuple[str | None, str | None]:
    if flavor == "sklearn":
        artifact = spec.get("pickled_model")
        runtime = _SERIALIZATIONS.get(str(spec.get("serialization_format", "cloudpickle")))
    elif flavor == "xgboost":
        artifact = spec.get("data")
        # XGBoost's old binary format ("xgb") is not one modelport reads.
        runtime = "xgboost" if spec.get("model_format", "xgb") in ("json", "ubj") else None
    else:
        artifact = spec.get("data")
        name = str(artifact or "")
        # A Booster is saved as LightGBM's text; the scikit-learn classes as a pickle or skops.
        runtime = (
            "skops"
            if name.endswith(".skops")
            else "sklearn"
            if name.endswith(".pkl")
            else "lightgbm"
        )
    if not isinstance(artifact, str) or not artifact:
        return None, None
    return runtime, artifact


def _inside(folder: Path, name: str) -> Path:
    """The artifact ``name`` inside the model folder (never a path leading out of it)."""
    root = folder.resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ModelLoadError(f"{MLMODEL} names the artifact '{name}', outside the model folder")
    if not path.is_file():
        raise ModelLoadError(f"{MLMODEL} names the artifact '{name}', which is not in the folder")
    return path


def _features(signature: Any) -> tuple[FeatureSpec, ...] | None:
    """The signature's input columns; None when it is a tensor spec or absent."""
    inputs = signature.get("inputs") if isinstance(signature, dict) else None
    if not isinstance(inputs, str):
        return None
    try:
        columns = json.loads(inputs)
    except ValueError as exc:
        raise ModelLoadError(f"{MLMODEL} signature inputs are not JSON: {exc}") from exc
    if not isinstance(columns, list) or not columns:
        return None
    features = []
    for column in columns:
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            return None  # a tensor spec or unnamed columns: only the model knows the shape
        kind = _COLUMN_TYPES.get(str(column.get("type")))
        if kind is None:
            return None  # arrays, objects, maps: modelport's checks cannot express them
        features.append(FeatureSpec(name=column["name"], type=kind))
    return tuple(features)


def _example(folder: Path, info: Any) -> dict[str, Any] | None:
    """The first row of a table-shaped input example ({"columns", "data"} or records)."""
    if not isinstance(info, dict) or info.get("type") != "dataframe":
        return None
    name = info.get("artifact_path")
    if not isinstance(name, str):
        return None
    try:
        data: Any = json.loads(_inside(folder, name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(f"{MLMODEL}'s input example {name} cannot be read: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("columns"), list) and data.get("data"):
        first = data["data"][0]
        if isinstance(first, list) and len(first) == len(data["columns"]):
            return dict(zip(map(str, data["columns"]), first, strict=True))
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return {str(k): v for k, v in data[0].items()}
    return None
