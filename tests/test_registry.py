"""load_model and ModelRegistry with real scikit-learn artifacts on disk."""

from __future__ import annotations

import asyncio
import random
import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import yaml

from modelport.errors import (
    InvalidRequestError,
    ModelNotFoundError,
    ModelNotReadyError,
    VersionNotFoundError,
)
from modelport.inputs import to_batch
from modelport.outputs import run_model
from modelport.payloads import Records, Rows
from modelport.registry import ModelRegistry, ModelVersion, ServedModel, load_model
from modelport.repository import ModelSource, scan_repository
from modelport.runtimes.base import artifact_suffixes

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
IRIS_LABELS = ("setosa", "versicolor", "virginica")
#: Protocol-0 pickle of a global from a module nobody has: ``GLOBAL 'acme_missing_pkg Model'``.
MISSING_MODULE_PICKLE = b"cacme_missing_pkg\nModel\n."


class ExplodingModel:
    """Has predict(), but it always fails: loads fine, cannot warm up."""

    def predict(self, batch: Any) -> Any:
        raise RuntimeError("boom")


def source_named(model_dir: Path, name: str) -> ModelSource:
    for source in scan_repository(model_dir, artifact_suffixes()):
        if name in (source.name, *source.also_known_as):
            return source
    raise AssertionError(f"scan did not find {name}")


def load_named(model_dir: Path, name: str) -> ServedModel:
    return load_model(source_named(model_dir, name))


def corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(0).randbytes(512))
    return path


def edit_model_yaml(folder: Path, **changes: Any) -> None:
    path = folder / "model.yaml"
    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    data.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def add_copy_of_version_1(model_folder: Path, version: int) -> None:
    shutil.copytree(model_folder / "1", model_folder / str(version))


def loaded_registry(model_dir: Path) -> ModelRegistry:
    registry = ModelRegistry(model_dir)
    asyncio.run(registry.load_all())
    return registry


# -- load_model -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["iris-lr", "iris-dt"])
def test_load_good_model(trained_models: Path, name: str) -> None:
    served = load_named(trained_models, name)

    assert served.name == name
    assert served.path == trained_models / name
    assert served.error is None
    assert served.state == "ready"
    assert served.description.startswith("Iris species")
    version = served.versions[1]
    assert version.ready
    assert version.state == "ready"
    assert version.error is None
    assert version.artifact == trained_models / name / "1" / "model.joblib"
    assert version.runtime is not None
    assert version.runtime.kind == "sklearn"
    assert version.load_seconds is not None
    assert version.load_seconds >= 0
    assert version.loaded_at is not None
    assert served.newest_ready() is version


def test_ready_version_signature_has_features_and_labels(trained_models: Path) -> None:
    version = load_named(trained_models, "iris-lr").versions[1]

    signature = version.signature
    assert signature is not None
    assert signature.feature_names == IRIS_FEATURES
    assert signature.n_features == 4
    assert signature.classes == (0, 1, 2)
    assert signature.labels == IRIS_LABELS
    assert signature.has_proba is True
    assert signature.label_of(2) == "virginica"


def test_ready_version_predicts(trained_models: Path) -> None:
    version = load_named(trained_models, "iris-lr").versions[1]
    assert version.runtime is not None
    assert version.signature is not None

    batch = to_batch(Rows([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]), version.signature)
    outputs = run_model(version.runtime, version.signature, batch, 2, probabilities=True)

    assert outputs.predictions == ["setosa", "virginica"]
    assert outputs.probabilities is not None
    assert set(outputs.probabilities[0]) == set(IRIS_LABELS)
    assert sum(outputs.probabilities[0].values()) == pytest.approx(1.0)


def test_summary_and_describe(trained_models: Path) -> None:
    version = load_named(trained_models, "iris-dt").versions[1]

    summary = version.summary()
    assert summary["version"] == 1
    assert summary["state"] == "ready"
    assert summary["runtime"] == "sklearn"
    assert summary["artifact"] == "model.joblib"
    assert summary["error"] is None
    assert isinstance(summary["loaded_at"], str)
    described = version.describe()
    assert described["name"] == "iris-dt"
    signature = described["signature"]
    assert signature is not None
    assert signature["labels"] == list(IRIS_LABELS)
    assert signature["n_features"] == 4


def test_corrupt_artifact_fails_while_other_versions_load(model_dir: Path) -> None:
    corrupt(model_dir / "iris-lr" / "2" / "model.joblib")
    add_copy_of_version_1(model_dir / "iris-lr", 3)

    served = load_named(model_dir, "iris-lr")

    assert sorted(served.versions) == [1, 2, 3]
    broken = served.versions[2]
    assert broken.state == "failed"
    assert not broken.ready
    assert broken.error is not None
    assert "'model.joblib' is not a readable pickle/joblib file" in broken.error
    assert broken.runtime is None
    assert broken.signature is None
    assert broken.artifact == model_dir / "iris-lr" / "2" / "model.joblib"
    assert broken.summary()["error"] == broken.error
    assert served.versions[1].ready
    assert served.versions[3].ready
    assert served.state == "ready"
    assert served.failure_reason() == f"version 2: {broken.error}"


def test_corrupt_bare_file_fails(tmp_path: Path) -> None:
    corrupt(tmp_path / "broken.joblib")

    served = load_named(tmp_path, "broken.joblib")

    assert served.versions[1].state == "failed"
    assert served.versions[1].error
    assert served.state == "failed"


def test_wrong_label_count_in_model_yaml_fails(model_dir: Path) -> None:
    edit_model_yaml(model_dir / "iris-lr", labels=["setosa", "other"])

    served = load_named(model_dir, "iris-lr")

    version = served.versions[1]
    assert version.state == "failed"
    assert version.error is not None
    assert "2 labels" in version.error
    assert "3 classes" in version.error
    assert served.error is None
    assert served.state == "failed"


def test_label_map_in_model_yaml(model_dir: Path) -> None:
    edit_model_yaml(model_dir / "iris-dt", labels={"0": "S", "1": "Ve", "2": "Vi"})

    version = load_named(model_dir, "iris-dt").versions[1]

    assert version.ready
    assert version.signature is not None
    assert version.signature.labels == ("S", "Ve", "Vi")


def test_wrong_feature_count_in_model_yaml_fails(model_dir: Path) -> None:
    edit_model_yaml(model_dir / "iris-lr", features=["a", "b"], example=None)

    version = load_named(model_dir, "iris-lr").versions[1]

    assert version.state == "failed"
    assert version.error is not None
    assert "2 features" in version.error


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("feature: [a, b, c, d]\n", "feature"),
        ("labels: [a, b\n", "cannot read"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_model_yaml_is_a_model_level_error(model_dir: Path, text: str, fragment: str) -> None:
    (model_dir / "iris-lr" / "model.yaml").write_text(text)

    served = load_named(model_dir, "iris-lr")

    assert served.error is not None
    assert served.error.startswith("model.yaml: ")
    assert fragment in served.error
    assert served.versions == {}
    assert served.state == "failed"
    assert served.newest_ready() is None
    assert served.failure_reason() == served.error


def test_object_without_predict_fails_naming_its_type(tmp_path: Path) -> None:
    joblib.dump({"weights": [1, 2, 3]}, tmp_path / "not-a-model.joblib")

    version = load_named(tmp_path, "not-a-model.joblib").versions[1]

    assert version.state == "failed"
    assert version.error is not None
    assert "builtins.dict" in version.error
    assert "no predict() method" in version.error


def test_pickle_needing_a_missing_module_fails_naming_it(tmp_path: Path) -> None:
    (tmp_path / "needs-acme.pkl").write_bytes(MISSING_MODULE_PICKLE)

    version = load_named(tmp_path, "needs-acme.pkl").versions[1]

    assert version.state == "failed"
    assert version.error is not None
    assert "'acme_missing_pkg'" in version.error
    assert "cannot be imported" in version.error


@pytest.mark.parametrize(
    "example",
    [
        [5.1, 3.5],
        [5.1, 3.5, 1.4, 0.2, 9.9],
        ["a", "b", "c", "d"],
        {"sepal_length": 5.1},
    ],
)
def test_warm_up_failure_fails_the_version(model_dir: Path, example: Any) -> None:
    edit_model_yaml(model_dir / "iris-lr", example=example)

    version = load_named(model_dir, "iris-lr").versions[1]

    assert version.state == "failed"
    assert version.error is not None
    assert "warm-up" in version.error


def test_warm_up_with_a_record_example(model_dir: Path) -> None:
    example = dict(zip(IRIS_FEATURES, [5.1, 3.5, 1.4, 0.2], strict=True))
    edit_model_yaml(model_dir / "iris-lr", example=example)

    assert load_named(model_dir, "iris-lr").versions[1].ready


def test_model_that_cannot_predict_fails_its_warm_up(tmp_path: Path) -> None:
    folder = tmp_path / "exploding"
    (folder / "1").mkdir(parents=True)
    joblib.dump(ExplodingModel(), folder / "1" / "model.joblib")
    edit_model_yaml(folder, example=[1.0, 2.0])

    version = load_named(tmp_path, "exploding").versions[1]

    assert version.state == "failed"
    assert version.error is not None
    assert "warm-up prediction failed" in version.error
    assert "RuntimeError: boom" in version.error


def test_version_folder_problem_becomes_a_failed_version(model_dir: Path) -> None:
    (model_dir / "iris-lr" / "2").mkdir()

    served = load_named(model_dir, "iris-lr")

    assert served.versions[2].state == "failed"
    assert served.versions[2].artifact is None
    assert served.versions[2].error is not None
    assert "no model file" in served.versions[2].error
    assert served.versions[1].ready


def test_model_folder_without_versions_fails(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    served = load_named(tmp_path, "empty")

    assert served.versions == {}
    assert served.error is not None
    assert "no version folders" in served.error
    assert served.state == "failed"


def test_unknown_runtime_in_model_yaml_fails(model_dir: Path) -> None:
    edit_model_yaml(model_dir / "iris-lr", runtime="tensorflow")

    version = load_named(model_dir, "iris-lr").versions[1]

    assert version.state == "failed"
    assert version.error is not None
    assert "'tensorflow'" in version.error


def test_bare_model_file_loads(tmp_path: Path, trained_models: Path) -> None:
    shutil.copy(trained_models / "iris-lr" / "1" / "model.joblib", tmp_path / "lr_iris.model")

    served = load_named(tmp_path, "lr_iris.model")

    assert served.state == "ready"
    version = served.versions[1]
    assert version.signature is not None
    # No model.yaml: labels are the class values, features only counted.
    assert version.signature.labels == ("0", "1", "2")
    assert version.signature.features is None
    assert version.signature.n_features == 4


# -- ModelRegistry ----------------------------------------------------------------------


def test_before_load_all_any_model_is_not_ready(trained_models: Path) -> None:
    registry = ModelRegistry(trained_models)

    assert registry.startup_complete is False
    assert registry.models() == []
    for name in ["iris-lr", "no-such-model"]:
        with pytest.raises(ModelNotReadyError, match="still loading"):
            registry.resolve(name)


def test_load_all_loads_every_model(trained_models: Path) -> None:
    registry = loaded_registry(trained_models)

    assert registry.startup_complete is True
    assert [m.name for m in registry.models()] == ["iris-dt", "iris-lr"]
    assert all(m.state == "ready" for m in registry.models())


@pytest.mark.parametrize("version", [None, "1", "latest"])
def test_resolve(trained_models: Path, version: str | None) -> None:
    registry = loaded_registry(trained_models)

    resolved = registry.resolve("iris-lr", version)

    assert isinstance(resolved, ModelVersion)
    assert resolved.name == "iris-lr"
    assert resolved.version == 1
    assert resolved.ready


def test_resolve_picks_the_newest_ready_version(model_dir: Path) -> None:
    add_copy_of_version_1(model_dir / "iris-lr", 2)
    add_copy_of_version_1(model_dir / "iris-lr", 10)
    registry = loaded_registry(model_dir)

    assert registry.resolve("iris-lr").version == 10
    assert registry.resolve("iris-lr", "latest").version == 10
    assert registry.resolve("iris-lr", "2").version == 2


def test_newest_ready_version_when_the_newest_failed(model_dir: Path) -> None:
    corrupt(model_dir / "iris-lr" / "2" / "model.joblib")
    registry = loaded_registry(model_dir)

    assert registry.resolve("iris-lr").version == 1
    assert registry.resolve("iris-lr", "latest").version == 1
    assert registry.get("iris-lr").state == "ready"


@pytest.mark.parametrize("version", ["7", "0", "abc", "-1", "1.0", "", "LATEST"])
def test_unknown_version_lists_the_versions(model_dir: Path, version: str) -> None:
    add_copy_of_version_1(model_dir / "iris-lr", 2)
    registry = loaded_registry(model_dir)

    with pytest.raises(VersionNotFoundError) as info:
        registry.resolve("iris-lr", version)

    assert info.value.message == (
        f"model 'iris-lr' has no version '{version}'; known versions: 1, 2, latest"
    )
    assert info.value.status_code == 404


@pytest.mark.parametrize("version", ["9" * 5000, str(2**63), "\u00b2", "\u0661"])
def test_a_version_that_is_no_int64_is_a_bad_request(model_dir: Path, version: str) -> None:
    registry = loaded_registry(model_dir)

    with pytest.raises(InvalidRequestError) as info:
        registry.resolve("iris-lr", version)

    assert info.value.message.startswith("version must be a whole number between 0 and ")
    assert len(info.value.message) < 200


def test_a_failed_version_tells_clients_its_path_below_model_dir_only(model_dir: Path) -> None:
    (model_dir / "bad" / "1").mkdir(parents=True)
    (model_dir / "bad" / "1" / "model.onnx").write_bytes(b"not an ONNX model")
    registry = loaded_registry(model_dir)
    failed = registry.get("bad").versions[1]

    assert f"{model_dir}/bad/1/model.onnx" in str(failed.error)
    assert "Load model from bad/1/model.onnx failed" in str(failed.public_error)
    assert str(model_dir) not in str(failed.public_error)
    assert failed.summary()["error"] == failed.public_error
    for version in ("1", None):
        with pytest.raises(ModelNotReadyError) as info:
            registry.resolve("bad", version)
        assert str(model_dir) in info.value.message  # the log's
        assert str(model_dir) not in info.value.public  # the client's
        assert "bad/1/model.onnx" in info.value.public


def test_failed_version_is_not_ready_with_its_reason(model_dir: Path) -> None:
    edit_model_yaml(model_dir / "iris-lr", example=[1.0])
    registry = loaded_registry(model_dir)
    failed = registry.get("iris-lr").versions[1]
    assert failed.error is not None

    with pytest.raises(ModelNotReadyError) as info:
        registry.resolve("iris-lr", "1")

    assert info.value.message == f"version 1 of model 'iris-lr' is not ready: {failed.error}"
    assert "warm-up" in info.value.message
    assert info.value.status_code == 503


def test_corrupt_version_resolved_by_number_is_not_ready(model_dir: Path) -> None:
    corrupt(model_dir / "iris-lr" / "2" / "model.joblib")
    registry = loaded_registry(model_dir)

    with pytest.raises(ModelNotReadyError, match="version 2 of model 'iris-lr' is not ready: "):
        registry.resolve("iris-lr", "2")


@pytest.mark.parametrize("version", [None, "latest"])
def test_model_without_ready_version_is_not_ready(model_dir: Path, version: str | None) -> None:
    (model_dir / "iris-lr" / "model.yaml").write_text("labels: [a]\n")
    registry = loaded_registry(model_dir)

    with pytest.raises(ModelNotReadyError) as info:
        registry.resolve("iris-lr", version)

    assert "model 'iris-lr' has no ready version: version 1: " in info.value.message
    assert "1 labels" in info.value.message


def test_model_level_error_is_the_not_ready_reason(model_dir: Path) -> None:
    (model_dir / "iris-lr" / "model.yaml").write_text("typo: 1\n")
    registry = loaded_registry(model_dir)

    with pytest.raises(ModelNotReadyError, match=r"has no ready version: model\.yaml: typo"):
        registry.resolve("iris-lr")
    with pytest.raises(VersionNotFoundError, match=r"known versions: latest$"):
        registry.resolve("iris-lr", "1")


def test_unknown_model_lists_the_names(trained_models: Path) -> None:
    registry = loaded_registry(trained_models)

    with pytest.raises(ModelNotFoundError) as info:
        registry.resolve("iris-svm")

    assert info.value.message == "model 'iris-svm' not found; known models: iris-dt, iris-lr"
    assert info.value.status_code == 404


@pytest.mark.parametrize("missing", [True, False])
def test_empty_repository(tmp_path: Path, missing: bool) -> None:
    model_dir = tmp_path / "models"
    if not missing:
        model_dir.mkdir()
    registry = loaded_registry(model_dir)

    assert registry.startup_complete is True
    assert registry.models() == []
    with pytest.raises(ModelNotFoundError, match="known models: none"):
        registry.get("iris-lr")


def test_failed_models_are_listed_and_known(model_dir: Path) -> None:
    corrupt(model_dir / "broken.joblib")
    (model_dir / "empty").mkdir()
    registry = loaded_registry(model_dir)

    states = {m.name: m.state for m in registry.models()}
    assert states == {
        "broken": "failed",
        "empty": "failed",
        "iris-dt": "ready",
        "iris-lr": "ready",
    }
    with pytest.raises(ModelNotReadyError, match="'empty' has no ready version"):
        registry.resolve("empty")


def test_a_bare_file_answers_to_its_full_name_too(trained_models: Path, tmp_path: Path) -> None:
    shutil.copy(trained_models / "iris-lr" / "1" / "model.joblib", tmp_path / "lr_iris.joblib")
    registry = loaded_registry(tmp_path)

    assert [m.name for m in registry.models()] == ["lr_iris"]
    assert registry.resolve("lr_iris.joblib") is registry.resolve("lr_iris")
    assert registry.resolve("lr_iris.joblib").name == "lr_iris"
    with pytest.raises(ModelNotFoundError):
        registry.get("lr_iris.pkl")


def test_put_swaps_a_whole_entry(trained_models: Path, model_dir: Path) -> None:
    registry = loaded_registry(trained_models)
    old = registry.resolve("iris-lr")
    add_copy_of_version_1(model_dir / "iris-lr", 2)

    registry.put(load_named(model_dir, "iris-lr"))

    new = registry.resolve("iris-lr")
    assert new.version == 2
    assert new is not old
    assert registry.resolve("iris-dt").ready


def test_resolved_runtime_answers_records(trained_models: Path) -> None:
    version = loaded_registry(trained_models).resolve("iris-dt")
    assert version.runtime is not None
    assert version.signature is not None
    record = dict(zip(IRIS_FEATURES, [6.7, 3.0, 5.2, 2.3], strict=True))

    batch = to_batch(Records([record]), version.signature)
    raw = version.runtime.predict(batch)

    assert isinstance(raw, np.ndarray)
    assert raw.tolist() == [2]
