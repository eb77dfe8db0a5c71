"""Reference profiles: what each feature (and the output) looked like when the model was
fitted, from a reference sample beside the artifact or from the first logged predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from modelport.errors import InvalidRequestError, MissingDependencyError
from modelport.monitor.files import REFERENCE_FILES, find_reference

__all__ = [
    "OUTPUT",
    "REFERENCE_FILES",
    "CategoricalProfile",
    "NumericProfile",
    "Profile",
    "build_profile",
    "find_reference",
    "read_reference",
]

#: The reference sample's file names, looked for in this order beside the artifact.
#: The reference column (and profile entry) that holds the model's output, if any.
OUTPUT = "prediction"
#: Bins of a numeric feature: cut at its reference deciles.
BINS = 10
#: Most reference values kept per numeric feature for the Kolmogorov-Smirnov test.
KEEP_VALUES = 5_000


@dataclass(frozen=True)
class NumericProfile:
    """A numeric column: deciles as bin edges, each bin's share, moments, range, missing."""

    edges: np.ndarray
    shares: np.ndarray
    values: np.ndarray  # sorted, at most KEEP_VALUES (a uniform sample)
    mean: float
    std: float
    low: float
    high: float
    missing: float
    kind: str = "numeric"


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical column: each category's share, and the share missing."""

    shares: dict[str, float]
    missing: float
    kind: str = "categorical"


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class Profile:
    """A model version's reference: one profile per feature, and the output's if known."""

    features: dict[str, ColumnProfile]
    output: ColumnProfile | None
    rows: int
    source: str
    order: list[str] = field(default_factory=list)


def _numeric(column: pd.Series) -> NumericProfile:
    raw = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    present = np.sort(raw[~np.isnan(raw)])
    missing = 1.0 - present.size / max(raw.size, 1)
    if present.size == 0:
        empty = np.zeros(0)
        return NumericProfile(empty, np.ones(1), empty, 0.0, 0.0, 0.0, 0.0, missing)
    # Unique edges: a feature with few distinct values would otherwise get empty bins.
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=edges.size + 1)
    step = max(1, present.size // KEEP_VALUES)
    return NumericProfile(
        edges=edges,
        shares=counts / present.size,
        values=present[::step],
        mean=float(present.mean()),
        std=float(present.std()),
        low=float(present[0]),
        high=float(present[-1]),
        missing=missing,
    )


def _categorical(column: pd.Series) -> CategoricalProfile:
    present = column.dropna().astype(str)
    missing = 1.0 - present.size / max(column.size, 1)
    counts = present.value_counts(normalize=True)
    return CategoricalProfile({str(k): float(v) for k, v in counts.items()}, missing)


def is_numeric(column: pd.Series) -> bool:
    """Whether a column is profiled as numbers: all its non-missing values read as numbers."""
    present = column.dropna()
    if present.empty:
        return True
    if column.dtype.kind in "biuf":
        return bool(column.dtype.kind != "b")
    try:
        return bool(pd.to_numeric(present, errors="coerce").notna().all())
    except (TypeError, ValueError):  # nested values (a row of lists): not numbers
        return False


def profile_column(column: pd.Series, numeric: bool | None = None) -> ColumnProfile:
    """The profile of one column; numeric unless told otherwise or its values are not."""
    use_numbers = is_numeric(column) if numeric is None else numeric
    return _numeric(column) if use_numbers else _categorical(column)


def build_profile(
    frame: pd.DataFrame,
    features: list[str],
    source: str,
    output: pd.Series | None = None,
    output_numeric: bool | None = None,
) -> Profile:
    """Profile ``features`` of ``frame`` (a missing column counts as all missing) and the
    output, taken from ``output`` or from the frame's OUTPUT column (class labels are
    categories: ``output_numeric=False``)."""
    profiles: dict[str, ColumnProfile] = {}
    for name in features:
        column = frame[name] if name in frame else pd.Series([None] * len(frame), dtype=object)
        profiles[name] = profile_column(column)
    if output is None and OUTPUT in frame and OUTPUT not in features:
        output = frame[OUTPUT]
    out = None if output is None else profile_column(output, output_numeric)
    return Profile(profiles, out, len(frame), source, list(features))


def read_reference(path: Path) -> pd.DataFrame:
    """Read a reference sample: CSV, or Parquet (needs pyarrow)."""
    if path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401  only to name the missing extra
        except ImportError as exc:
            raise MissingDependencyError("pyarrow", "parquet", "reference.parquet") from exc
        return pd.read_parquet(path)
    try:
        return pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise InvalidRequestError(f"{path.name}: cannot read the reference sample: {exc}") from exc
