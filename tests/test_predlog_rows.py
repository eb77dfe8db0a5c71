"""What the prediction log keeps of a part too big to log whole (predlog_rows.bound)."""

from __future__ import annotations

import hashlib

import numpy as np

from modelport.db.prediction_rows import encode_json
from modelport.predlog_reader import truncation_fields
from modelport.predlog_rows import STRING_KEEP, bound


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
