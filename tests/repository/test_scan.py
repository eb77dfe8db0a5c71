"""scan_repository and validate_model_name, on real folders and files under tmp_path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelport.errors import InvalidRequestError
from modelport.repository import ModelSource, scan_repository, validate_model_name
from modelport.repository.scan import artifact_digest
from modelport.runtimes.base import artifact_suffixes

SUFFIXES = artifact_suffixes()


def scan(model_dir: Path) -> dict[str, ModelSource]:
    return {source.name: source for source in scan_repository(model_dir, SUFFIXES)}


def touch(path: Path, data: bytes = b"not loaded by a scan") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- validate_model_name ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["iris-lr", "iris_dt", "lr_iris.model", "a", "0", "model.v2", "x" * 128, "9lives"],
)
def test_validate_model_name_accepts(name: str) -> None:
    assert validate_model_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Iris",
        "iris LR",
        "my model",
        "-leading-dash",
        ".hidden",
        "_private",
        ".",
        "..",
        "a/b",
        "a\\b",
        "x" * 129,
        "iris?",
        "naïve",
    ],
)
def test_validate_model_name_rejects(name: str) -> None:
    with pytest.raises(InvalidRequestError, match="invalid model name"):
        validate_model_name(name)


# -- layout -----------------------------------------------------------------------------


def test_missing_model_dir_serves_nothing(tmp_path: Path) -> None:
    assert scan_repository(tmp_path / "nope", SUFFIXES) == []


def test_empty_model_dir_serves_nothing(tmp_path: Path) -> None:
    assert scan_repository(tmp_path, SUFFIXES) == []


def test_name_version_artifact_layout(tmp_path: Path) -> None:
    first = touch(tmp_path / "iris-lr" / "1" / "model.joblib")
    second = touch(tmp_path / "iris-lr" / "2" / "model.joblib")

    [source] = scan_repository(tmp_path, SUFFIXES)

    assert source.name == "iris-lr"
    assert source.path == tmp_path / "iris-lr"
    assert source.problem is None
    assert source.config_file is None
    assert sorted(source.versions) == [1, 2]
    assert source.versions[1].artifact == first
    assert source.versions[1].folder == tmp_path / "iris-lr" / "1"
    assert source.versions[1].problem is None
    assert source.versions[2].artifact == second
    assert source.versions[2].version == 2


def test_trained_examples_are_found(trained_models: Path) -> None:
    sources = scan(trained_models)

    assert {"iris-dt", "iris-lr"} <= set(sources)
    for source in sources.values():
        assert source.problem is None
        assert source.config_file == source.path / "model.yaml"
        assert list(source.versions) == [1]
        artifact = source.versions[1].artifact
        assert artifact is not None
        assert artifact.name.startswith("model.")


def test_results_are_sorted_by_name(tmp_path: Path) -> None:
    for name in ["zeta", "alpha", "mid"]:
        touch(tmp_path / name / "1" / "model.pkl")

    assert [s.name for s in scan_repository(tmp_path, SUFFIXES)] == ["alpha", "mid", "zeta"]


def test_bare_file_is_its_own_model_version_1(tmp_path: Path) -> None:
    artifact = touch(tmp_path / "lr_iris.model")

    [source] = scan_repository(tmp_path, SUFFIXES)

    assert source.name == "lr_iris"
    assert source.also_known_as == ("lr_iris.model",)
    assert source.path == artifact
    assert source.problem is None
    assert source.config_file is None
    assert list(source.versions) == [1]
    assert source.versions[1].artifact == artifact
    assert source.versions[1].folder == tmp_path
    assert source.versions[1].problem is None


@pytest.mark.parametrize(
    "filename",
    ["m.joblib", "m.pkl", "m.pickle", "m.model", "m.pgz", "m.pkl.gz", "lr_iris.pkl"],
)
def test_bare_files_with_every_known_ending(tmp_path: Path, filename: str) -> None:
    touch(tmp_path / filename)

    [source] = scan_repository(tmp_path, SUFFIXES)

    assert (source.name, source.also_known_as) == (filename.split(".")[0], (filename,))


def test_a_bare_file_keeps_its_full_name_when_a_folder_has_the_short_one(
    tmp_path: Path,
) -> None:
    touch(tmp_path / "iris" / "1" / "model.joblib")
    touch(tmp_path / "iris.joblib")

    assert {s.name: s.also_known_as for s in scan_repository(tmp_path, SUFFIXES)} == {
        "iris": (),
        "iris.joblib": (),
    }


def test_two_bare_files_with_one_short_name_both_keep_their_full_names(tmp_path: Path) -> None:
    touch(tmp_path / "iris.joblib")
    touch(tmp_path / "iris.pkl")
    touch(tmp_path / "wine.model.pkl")

    assert {s.name: s.also_known_as for s in scan_repository(tmp_path, SUFFIXES)} == {
        "iris.joblib": (),
        "iris.pkl": (),
        "wine.model": ("wine.model.pkl",),
    }


@pytest.mark.parametrize(
    "entry",
    [
        ".hidden.joblib",
        ".tmp-1-abcd/model.joblib",
        ".tmp-model.joblib-xyz",
        "_private/1/model.joblib",
        "~backup.joblib",
        "__pycache__/x.pkl",
        ".git/1/model.joblib",
    ],
)
def test_hidden_and_temporary_entries_are_ignored(tmp_path: Path, entry: str) -> None:
    touch(tmp_path / entry)
    touch(tmp_path / "real" / "1" / "model.joblib")

    assert list(scan(tmp_path)) == ["real"]


@pytest.mark.parametrize(
    "filename", ["README.md", "notes.txt", "train.py", "model.py", "data.csv", "x.json"]
)
def test_bare_files_that_are_not_models_are_ignored(tmp_path: Path, filename: str) -> None:
    touch(tmp_path / filename)

    assert scan_repository(tmp_path, SUFFIXES) == []


@pytest.mark.parametrize(
    "entry",
    ["Iris/1/model.joblib", "my model/1/model.joblib", "LR.joblib", "has space.pkl"],
)
def test_invalid_names_are_listed_as_failed_with_the_rule(tmp_path: Path, entry: str) -> None:
    touch(tmp_path / entry)
    touch(tmp_path / "good" / "1" / "model.joblib")

    found = scan(tmp_path)
    bad = found[entry.split("/")[0]]
    assert bad.versions == {}
    assert bad.problem is not None
    assert "invalid model name" in bad.problem
    assert "rename it to" in bad.problem
    assert found["good"].problem is None


def test_a_refused_name_suggests_one_the_server_takes(tmp_path: Path) -> None:
    touch(tmp_path / "My Model.pkl")
    touch(tmp_path / "Iris" / "1" / "model.joblib")

    found = scan(tmp_path)
    assert "rename it to 'my-model.pkl'" in str(found["My Model.pkl"].problem)
    assert "rename it to 'iris'" in str(found["Iris"].problem)


def test_native_xgboost_and_lightgbm_files_are_recognised_by_content(tmp_path: Path) -> None:
    touch(tmp_path / "booster.json", b'{"learner":{"attributes":{}},"version":[2,1,0]}')
    touch(tmp_path / "gbm.txt", b"tree\nversion=v4\n")
    touch(tmp_path / "gbm" / "1" / "model.txt", b"tree\nversion=v4\n")
    touch(tmp_path / "config.json", b'{"threshold": 0.5}')
    touch(tmp_path / "notes.txt", b"trained on Monday")

    found = scan(tmp_path)
    # gbm.txt keeps its full name: the folder gbm/ has the short one.
    assert sorted(found) == ["booster", "gbm", "gbm.txt"]
    assert found["gbm"].versions[1].artifact == tmp_path / "gbm" / "1" / "model.txt"


def test_serving_one_file_names_the_model_after_its_stem(tmp_path: Path) -> None:
    artifact = touch(tmp_path / "My Model.pkl")

    (source,) = scan_repository(artifact, SUFFIXES)
    assert source.name == "my-model"
    assert source.versions[1].artifact == artifact


# -- problems ---------------------------------------------------------------------------


def test_model_folder_without_versions_has_a_problem(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    source = scan(tmp_path)["empty"]

    assert source.versions == {}
    assert source.problem is not None
    assert "no version folders" in source.problem
    assert "empty/1/" in source.problem
    assert "move" not in source.problem


def test_artifact_directly_in_model_folder_gets_a_hint(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "model.joblib")
    touch(tmp_path / "iris" / "model.yaml", b"description: x\n")

    source = scan(tmp_path)["iris"]

    assert source.versions == {}
    assert source.problem is not None
    assert "no version folders" in source.problem
    assert "move model.joblib into iris/1/" in source.problem


def test_version_folder_without_artifact_has_a_problem(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "1" / "weights.bin")
    touch(tmp_path / "iris" / "1" / "README.md")

    source = scan(tmp_path)["iris"]

    assert source.problem is None
    version = source.versions[1]
    assert version.artifact is None
    assert version.folder == tmp_path / "iris" / "1"
    assert version.problem is not None
    assert "no model file with a known ending" in version.problem
    assert ".joblib" in version.problem
    # The unknown file is named; auxiliary files such as README.md are not.
    assert "weights.bin" in version.problem
    assert "README.md" not in version.problem


def test_empty_version_folder_has_a_problem(tmp_path: Path) -> None:
    (tmp_path / "iris" / "1").mkdir(parents=True)

    version = scan(tmp_path)["iris"].versions[1]

    assert version.artifact is None
    assert version.problem is not None
    assert "no model file" in version.problem
    assert "found" not in version.problem


def test_version_folder_with_two_artifacts_has_a_problem(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "1" / "a.joblib")
    touch(tmp_path / "iris" / "1" / "b.pkl")
    good = touch(tmp_path / "iris" / "2" / "model.joblib")

    source = scan(tmp_path)["iris"]

    assert source.versions[1].artifact is None
    assert source.versions[1].problem is not None
    assert "several model files" in source.versions[1].problem
    assert "a.joblib" in source.versions[1].problem
    assert "b.pkl" in source.versions[1].problem
    assert source.versions[2].artifact == good
    assert source.versions[2].problem is None


def test_auxiliary_and_hidden_files_beside_the_artifact_are_fine(tmp_path: Path) -> None:
    artifact = touch(tmp_path / "iris" / "1" / "model.joblib")
    touch(tmp_path / "iris" / "1" / "notes.md")
    touch(tmp_path / "iris" / "1" / ".tmp-model.joblib-abc")
    (tmp_path / "iris" / "1" / "sub.joblib").mkdir()

    version = scan(tmp_path)["iris"].versions[1]

    assert version.artifact == artifact
    assert version.problem is None


@pytest.mark.parametrize("folder", ["latest", "v2", "0", "1.5", "-1", "draft"])
def test_non_integer_version_folders_are_ignored(tmp_path: Path, folder: str) -> None:
    touch(tmp_path / "iris" / folder / "model.joblib")
    touch(tmp_path / "iris" / "3" / "model.joblib")

    source = scan(tmp_path)["iris"]

    assert list(source.versions) == [3]
    assert source.problem is None


def test_only_non_integer_version_folders_means_no_versions(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "latest" / "model.joblib")

    source = scan(tmp_path)["iris"]

    assert source.versions == {}
    assert source.problem is not None
    assert "no version folders" in source.problem


def test_staging_folder_of_a_version_being_written_is_ignored(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "1" / "model.joblib")
    touch(tmp_path / "iris" / ".tmp-2-k3j4" / "model.joblib")

    assert list(scan(tmp_path)["iris"].versions) == [1]


@pytest.mark.parametrize("filename", ["model.pkl.gz", "MODEL.PKL.GZ", "model.pgz"])
def test_compressed_pickle_is_recognised_in_a_version_folder(tmp_path: Path, filename: str) -> None:
    artifact = touch(tmp_path / "iris" / "1" / filename)

    version = scan(tmp_path)["iris"].versions[1]

    assert version.artifact == artifact
    assert version.problem is None


def test_plain_gz_file_is_not_an_artifact(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "1" / "data.csv.gz")

    version = scan(tmp_path)["iris"].versions[1]

    assert version.artifact is None
    assert version.problem is not None
    assert "data.csv.gz" in version.problem


def test_model_yaml_is_detected_as_config_file(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "1" / "model.joblib")
    config = touch(tmp_path / "iris" / "model.yaml", b"description: Iris\n")

    source = scan(tmp_path)["iris"]

    assert source.config_file == config
    # model.yaml is never taken for an artifact or a version.
    assert list(source.versions) == [1]


def test_model_yaml_folder_is_not_a_config_file(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "1" / "model.joblib")
    (tmp_path / "iris" / "model.yaml").mkdir()

    assert scan(tmp_path)["iris"].config_file is None


def test_suffixes_argument_decides_what_is_an_artifact(tmp_path: Path) -> None:
    touch(tmp_path / "iris" / "1" / "model.onnx")
    touch(tmp_path / "bare.onnx")

    sources = {s.name: s for s in scan_repository(tmp_path, [".onnx"])}

    assert sorted(sources) == ["bare", "iris"]
    assert sources["iris"].versions[1].artifact == tmp_path / "iris" / "1" / "model.onnx"


# -- model.py, declared runtimes and digests ------------------------------------------------


def test_model_py_beside_an_artifact_is_its_code(tmp_path: Path) -> None:
    artifact = touch(tmp_path / "loan" / "1" / "model.joblib")
    code = touch(tmp_path / "loan" / "1" / "model.py")
    touch(tmp_path / "loan" / "1" / "helpers.py")

    version = scan(tmp_path)["loan"].versions[1]

    assert version.artifact == artifact
    assert version.code == (code,)
    assert version.problem is None


def test_model_py_alone_is_a_function_model(tmp_path: Path) -> None:
    code = touch(tmp_path / "compute" / "1" / "model.py")
    touch(tmp_path / "compute" / "1" / "README.md")

    version = scan(tmp_path)["compute"].versions[1]

    assert version.artifact == code
    assert version.code == ()
    assert version.problem is None


def test_other_python_files_alone_are_no_model(tmp_path: Path) -> None:
    touch(tmp_path / "compute" / "1" / "compute.py")

    version = scan(tmp_path)["compute"].versions[1]

    assert version.artifact is None
    assert version.problem is not None
    assert "no model.py" in version.problem


def test_declared_runtime_takes_a_file_without_a_known_ending(tmp_path: Path) -> None:
    artifact = touch(tmp_path / "gbm" / "1" / "model.txt")
    touch(tmp_path / "gbm" / "1" / "NOTES.md")
    touch(tmp_path / "gbm" / "model.yaml", b"runtime: lightgbm\n")

    version = scan(tmp_path)["gbm"].versions[1]

    assert version.artifact == artifact
    assert version.problem is None


def test_without_a_declared_runtime_a_json_file_is_no_artifact(tmp_path: Path) -> None:
    touch(tmp_path / "xgb" / "1" / "model.json")

    version = scan(tmp_path)["xgb"].versions[1]

    assert version.artifact is None
    assert version.problem is not None
    assert "model.json" in version.problem
    assert "add `runtime: xgboost`" in version.problem


def test_declared_runtime_prefers_a_known_ending(tmp_path: Path) -> None:
    artifact = touch(tmp_path / "xgb" / "1" / "model.ubj")
    touch(tmp_path / "xgb" / "1" / "features.txt")
    touch(tmp_path / "xgb" / "model.yaml", b"runtime: xgboost\n")

    assert scan(tmp_path)["xgb"].versions[1].artifact == artifact


def test_declared_function_runtime_picks_model_py_over_data_files(tmp_path: Path) -> None:
    code = touch(tmp_path / "rules" / "1" / "model.py")
    touch(tmp_path / "rules" / "1" / "table.joblib")
    touch(tmp_path / "rules" / "model.yaml", b"runtime: function\n")

    version = scan(tmp_path)["rules"].versions[1]

    assert version.artifact == code
    assert version.code == ()


@pytest.mark.parametrize("text", [b"runtime: [1, 2\n", b"- a list\n", b"runtime: 3\n", b"\xff\xfe"])
def test_unreadable_model_yaml_does_not_stop_the_scan(tmp_path: Path, text: bytes) -> None:
    artifact = touch(tmp_path / "iris" / "1" / "model.joblib")
    touch(tmp_path / "iris" / "model.yaml", text)

    assert scan(tmp_path)["iris"].versions[1].artifact == artifact


def test_artifact_digest(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    path = touch(tmp_path / "model.joblib", data)

    size, sha256 = artifact_digest(path)

    assert size == len(data)
    assert sha256 == hashlib.sha256(data).hexdigest()
