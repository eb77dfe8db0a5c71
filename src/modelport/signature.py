"""A model's inputs and outputs: feature names and types, class labels.

Sources, strongest first: what the fitted model says about itself (``feature_names_in_``,
``n_features_in_``, ``classes_``), then ``model.yaml`` (``features:``, ``labels:``).
When both speak they must agree, or the model fails to load with the disagreement named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelport.errors import ModelLoadError
from modelport.types import FeatureType

__all__ = ["Feature", "ModelHints", "Signature", "build_signature"]


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    type: FeatureType = "float"


@dataclass(frozen=True, slots=True)
class ModelHints:
    """What a loaded model object tells about itself (filled by its runtime)."""

    feature_names: tuple[str, ...] | None = None
    #: Types of the named features, same order (function annotations, ONNX inputs);
    #: None means every feature is a float.
    feature_types: tuple[FeatureType, ...] | None = None
    n_features: int | None = None
    classes: tuple[Any, ...] | None = None
    has_proba: bool = False
    #: The model handles missing values itself (XGBoost, LightGBM, scikit-learn's
    #: estimators tagged ``allow_nan``): null may reach it as NaN unless model.yaml says no.
    takes_missing: bool = False
    #: What loading warned of, for the version's metadata (another scikit-learn version).
    warnings: tuple[str, ...] = ()


#: Why null reaches a model whose model.yaml does not say (its metadata shows it).
MISSING_BY_DEFAULT = (
    "null is passed to the model as NaN, which it handles itself; model.yaml "
    "'allow_missing: false' refuses it"
)


@dataclass(frozen=True, slots=True)
class Signature:
    """The contract a request must meet, and how outputs are named."""

    #: Named features in column order; None when the model only knows their count.
    features: tuple[Feature, ...] | None
    #: Number of columns; None when nothing says (any width is passed to the model).
    n_features: int | None
    #: The model's own class values (``classes_``), in ``predict_proba`` column order.
    classes: tuple[Any, ...] | None = None
    #: Display label for each class, same order as ``classes``.
    labels: tuple[str, ...] | None = None
    has_proba: bool = False
    #: Whether NaN (JSON null) may reach the model.
    allow_missing: bool = False
    #: Why ``allow_missing`` holds when model.yaml did not say (None: it said, or no).
    missing_note: str | None = None
    #: Numbers sent as strings ("5.1") are taken as numbers (model.yaml ``coerce``).
    coerce: bool = False
    #: One input row from model.yaml ``example`` (a list, or an object keyed by feature).
    example: list[Any] | dict[str, Any] | None = field(default=None, compare=False)
    #: The model was fitted on a DataFrame and wants one back (column names checked).
    wants_frame: bool = False
    _label_by_class: dict[Any, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        return None if self.features is None else tuple(f.name for f in self.features)

    @property
    def plain_numbers(self) -> bool:
        """Every feature takes any number (no bool or string checks needed)."""
        return self.features is None or all(f.type in ("float", "int") for f in self.features)

    @property
    def all_numeric(self) -> bool:
        return self.features is None or all(f.type != "str" for f in self.features)

    def label_of(self, value: Any) -> Any:
        """The display label of one predicted class value (the value itself if unmapped)."""
        return self._label_by_class.get(value, value)

    def labels_of(self, values: list[Any]) -> list[Any]:
        """:meth:`label_of` for a whole batch; the list itself when nothing is mapped."""
        if not self._label_by_class:
            return values
        get = self._label_by_class.get
        return list(map(get, values, values))

    def _shown_labels(self) -> list[Any] | None:
        """The labels as predictions show them: declared names, else the model's own
        class values with their JSON type (``[0, 1]``, not ``["0", "1"]``)."""
        if self.labels is None:
            return None
        if self._label_by_class or self.classes is None:
            return list(self.labels)
        return [_plain(c) for c in self.classes]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description for metadata endpoints."""
        return {
            "inputs": None
            if self.features is None
            else [{"name": f.name, "type": f.type} for f in self.features],
            "n_features": self.n_features,
            "labels": self._shown_labels(),
            "outputs": ["predictions", "probabilities"] if self.has_proba else ["predictions"],
            "allow_missing": self.allow_missing,
            **({"missing_values": self.missing_note} if self.missing_note else {}),
            "coerce": self.coerce,
            "example": self.example,
        }


def build_signature(
    hints: ModelHints,
    declared_features: Sequence[Feature] | None = None,
    declared_labels: Sequence[str] | Mapping[str, str] | None = None,
    allow_missing: bool | None = False,
    coerce: bool = False,
    example: list[Any] | dict[str, Any] | None = None,
) -> Signature:
    """Merge a model's own hints with what ``model.yaml`` declares; raise on conflict.
    ``allow_missing`` None: as the model takes it (``hints.takes_missing``)."""
    features = _merge_features(hints, declared_features)
    n_features = len(features) if features is not None else hints.n_features
    classes = hints.classes
    labels = _merge_labels(classes, declared_labels)
    label_by_class: dict[Any, str] = {}
    # Without declared labels predictions keep the model's own class values (e.g. 0, 1, 2).
    if classes is not None and labels is not None and declared_labels is not None:
        label_by_class = {_plain(c): label for c, label in zip(classes, labels, strict=True)}
    return Signature(
        features=features,
        n_features=n_features,
        classes=classes,
        labels=labels,
        has_proba=hints.has_proba,
        allow_missing=hints.takes_missing if allow_missing is None else allow_missing,
        missing_note=MISSING_BY_DEFAULT if allow_missing is None and hints.takes_missing else None,
        coerce=coerce,
        example=example,
        wants_frame=hints.feature_names is not None
        or (features is not None and not all(f.type != "str" for f in features)),
        _label_by_class=label_by_class,
    )


def _merge_features(
    hints: ModelHints, declared: Sequence[Feature] | None
) -> tuple[Feature, ...] | None:
    if declared is not None:
        names = [f.name for f in declared]
        if len(set(names)) != len(names):
            raise ModelLoadError(f"model.yaml features has duplicate names: {names}")
        if hints.feature_names is not None and tuple(names) != hints.feature_names:
            raise ModelLoadError(
                f"model.yaml features {names} do not match the names the model was fitted "
                f"with {list(hints.feature_names)}"
            )
        if hints.n_features is not None and len(names) != hints.n_features:
            raise ModelLoadError(
                f"model.yaml declares {len(names)} features but the model was fitted "
                f"with {hints.n_features}"
            )
        return tuple(declared)
    if hints.feature_names is not None:
        float_: FeatureType = "float"
        types = hints.feature_types or (float_,) * len(hints.feature_names)
        return tuple(Feature(n, t) for n, t in zip(hints.feature_names, types, strict=True))
    return None


def _merge_labels(
    classes: tuple[Any, ...] | None, declared: Sequence[str] | Mapping[str, str] | None
) -> tuple[str, ...] | None:
    if declared is None:
        return None if classes is None else tuple(str(c) for c in classes)
    if classes is None:
        raise ModelLoadError("model.yaml declares labels but the model has no classes_")
    if isinstance(declared, Mapping):
        by_key = {str(k): str(v) for k, v in declared.items()}
        missing = [str(c) for c in classes if str(c) not in by_key]
        if missing:
            raise ModelLoadError(f"model.yaml labels has no entry for classes {missing}")
        extra = sorted(set(by_key) - {str(c) for c in classes})
        if extra:
            raise ModelLoadError(f"model.yaml labels names classes the model lacks: {extra}")
        labels = tuple(by_key[str(c)] for c in classes)
    elif len(declared) != len(classes):
        raise ModelLoadError(
            f"model.yaml lists {len(declared)} labels but the model has {len(classes)} "
            f"classes {[_plain(c) for c in classes]}"
        )
    else:
        labels = tuple(str(label) for label in declared)
    if len(set(labels)) != len(labels):
        # Probabilities are keyed by label: a repeated one would silently hide a class.
        raise ModelLoadError(f"model.yaml labels has duplicate names: {list(labels)}")
    return labels


def _plain(value: Any) -> Any:
    """NumPy scalar -> Python scalar, so lookups by predicted values hit."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
