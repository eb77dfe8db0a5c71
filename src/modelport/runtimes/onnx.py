"""ONNX (``.onnx``) through onnxruntime, for tabular models (rows of features).

The signature comes from the graph: one input of shape ``[N, k]`` is ``k`` unnamed
features (model.yaml may name them); several inputs of shape ``[N]`` or ``[N, 1]`` are
one named feature each, typed by their element type. The first output is the
prediction; a second output holding probabilities (skl2onnx's ``output_probability``,
a sequence of ``{class: p}`` maps or an ``[N, classes]`` tensor) makes it a classifier.
Class values are read from those maps on a probe row at load, so a converted
scikit-learn classifier keeps its classes (and model.yaml labels apply as before).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import ModelLoadError, ModelportError
from modelport.runtimes.base import LoadContext, require
from modelport.signature import ModelHints
from modelport.types import Batch, FeatureType, NDArray

__all__ = ["OnnxRuntime", "load"]

log = logging.getLogger(__name__)

#: ONNX element type -> (NumPy dtype, feature type).
_ELEMENTS: dict[str, tuple[Any, FeatureType]] = {
    "tensor(float)": (np.float32, "float"),
    "tensor(double)": (np.float64, "float"),
    "tensor(float16)": (np.float16, "float"),
    "tensor(int64)": (np.int64, "int"),
    "tensor(int32)": (np.int32, "int"),
    "tensor(bool)": (np.bool_, "bool"),
    "tensor(string)": (np.object_, "str"),
}


class OnnxRuntime:
    """One onnxruntime InferenceSession."""

    kind = "onnx"

    def __init__(self, session: Any, name: str) -> None:
        self._session = session
        inputs = session.get_inputs()
        outputs = session.get_outputs()
        for node in inputs:
            if node.type not in _ELEMENTS:
                raise ModelLoadError(f"ONNX input '{node.name}' has type {node.type}, not a tensor")
        self._inputs = [(node.name, _ELEMENTS[node.type][0], len(node.shape)) for node in inputs]
        self._label_output = outputs[0].name
        self._proba_output: str | None = None
        self._proba_is_maps = False
        second = outputs[1] if len(outputs) > 1 else None
        if second is not None and (second.type.startswith("seq(map(") or len(second.shape) == 2):
            self._proba_output = second.name
            self._proba_is_maps = second.type.startswith("seq(map(")
        if len(inputs) == 1 and _width(inputs[0].shape) is not None:
            self._split = False
            hints = ModelHints(n_features=_width(inputs[0].shape))
        elif all(_width(node.shape) in (1, None) and len(node.shape) <= 2 for node in inputs):
            # One input per feature (skl2onnx with a list of initial types).
            self._split = True
            hints = ModelHints(
                feature_names=tuple(node.name for node in inputs),
                feature_types=tuple(_ELEMENTS[node.type][1] for node in inputs),
                n_features=len(inputs),
            )
        else:
            shapes = {node.name: node.shape for node in inputs}
            raise ModelLoadError(
                f"'{name}' takes inputs {shapes}: modelport serves ONNX models whose input "
                "is rows of features ([N, k], or one [N, 1] input per feature)"
            )
        self._hints = hints
        classes = self._probe_classes() if self._proba_output is not None else None
        self._hints = ModelHints(
            feature_names=hints.feature_names,
            feature_types=hints.feature_types,
            n_features=hints.n_features,
            classes=classes,
            has_proba=classes is not None,
        )

    @property
    def hints(self) -> ModelHints:
        return self._hints

    def predict(self, batch: Batch) -> NDArray:
        (labels,) = self._session.run([self._label_output], self._feed(batch))
        values = np.asarray(labels)
        # Regressors answer [N, 1]; one value per row reads better.
        return values.reshape(-1) if values.ndim == 2 and values.shape[1] == 1 else values

    def predict_proba(self, batch: Batch) -> NDArray:
        if self._proba_output is None or self._hints.classes is None:
            raise ModelportError("this ONNX model has no probabilities output")
        (table,) = self._session.run([self._proba_output], self._feed(batch))
        if self._proba_is_maps:
            return np.array([[row[c] for c in self._hints.classes] for row in table])
        return np.asarray(table)

    def _feed(self, batch: Batch) -> dict[str, NDArray]:
        if not self._split:
            name, dtype, _ = self._inputs[0]
            return {name: np.asarray(batch, dtype=dtype)}
        feed: dict[str, NDArray] = {}
        columns = hasattr(batch, "columns")
        for index, (name, dtype, rank) in enumerate(self._inputs):
            values = batch[name].to_numpy() if columns else np.asarray(batch)[:, index]
            if dtype is np.object_:
                values = np.array(["" if v is None else str(v) for v in values], dtype=object)
            feed[name] = np.asarray(values, dtype=dtype).reshape((-1, 1) if rank == 2 else (-1,))
        return feed

    def _probe_classes(self) -> tuple[Any, ...] | None:
        """The class values, read from the probability output on one probe row."""
        width = self._hints.n_features or 1
        feed = {
            name: np.full((1, 1 if self._split else width), _blank(dtype), dtype=dtype).reshape(
                (1, -1) if rank == 2 else (-1,)
            )
            for name, dtype, rank in self._inputs
        }
        try:
            (table,) = self._session.run([self._proba_output], feed)
        # A model that cannot take zeros (whatever onnxruntime raises): no classes, no
        # probabilities.
        except Exception as exc:  # noqa: BLE001
            log.info("ONNX class probe failed, so no probabilities are offered: %s", exc)
            return None
        if self._proba_is_maps:
            return tuple(_plain(key) for key in table[0])
        return tuple(range(np.asarray(table).shape[1]))


def load(artifact: Path, context: LoadContext | None = None) -> OnnxRuntime:
    """Open ``artifact`` in an onnxruntime session (CPU)."""
    ort = require("onnxruntime", "onnx")
    options = ort.SessionOptions()
    # Requests run in parallel on modelport's inference threads; one thread per call
    # keeps several models from oversubscribing the cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            str(artifact), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # InvalidProtobuf / Fail for damaged files
        raise ModelLoadError(
            f"'{artifact.name}' is not a readable ONNX model: {type(exc).__name__}: {exc}"
        ) from exc
    return OnnxRuntime(session, artifact.name)


def _width(shape: list[Any]) -> int | None:
    """Features per row for a [N, k] input; None when the shape does not say."""
    if len(shape) == 2 and isinstance(shape[1], int):
        return shape[1]
    return None


def _blank(dtype: Any) -> Any:
    return "" if dtype is np.object_ else 0


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value
