"""What the protocols decode a request into: one of five payload shapes, before it is
checked against a model's signature (``inputs.to_batch``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from modelport.types import NDArray

__all__ = ["Columns", "Payload", "Records", "Rows", "Split", "Tensors", "count_rows"]


@dataclass(frozen=True, slots=True)
class Rows:
    """``[[5.1, 3.5, 1.4, 0.2], ...]``: values in the signature's feature order."""

    rows: list[Any]
    #: The decoder saw no ``true``/``false`` in the JSON, so NumPy's own type inference
    #: cannot have turned a boolean into 1.0 and may stand in for the per-value checks.
    no_booleans: bool = False
    #: The decoder saw nothing in the JSON but the envelope's key, numbers, brackets,
    #: commas and spaces: every value is a number or a list (no string, null, boolean or
    #: object anywhere), so the values may be read without asking each for its type.
    numbers_only: bool = False
    #: With ``numbers_only``: the rows' JSON text exactly as the client sent it, which the
    #: prediction log keeps instead of encoding the rows again.
    text: bytes | None = None


@dataclass(frozen=True, slots=True)
class Records:
    """``[{"sepal_length": 5.1, ...}, ...]``: one object per row, keyed by feature."""

    records: list[Any]


@dataclass(frozen=True, slots=True)
class Columns:
    """``{"sepal_length": [5.1, ...], ...}``: one list per feature."""

    columns: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Split:
    """MLflow's ``dataframe_split``: column names plus rows in that column order."""

    columns: list[Any]
    data: list[Any]


@dataclass(frozen=True, slots=True)
class Tensors:
    """Open Inference Protocol inputs as NumPy arrays, by tensor name: one 2-D tensor
    ``[rows, features]`` (any name), or one 1-D tensor per feature, named by the feature.

    BYTES tensors are object arrays of ``bytes`` or ``str``; NaN in a float tensor is a
    missing value (allowed only with ``allow_missing``).
    """

    tensors: dict[str, NDArray]


Payload: TypeAlias = Rows | Records | Columns | Split | Tensors


def count_rows(payload: Payload) -> int:
    """Rows in a payload, before validation (for logs and metrics).

    Counted before the payload is checked, so what a client sent in place of a list
    (``{"dataframe_records": 5}``) counts as 0 rows: validation then refuses it."""
    if isinstance(payload, Rows):
        return len(payload.rows)
    if isinstance(payload, Records):
        return len(payload.records) if isinstance(payload.records, list) else 0
    if isinstance(payload, Split):
        return len(payload.data) if isinstance(payload.data, list) else 0
    if isinstance(payload, Tensors):
        tensor = next(iter(payload.tensors.values()), None)
        return int(tensor.shape[0]) if tensor is not None and tensor.ndim else 0
    first: Any = next(iter(payload.columns.values()), [])
    return len(first) if isinstance(first, list) else 0
