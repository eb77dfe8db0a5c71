"""read_model_yaml on real files: what a model folder may declare, and how errors read."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.errors import ModelLoadError
from modelport.repository import FeatureSpec, ModelConfig, read_model_yaml
from modelport.signature import Feature


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        """\
description: Iris species
runtime: sklearn
features: [sepal_length, sepal_width, petal_length, petal_width]
labels: [setosa, versicolor, virginica]
example: [5.1, 3.5, 1.4, 0.2]
allow_missing: true
""",
    )

    config = read_model_yaml(path)

    assert config.description == "Iris species"
    assert config.runtime == "sklearn"
    assert config.features == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert config.labels == ["setosa", "versicolor", "virginica"]
    assert config.example == [5.1, 3.5, 1.4, 0.2]
    assert config.allow_missing is True


def test_trained_example_model_yaml_reads(trained_models: Path) -> None:
    config = read_model_yaml(trained_models / "iris-lr" / "model.yaml")

    assert config.description
    assert config.labels == ["setosa", "versicolor", "virginica"]
    declared = config.declared_features()
    assert declared is not None
    assert [f.name for f in declared] == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]


def test_features_as_strings_default_to_float(tmp_path: Path) -> None:
    config = read_model_yaml(write_yaml(tmp_path, "features: [a, b]\n"))

    assert config.declared_features() == [Feature("a", "float"), Feature("b", "float")]


def test_features_as_name_and_type(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        """\
features:
  - {name: age, type: int}
  - {name: city, type: str}
  - {name: member, type: bool}
  - {name: score}
  - plain
""",
    )

    config = read_model_yaml(path)

    assert config.features is not None
    assert config.features[0] == FeatureSpec(name="age", type="int")
    assert config.declared_features() == [
        Feature("age", "int"),
        Feature("city", "str"),
        Feature("member", "bool"),
        Feature("score", "float"),
        Feature("plain", "float"),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("features:\n  - {name: age, type: integer}\n", "features"),
        ("features:\n  - {name: age, kind: int}\n", "kind"),
        ("features:\n  - {name: '', type: int}\n", "features"),
        ("features: a, b\n", "features"),
    ],
)
def test_bad_features_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ModelLoadError, match=fragment) as info:
        read_model_yaml(write_yaml(tmp_path, text))

    assert info.value.message.startswith("model.yaml: ")


def test_labels_as_a_list_of_words(tmp_path: Path) -> None:
    config = read_model_yaml(write_yaml(tmp_path, "labels: [cat, dog]\n"))

    assert config.labels == ["cat", "dog"]


def test_labels_as_a_map_with_string_keys(tmp_path: Path) -> None:
    config = read_model_yaml(write_yaml(tmp_path, "labels: {'0': setosa, '1': versicolor}\n"))

    assert config.labels == {"0": "setosa", "1": "versicolor"}


def test_labels_as_a_map_with_integer_keys(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "labels:\n  0: setosa\n  1: versicolor\n  2: virginica\n")

    config = read_model_yaml(path)

    assert config.labels == {"0": "setosa", "1": "versicolor", "2": "virginica"}


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_file_gives_defaults(tmp_path: Path, text: str) -> None:
    config = read_model_yaml(write_yaml(tmp_path, text))

    assert config == ModelConfig()
    assert config.description == ""
    assert config.runtime is None
    assert config.features is None
    assert config.declared_features() is None
    assert config.labels is None
    assert config.example is None
    assert config.allow_missing is None  # as the model takes it


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("feature: [a, b]\n", "feature"),
        ("label: [x, y]\n", "label"),
        ("descripton: typo\n", "descripton"),
        ("allow-missing: true\n", "allow-missing"),
    ],
)
def test_unknown_key_is_refused_by_name(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        read_model_yaml(write_yaml(tmp_path, text))

    assert info.value.message.startswith("model.yaml: ")
    assert f"{key}: " in info.value.message
    assert "not permitted" in info.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("allow_missing: perhaps\n", "allow_missing"),
        ("example: 5\n", "example"),
        ("description: [a, b]\n", "description"),
        ("runtime: [sklearn]\n", "runtime"),
    ],
)
def test_wrong_value_types_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ModelLoadError, match=fragment):
        read_model_yaml(write_yaml(tmp_path, text))


@pytest.mark.parametrize(
    "text",
    ["features: [a, b\n", "description: 'unterminated\n", "a: b: c\n", "\tdescription: x\n"],
)
def test_invalid_yaml(tmp_path: Path, text: str) -> None:
    with pytest.raises(ModelLoadError, match=r"^model\.yaml: cannot read: "):
        read_model_yaml(write_yaml(tmp_path, text))


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ModelLoadError, match="expected a mapping of settings at the top"):
        read_model_yaml(write_yaml(tmp_path, text))


def test_unreadable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_bytes(b"description: \xff\xfe\n")

    with pytest.raises(ModelLoadError, match="cannot read"):
        read_model_yaml(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot read"):
        read_model_yaml(tmp_path / "model.yaml")


def test_example_as_a_record(tmp_path: Path) -> None:
    config = read_model_yaml(write_yaml(tmp_path, "example: {a: 1, b: x}\n"))

    assert config.example == {"a": 1, "b": "x"}


def test_config_is_frozen(tmp_path: Path) -> None:
    config = read_model_yaml(write_yaml(tmp_path, "description: x\n"))

    with pytest.raises(ValueError, match="frozen"):
        config.description = "y"


def test_code_and_trusted_types(tmp_path: Path) -> None:
    config = read_model_yaml(
        write_yaml(tmp_path, "code: [prep.py, util.py]\ntrusted_types: [acme.Scaler]\n")
    )

    assert config.code == ["prep.py", "util.py"]
    assert config.trusted_types == ["acme.Scaler"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("code: prep.py\n", "code"), ("trusted_types: {a: 1}\n", "trusted_types")],
)
def test_code_and_trusted_types_must_be_lists(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        read_model_yaml(write_yaml(tmp_path, text))

    assert fragment in info.value.message
