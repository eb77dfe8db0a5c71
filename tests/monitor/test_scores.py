"""The monitoring scores against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelport.monitor.scores import (
    EPSILON,
    bin_shares,
    chi_square,
    ks,
    psi,
    share_shift,
    status_of,
    worst,
)


def test_psi_of_two_share_vectors() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_counts_an_empty_bin_as_epsilon() -> None:
    expected = (EPSILON - 0.5) * math.log(EPSILON / 0.5) + 0.5 * math.log(1 / 0.5)
    assert psi([0.5, 0.5], [0.0, 1.0]) == pytest.approx(expected)


def test_bin_shares_puts_an_edge_value_in_the_bin_above() -> None:
    shares = bin_shares(np.array([0.0, 1.0, 1.5, 2.0, 3.0]), np.array([1.0, 2.0]))
    assert list(shares) == [0.2, 0.4, 0.4]


def test_ks_distance_and_p_value() -> None:
    distance, p_value = ks(np.array([1.0, 2, 3, 4]), np.array([3.0, 4, 5, 6]))
    assert distance == 0.5
    assert 0 < p_value < 1
    assert ks(np.zeros(0), np.ones(3)) == (0.0, 1.0)


def test_chi_square_against_reference_shares() -> None:
    statistic, p_value = chi_square({"a": 0.5, "b": 0.5}, {"a": 60, "b": 40, "new": 7})
    assert statistic == pytest.approx(4.0)  # (60-50)^2/50 + (40-50)^2/50
    assert p_value == pytest.approx(0.0455003, abs=1e-6)


def test_share_shift_is_total_variation_distance() -> None:
    assert share_shift({"a": 0.5, "b": 0.5}, {"a": 0.2, "b": 0.3, "c": 0.5}) == pytest.approx(0.5)


def test_status_and_worst() -> None:
    assert [status_of(v, 0.1, 0.25) for v in (0.05, 0.1, 0.25)] == ["ok", "warn", "alert"]
    assert worst(["ok", "alert", "warn"]) == "alert"
    assert worst([]) == "ok"
