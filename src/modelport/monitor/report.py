"""Compare a live window with a reference profile: each feature's scores and status."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelport.monitor.profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    Profile,
)
from modelport.monitor.scores import (
    Status,
    bin_shares,
    chi_square,
    ks,
    psi,
    share_shift,
    status_of,
    worst,
)
from modelport.repository.monitor_config import MonitorConfig, Threshold

__all__ = ["column_report", "evaluate"]


def _round(value: float) -> float:
    # Six places: the JSON and the gauges show the same number, without float noise.
    return round(float(value), 6)


def _judged(
    kind: str,
    drift: float,
    missing: float,
    reference_missing: float,
    config: MonitorConfig,
    checks: list[tuple[float, Threshold]],
) -> dict[str, Any]:
    """What every column reports: its PSI (the score), missing rate, and the worst status
    of PSI, the rise in missing values and the kind's own ``checks``."""
    judged = [(drift, config.psi), (max(0.0, missing - reference_missing), config.missing)]
    statuses: list[Status] = [status_of(v, t.warn, t.alert) for v, t in judged + checks]
    return {
        "kind": kind,
        "score": _round(drift),
        "status": worst(statuses),
        "psi": _round(drift),
        "missing_rate": _round(missing),
    }


def _numeric_report(
    ref: NumericProfile, column: pd.Series, config: MonitorConfig
) -> dict[str, Any]:
    raw = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    present = raw[~np.isnan(raw)]
    missing = 1.0 - present.size / max(raw.size, 1)
    drift = psi(ref.shares, bin_shares(present, ref.edges))
    distance, p_value = ks(ref.values, present)
    outside = float(np.mean((present < ref.low) | (present > ref.high))) if present.size else 0.0
    checks = [(distance, config.ks), (outside, config.out_of_range)]
    return {
        **_judged("numeric", drift, missing, ref.missing, config, checks),
        "ks": _round(distance),
        "ks_p_value": _round(p_value),
        "out_of_range_rate": _round(outside),
        "mean": _round(present.mean()) if present.size else None,
        "reference_mean": _round(ref.mean),
        "reference_std": _round(ref.std),
        "histogram": {
            "edges": [_round(e) for e in ref.edges],
            "reference": [_round(s) for s in ref.shares],
            "live": [_round(s) for s in bin_shares(present, ref.edges)],
        },
    }


def _categorical_report(
    ref: CategoricalProfile, column: pd.Series, config: MonitorConfig
) -> dict[str, Any]:
    present = column.dropna().astype(str)
    missing = 1.0 - present.size / max(column.size, 1)
    counts = {str(k): int(v) for k, v in present.value_counts().items()}
    total = max(present.size, 1)
    live = {name: n / total for name, n in counts.items()}
    names = list(ref.shares)
    drift = psi([ref.shares[n] for n in names], [live.get(n, 0.0) for n in names])
    statistic, p_value = chi_square(ref.shares, counts)
    unseen = sorted(name for name in counts if name not in ref.shares)
    unseen_rate = sum(counts[n] for n in unseen) / total if present.size else 0.0
    return {
        **_judged(
            "categorical", drift, missing, ref.missing, config, [(unseen_rate, config.unseen)]
        ),
        "chi_square": _round(statistic),
        "chi_square_p_value": _round(p_value),
        "unseen_rate": _round(unseen_rate),
        "unseen": unseen[:20],
        "histogram": {
            "categories": names[:50],
            "reference": [_round(ref.shares[n]) for n in names[:50]],
            "live": [_round(live.get(n, 0.0)) for n in names[:50]],
        },
    }


def column_report(ref: ColumnProfile, column: pd.Series, config: MonitorConfig) -> dict[str, Any]:
    """One column's scores, status and histograms (live against reference)."""
    if isinstance(ref, NumericProfile):
        return _numeric_report(ref, column, config)
    return _categorical_report(ref, column, config)


def _output_report(ref: ColumnProfile, outputs: pd.Series, config: MonitorConfig) -> dict[str, Any]:
    report = column_report(ref, outputs, config)
    if isinstance(ref, CategoricalProfile):
        # Class shares: how far the share of each predicted class moved (0 to 1).
        live = outputs.dropna().astype(str).value_counts(normalize=True)
        shift = share_shift(ref.shares, {str(k): float(v) for k, v in live.items()})
        report["output_shift"] = _round(shift)
        report["score"] = _round(shift)
        limits = config.output_shift
        report["status"] = worst([report["status"], status_of(shift, limits.warn, limits.alert)])
    return report


def evaluate(
    profile: Profile,
    frame: pd.DataFrame,
    outputs: pd.Series | None,
    config: MonitorConfig,
) -> dict[str, Any]:
    """Scores of every feature (the most drifted first) and of the output.

    With fewer than ``config.min_rows`` live rows nothing is scored: too few to tell.
    """
    rows = len(frame)
    if rows < config.min_rows:
        return {"status": "ok", "rows": rows, "enough_rows": False, "features": [], "output": None}
    features = []
    for name, ref in profile.features.items():
        column = frame[name] if name in frame else pd.Series([None] * rows, dtype=object)
        features.append({"feature": name, **column_report(ref, column, config)})
    order = {"alert": 0, "warn": 1, "ok": 2}
    features.sort(key=lambda f: (order[f["status"]], -f["score"], f["feature"]))
    output = None
    if profile.output is not None and outputs is not None and len(outputs):
        output = _output_report(profile.output, outputs, config)
    statuses: list[Status] = [f["status"] for f in features]
    if output is not None:
        statuses.append(output["status"])
    return {
        "status": worst(statuses),
        "rows": rows,
        "enough_rows": True,
        "features": features,
        "output": output,
    }
