"""The rows ``predictions export --flatten`` reads out of each shape of logged input."""

from __future__ import annotations

from modelport.export_flat import input_rows


def test_every_shape_a_client_sends_becomes_rows() -> None:
    assert input_rows([[1, 2], [3, 4]]) == [{0: 1, 1: 2}, {0: 3, 1: 4}]
    assert input_rows([{"a": 1}, {"b": 2}]) == [{"a": 1}, {"b": 2}]
    assert input_rows([5, 6]) == [{0: 5}, {0: 6}]  # one feature, rows given bare
    assert input_rows({"columns": ["a", "b"], "data": [[1, 2]]}) == [{"a": 1, "b": 2}]
    assert input_rows({"x": [[1, 2], [3, 4]]}) == [{0: 1, 1: 2}, {0: 3, 1: 4}]  # 2-D tensor
    assert input_rows({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": None}]


def test_inputs_without_rows_are_none() -> None:
    for value in (None, 7, "text", {}, {"a": 1}, {"columns": "a", "data": 1}):
        assert input_rows(value) is None
