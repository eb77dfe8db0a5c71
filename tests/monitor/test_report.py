"""A reference profile against live windows: in distribution, shifted, new categories."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelport.monitor.profile import build_profile
from modelport.monitor.report import evaluate
from modelport.repository.monitor_config import MonitorConfig


def _sample(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(10, 2, rows) + 2 * shift,
            "y": rng.normal(0, 1, rows),
            "colour": rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2]),
        }
    )


def test_same_distribution_is_ok_and_a_shift_alerts() -> None:
    rng = np.random.default_rng(7)
    reference = _sample(rng, 1_000)
    reference["prediction"] = np.where(reference["x"] > 10, "high", "low")
    profile = build_profile(reference, ["x", "y", "colour"], "reference.csv")
    config = MonitorConfig()

    live = _sample(rng, 2_000)
    same = evaluate(profile, live, pd.Series(np.where(live["x"] > 10, "high", "low")), config)
    assert same["status"] == "ok"
    assert {f["feature"]: f["status"] for f in same["features"]} == {
        "x": "ok",
        "y": "ok",
        "colour": "ok",
    }
    assert same["output"]["status"] == "ok"

    shifted = _sample(rng, 2_000, shift=1.0)
    shifted.loc[:99, "colour"] = "purple"
    report = evaluate(
        profile, shifted, pd.Series(np.where(shifted["x"] > 10, "high", "low")), config
    )
    statuses = {f["feature"]: f["status"] for f in report["features"]}
    assert statuses == {"x": "alert", "y": "ok", "colour": "alert"}
    assert report["features"][0]["feature"] in {"x", "colour"}
    colour = next(f for f in report["features"] if f["feature"] == "colour")
    assert colour["unseen"] == ["purple"]
    assert colour["unseen_rate"] == 0.05
    assert report["output"]["status"] == "alert"  # "high" went from ~50% to ~84%


def test_too_few_rows_score_nothing() -> None:
    rng = np.random.default_rng(1)
    profile = build_profile(_sample(rng, 500), ["x"], "first logged")
    report = evaluate(profile, _sample(rng, 50, shift=3), None, MonitorConfig())
    assert report == {
        "status": "ok",
        "rows": 50,
        "enough_rows": False,
        "features": [],
        "output": None,
    }


def test_missing_and_out_of_range_rates() -> None:
    rng = np.random.default_rng(2)
    profile = build_profile(_sample(rng, 1_000), ["x"], "reference.csv")
    live = _sample(rng, 1_000)
    live.loc[:299, "x"] = None
    live.loc[300:399, "x"] = 1_000.0
    (x,) = evaluate(profile, live, None, MonitorConfig())["features"]
    assert x["missing_rate"] == 0.3
    # The 100 set far out, and perhaps a few of the others past the reference extremes.
    assert 100 / 700 - 1e-6 <= x["out_of_range_rate"] < 110 / 700
    assert x["status"] == "alert"
