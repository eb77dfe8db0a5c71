"""What the prediction log keeps of a part too big to log whole (predlog_rows.bound), and
of a rejected request's input."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

import numpy as np

from modelport.db.prediction_rows import encode_json
from modelport.payloads import Columns, Payload, Records, Rows, Split, Tensors
from modelport.predlog_reader import truncation_fields
from modelport.predlog_rows import ERROR_KEEP, STRING_KEEP, Pending, bound, row_values


def test_long_strings_anywhere_are_cut_and_counted() -> None:
    value = {"rows": [{"a": "s" * 5000, "b": 1}, ["t" * 2000, "short"]], "n": "u" * 10}
    raw = encode_json(value)

    kept, note = bound(raw, value, 8000)

    assert kept is not None and len(kept) <= 8000
    assert encode_json(value) == raw  # the logged value itself is left as it was
    cut = kept.decode()
    assert "s" * STRING_KEEP + "…[cut: 5000 characters]" in cut
    assert "t" * STRING_KEEP + "…[cut: 2000 characters]" in cut
    assert '"short"' in cut and '"b":1' in cut
    assert note == {
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "strings_cut": 2,
    }


def test_numbers_and_text_are_left_out_whole() -> None:
    array = np.ones((1000, 4))
    raw = encode_json(array)
    assert bound(raw, array, 256) == (
        None,
        {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()},
    )
    assert bound(b"[[1,2]]", None, 2)[0] is None


def test_readers_see_flat_fields() -> None:
    assert truncation_fields(None) == {
        "truncated": False,
        "input_bytes": None,
        "input_sha256": None,
        "output_bytes": None,
        "output_sha256": None,
    }
    fields = truncation_fields({"output": {"bytes": 9, "sha256": "ff"}})
    assert fields["truncated"] and (fields["output_bytes"], fields["output_sha256"]) == (9, "ff")
    assert fields["input_sha256"] is None


def _rejected(payload: Payload, full: bool = True, error: str = "bad") -> Pending:
    return Pending(
        1, 0.0, "r", "m", 1, "native", None, None, None, "invalid_input", 1.0, full, None,
        payload, error,
    )  # fmt: skip


def _logged(item: Pending, limit: int = 64 * 1024) -> tuple[Any, ...]:
    def make(*values: Any) -> tuple[Any, ...]:
        return values

    return cast(tuple[Any, ...], row_values(cast(Any, make), item, limit))


def test_a_rejected_input_is_logged_as_the_client_sent_it() -> None:
    shapes: list[tuple[Payload, Any]] = [
        (Rows([[1, 2, 3]]), [[1, 2, 3]]),
        (Records([{"a": "x"}]), [{"a": "x"}]),
        (Columns({"a": [1, 2]}), {"a": [1, 2]}),
        (Split(["a", "b"], [[1, 2]]), {"columns": ["a", "b"], "data": [[1, 2]]}),
        (Tensors({"x": np.array([[1.5, 2.0]])}), {"x": [[1.5, 2.0]]}),
        (
            Tensors({"t": np.array([b"caf\xc3\xa9", b"\xff"], dtype=object)}),
            {"t": ["café", "\ufffd"]},
        ),
    ]
    for payload, shown in shapes:
        values = _logged(_rejected(payload, error="row 0 is wrong"))
        assert json.loads(values[5]) == shown
        assert values[6] is None  # no hash
        assert values[-1] == "row 0 is wrong"
    assert _rejected(Records([{"a": 1}] * 7)).weight == 7


def test_a_rejected_input_is_bounded_and_hashed_as_good_rows_are() -> None:
    values = _logged(_rejected(Rows([["s" * 10_000, 1]])), limit=4096)
    assert json.loads(values[5]) == [["s" * STRING_KEEP + "…[cut: 10000 characters]", 1]]
    assert json.loads(values[11])["input"]["bytes"] > 10_000
    hashed = _logged(_rejected(Rows([[1, 2]]), full=False))
    assert hashed[5] is None and hashed[6] == hashlib.sha256(b"[[1,2]]").hexdigest()
    long_error = _logged(_rejected(Rows([[1]]), error="e" * (ERROR_KEEP + 10)))[-1]
    assert long_error.endswith(f"…[cut: {ERROR_KEEP + 10} characters]")
