"""Shared type aliases; imports nothing from modelport so anything may import it."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy.typing as npt

__all__ = ["Batch", "FeatureType", "JSONValue", "NDArray"]

NDArray: TypeAlias = npt.NDArray[Any]
#: What a runtime receives: a 2-D NumPy array, or a pandas DataFrame when the model was
#: fitted with named columns or takes non-numeric features.
Batch: TypeAlias = "NDArray | Any"
#: The feature types a signature can declare.
FeatureType: TypeAlias = Literal["float", "int", "bool", "str"]
JSONValue: TypeAlias = Any
