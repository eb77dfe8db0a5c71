"""Shared type aliases; imports nothing from modelport so anything may import it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator

__all__ = ["Batch", "FeatureType", "JSONValue", "NDArray", "VersionChoice", "version_choice_error"]

if TYPE_CHECKING:
    import numpy.typing as npt

    NDArray: TypeAlias = npt.NDArray[Any]
else:
    # At run time the alias only names annotations (strings in every module): NumPy is
    # not imported for it, so commands that need no model (modelport --help, the
    # operator commands) start without it.
    NDArray = Any
#: What a runtime receives: a 2-D NumPy array, or a pandas DataFrame when the model was
#: fitted with named columns or takes non-numeric features.
Batch: TypeAlias = "NDArray | Any"
#: The feature types a signature can declare.
FeatureType: TypeAlias = Literal["float", "int", "bool", "str"]
JSONValue: TypeAlias = Any
_VERSION_CHOICE = re.compile(r"latest|[1-9][0-9]{0,8}|[a-z][a-z0-9_.-]{0,63}")


def version_choice_error(value: str) -> str | None:
    """What is wrong with ``value`` as a version choice (None: nothing)."""
    if _VERSION_CHOICE.fullmatch(value):
        return None
    return (
        "use 'latest', a version number or an alias (a lowercase letter, then up to 63 "
        "lowercase letters, digits, '_', '.' or '-')"
    )


def _version_choice(value: str) -> str:
    problem = version_choice_error(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: What may name the version that answers by default: ``latest``, a number or an alias.
VersionChoice: TypeAlias = Annotated[str, AfterValidator(_version_choice)]
