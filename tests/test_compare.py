"""The comparison of a shadow's answers with the served ones, from prediction log rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from modelport.compare import _report
from modelport.db.records import PredictionRecord

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def row(version: int, predictions: list[Any], status: str = "ok") -> PredictionRecord:
    protocol = "native" if version == 1 else "shadow"
    output = {"predictions": predictions} if status == "ok" else None
    return PredictionRecord(
        0, "id", NOW, "m", version, protocol, None, None, output, 1.0, status, None
    )


def test_a_classifier_gets_agreement_and_confusion() -> None:
    pairs = [
        (row(1, ["a", "b"]), row(2, ["a", "a"])),
        (row(1, ["b"]), row(2, ["b"])),
        (row(1, ["a"]), row(2, [], status="timeout")),
    ]
    report = _report("m", 60, pairs)
    assert (report["pairs"], report["rows"], report["shadow_failures"]) == (3, 3, 1)
    assert report["agreement"] == pytest.approx(2 / 3)
    assert report["confusion"] == {"a": {"a": 1}, "b": {"a": 1, "b": 1}}
    assert (report["version"], report["shadow_version"]) == (1, 2)
    assert report["mean_absolute_difference"] is None


def test_a_regressor_gets_the_mean_absolute_difference() -> None:
    pairs = [(row(1, [1.5, 2.0]), row(2, [1.0, 3.0]))]
    report = _report("m", 60, pairs)
    assert report["mean_absolute_difference"] == pytest.approx(0.75)
    assert (report["agreement"], report["confusion"]) == (None, {})


def test_integer_classes_are_classes() -> None:
    report = _report("m", 60, [(row(1, [0, 1, 2]), row(2, [0, 1, 1]))])
    assert report["agreement"] == pytest.approx(2 / 3)
    assert report["confusion"]["2"] == {"1": 1}
