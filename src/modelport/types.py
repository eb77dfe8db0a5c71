"""Shared type aliases; imports nothing from modelport so anything may import it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeAlias

import numpy.typing as npt
from pydantic import AfterValidator

__all__ = ["Batch", "FeatureType", "JSONValue", "NDArray", "VersionChoice"]

NDArray: TypeAlias = npt.NDArray[Any]
#: What a runtime receives: a 2-D NumPy array, or a pandas DataFrame when the model was
#: fitted with named columns or takes non-numeric features.
Batch: TypeAlias = "NDArray | Any"
#: The feature types a signature can declare.
FeatureType: TypeAlias = Literal["float", "int", "bool", "str"]
JSONValue: TypeAlias = Any
_VERSION_CHOICE = re.compile(r"latest|[1-9][0-9]{0,8}|[a-z][a-z0-9_.-]{0,63}")


def _version_choice(value: str) -> str:
    if not _VERSION_CHOICE.fullmatch(value):
        raise ValueError(
            "use 'latest', a version number or an alias (a lowercase letter, then up to 63 "
            "lowercase letters, digits, '_', '.' or '-')"
        )
    return value


#: What may name the version that answers by default: ``latest``, a number or an alias.
VersionChoice: TypeAlias = Annotated[str, AfterValidator(_version_choice)]
