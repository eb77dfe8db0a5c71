"""signature.build_signature: merging a model's own hints with what model.yaml declares."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.errors import ModelLoadError
from modelport.runtimes.sklearn import SklearnRuntime
from modelport.signature import Feature, ModelHints, build_signature

NAMES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SPECIES = ["setosa", "versicolor", "virginica"]
IRIS_HINTS = ModelHints(n_features=4, classes=(0, 1, 2), has_proba=True)


# -- features ----------------------------------------------------------------------------


def test_feature_names_come_from_the_fitted_model() -> None:
    signature = build_signature(ModelHints(feature_names=NAMES, n_features=4))
    assert signature.features == tuple(Feature(name) for name in NAMES)
    assert signature.feature_names == NAMES
    assert signature.n_features == 4
    assert signature.all_numeric
    assert signature.wants_frame


def test_feature_names_come_from_model_yaml() -> None:
    declared = [Feature("sepal_length"), Feature("count", "int"), Feature("flag", "bool")]
    signature = build_signature(ModelHints(n_features=3), declared)
    assert signature.features == tuple(declared)
    assert signature.feature_names == ("sepal_length", "count", "flag")
    assert signature.n_features == 3
    assert signature.all_numeric
    # Fitted on an array: names are for the request only, the model gets an array.
    assert not signature.wants_frame


def test_declared_features_alone_set_the_count() -> None:
    signature = build_signature(ModelHints(), [Feature("a"), Feature("b")])
    assert signature.n_features == 2


def test_declared_types_are_kept_when_names_match_the_model() -> None:
    declared = [Feature("color", "str"), Feature("size")]
    signature = build_signature(ModelHints(feature_names=("color", "size"), n_features=2), declared)
    assert signature.features == tuple(declared)
    assert not signature.all_numeric
    assert signature.wants_frame


def test_a_string_feature_makes_the_model_want_a_frame() -> None:
    signature = build_signature(ModelHints(), [Feature("color", "str"), Feature("size")])
    assert not signature.all_numeric
    assert signature.wants_frame


@pytest.mark.parametrize(
    ("hints", "n_features"),
    [(ModelHints(n_features=7), 7), (ModelHints(), None)],
    ids=["count-only", "nothing"],
)
def test_without_names_only_the_count_is_known(hints: ModelHints, n_features: int | None) -> None:
    signature = build_signature(hints)
    assert signature.features is None
    assert signature.feature_names is None
    assert signature.n_features == n_features
    assert signature.all_numeric
    assert not signature.wants_frame


@pytest.mark.parametrize(
    ("hints", "declared", "message"),
    [
        pytest.param(
            ModelHints(feature_names=("a", "b"), n_features=2),
            [Feature("a"), Feature("c")],
            "model.yaml features ['a', 'c'] do not match the names the model was fitted "
            "with ['a', 'b']",
            id="names-differ",
        ),
        pytest.param(
            ModelHints(feature_names=("a", "b"), n_features=2),
            [Feature("b"), Feature("a")],
            "model.yaml features ['b', 'a'] do not match",
            id="order-differs",
        ),
        pytest.param(
            ModelHints(feature_names=("a", "b"), n_features=2),
            [Feature("a"), Feature("b"), Feature("c")],
            "model.yaml features ['a', 'b', 'c'] do not match",
            id="names-extra",
        ),
        pytest.param(
            ModelHints(n_features=4),
            [Feature("a"), Feature("b"), Feature("c")],
            "model.yaml declares 3 features but the model was fitted with 4",
            id="count-differs",
        ),
        pytest.param(
            ModelHints(n_features=3),
            [Feature("a"), Feature("b"), Feature("a")],
            "model.yaml features has duplicate names: ['a', 'b', 'a']",
            id="duplicate-names",
        ),
    ],
)
def test_conflicting_features_fail_the_load(
    hints: ModelHints, declared: list[Feature], message: str
) -> None:
    with pytest.raises(ModelLoadError, match=re.escape(message)):
        build_signature(hints, declared)


# -- labels ------------------------------------------------------------------------------


def test_labels_default_to_the_class_values() -> None:
    signature = build_signature(IRIS_HINTS)
    assert signature.classes == (0, 1, 2)
    assert signature.labels == ("0", "1", "2")
    # Without declared labels a prediction keeps the model's own class value.
    assert signature.label_of(1) == 1
    assert isinstance(signature.label_of(1), int)


def test_string_classes_are_their_own_labels() -> None:
    signature = build_signature(ModelHints(classes=("cat", "dog")))
    assert signature.labels == ("cat", "dog")
    assert signature.label_of("dog") == "dog"


def test_no_classes_no_labels() -> None:
    signature = build_signature(ModelHints(n_features=3))
    assert signature.classes is None
    assert signature.labels is None
    assert signature.label_of(2.5) == 2.5


@pytest.mark.parametrize(
    "declared",
    [
        pytest.param(SPECIES, id="list"),
        pytest.param({"0": "setosa", "1": "versicolor", "2": "virginica"}, id="mapping-str-keys"),
        pytest.param({2: "virginica", 0: "setosa", 1: "versicolor"}, id="mapping-int-keys"),
    ],
)
def test_declared_labels_follow_class_order(declared: Sequence[str] | Mapping[Any, str]) -> None:
    signature = build_signature(IRIS_HINTS, declared_labels=declared)
    assert signature.labels == tuple(SPECIES)
    assert signature.label_of(0) == "setosa"
    assert signature.label_of(2) == "virginica"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "setosa"),
        (np.int64(1), "versicolor"),
        (np.int32(2), "virginica"),
        (np.array([2, 0])[1], "setosa"),
        (7, 7),  # unknown classes come back as they are
        ("x", "x"),
    ],
)
def test_label_of_maps_python_and_numpy_class_values(value: Any, expected: Any) -> None:
    signature = build_signature(IRIS_HINTS, declared_labels=SPECIES)
    assert signature.label_of(value) == expected


def test_labels_of_maps_a_batch_like_label_of() -> None:
    declared = build_signature(IRIS_HINTS, declared_labels=SPECIES)
    assert declared.labels_of([2, 0, 7, "x"]) == [declared.label_of(v) for v in [2, 0, 7, "x"]]
    plain = build_signature(IRIS_HINTS)
    values = [1, 0, 2]
    assert plain.labels_of(values) is values


def test_numpy_class_values_in_hints_are_looked_up_by_python_values() -> None:
    hints = ModelHints(classes=(np.int64(0), np.int64(1)))
    signature = build_signature(hints, declared_labels=["no", "yes"])
    assert signature.label_of(0) == "no"
    assert signature.label_of(1) == "yes"
    assert signature.label_of(np.int64(1)) == "yes"


def test_numpy_string_classes_are_looked_up_by_python_strings() -> None:
    hints = ModelHints(classes=tuple(np.array(["cat", "dog"])))
    signature = build_signature(hints, declared_labels={"cat": "Cat", "dog": "Dog"})
    assert signature.labels == ("Cat", "Dog")
    assert signature.label_of("dog") == "Dog"
    assert signature.label_of(np.str_("cat")) == "Cat"


@pytest.mark.parametrize(
    ("hints", "declared", "message"),
    [
        pytest.param(
            IRIS_HINTS,
            ["setosa", "versicolor"],
            "model.yaml lists 2 labels but the model has 3 classes [0, 1, 2]",
            id="too-few",
        ),
        pytest.param(
            ModelHints(classes=(np.int64(0), np.int64(1))),
            ["a", "b", "c"],
            "model.yaml lists 3 labels but the model has 2 classes [0, 1]",
            id="too-many-numpy-classes",
        ),
        pytest.param(
            IRIS_HINTS,
            {"0": "setosa", "1": "versicolor"},
            "model.yaml labels has no entry for classes ['2']",
            id="mapping-missing-class",
        ),
        pytest.param(
            ModelHints(n_features=4),
            SPECIES,
            "model.yaml declares labels but the model has no classes_",
            id="no-classes",
        ),
        pytest.param(
            ModelHints(n_features=4),
            {"0": "setosa"},
            "model.yaml declares labels but the model has no classes_",
            id="no-classes-mapping",
        ),
    ],
)
def test_conflicting_labels_fail_the_load(
    hints: ModelHints, declared: Sequence[str] | Mapping[str, str], message: str
) -> None:
    with pytest.raises(ModelLoadError, match=re.escape(message)):
        build_signature(hints, declared_labels=declared)


def test_duplicate_labels_fail_the_load() -> None:
    with pytest.raises(ModelLoadError, match="duplicate"):
        build_signature(IRIS_HINTS, declared_labels=["setosa", "setosa", "virginica"])


# -- the rest of the signature -----------------------------------------------------------


def test_has_proba_and_allow_missing_are_carried_over() -> None:
    assert build_signature(IRIS_HINTS).has_proba
    assert not build_signature(ModelHints(n_features=4)).has_proba
    assert build_signature(IRIS_HINTS, allow_missing=True).allow_missing
    assert not build_signature(IRIS_HINTS).allow_missing


def test_a_model_that_handles_missing_values_takes_null_unless_model_yaml_says_no() -> None:
    trees = ModelHints(n_features=4, takes_missing=True)
    default = build_signature(trees, allow_missing=None)
    assert default.allow_missing
    assert "handles itself" in default.to_dict()["missing_values"]
    refused = build_signature(trees, allow_missing=False)
    assert not refused.allow_missing and "missing_values" not in refused.to_dict()
    assert not build_signature(ModelHints(n_features=4), allow_missing=None).allow_missing


def test_to_dict_for_a_classifier() -> None:
    declared = [Feature(NAMES[0]), Feature(NAMES[1], "int"), Feature(NAMES[2]), Feature(NAMES[3])]
    signature = build_signature(IRIS_HINTS, declared, SPECIES, allow_missing=True)
    assert signature.to_dict() == {
        "inputs": [
            {"name": "sepal_length", "type": "float"},
            {"name": "sepal_width", "type": "int"},
            {"name": "petal_length", "type": "float"},
            {"name": "petal_width", "type": "float"},
        ],
        "n_features": 4,
        "labels": SPECIES,
        "outputs": ["predictions", "probabilities"],
        "allow_missing": True,
        "coerce": False,
        "example": None,
    }


def test_to_dict_for_an_unnamed_regressor() -> None:
    assert build_signature(ModelHints(n_features=3)).to_dict() == {
        "inputs": None,
        "n_features": 3,
        "labels": None,
        "outputs": ["predictions"],
        "allow_missing": False,
        "coerce": False,
        "example": None,
    }


def test_signature_of_a_real_model_fitted_on_a_dataframe() -> None:
    iris = load_iris(as_frame=True)
    frame = iris.data.set_axis(list(NAMES), axis=1)
    target = pd.Series(iris.target_names[iris.target])
    model = LogisticRegression(max_iter=1000).fit(frame, target)
    signature = build_signature(
        SklearnRuntime(model).hints,
        declared_labels={"setosa": "Setosa", "versicolor": "Versicolor", "virginica": "Virginica"},
    )
    assert signature.feature_names == NAMES
    assert signature.n_features == 4
    assert signature.wants_frame
    assert signature.classes == tuple(SPECIES)
    assert signature.labels == ("Setosa", "Versicolor", "Virginica")
    assert signature.has_proba
    assert signature.label_of(model.predict(frame.iloc[:1])[0]) == "Setosa"


def test_feature_types_from_the_model() -> None:
    hints = ModelHints(feature_names=("a", "b", "op"), feature_types=("float", "str", "int"))

    signature = build_signature(hints)

    assert signature.features == (Feature("a"), Feature("b", "str"), Feature("op", "int"))
    assert not signature.all_numeric


def test_declared_features_override_the_models_types() -> None:
    hints = ModelHints(feature_names=("a", "b"), feature_types=("int", "int"))

    signature = build_signature(hints, [Feature("a", "float"), Feature("b", "bool")])

    assert signature.features == (Feature("a", "float"), Feature("b", "bool"))
