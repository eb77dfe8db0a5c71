"""Recognise a model file by its first bytes, for the formats whose ending says nothing.

LightGBM's ``booster.save_model("x.txt")`` writes a text file whose first line is
``tree``; XGBoost's ``save_model("x.json")`` writes a JSON object whose first key is
``learner``. Only the start of the file is read.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["sniff_runtime"]

#: Enough for XGBoost's ``{"learner":`` after any leading whitespace.
_HEAD = 512


def sniff_runtime(path: Path) -> str | None:
    """The runtime kind whose native format ``path`` holds ("lightgbm", "xgboost"), or None."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD)
    except OSError:
        return None
    if head.startswith(b"tree\n") or head.startswith(b"tree\r\n"):
        return "lightgbm"
    text = head.lstrip()
    if text.startswith(b"{") and b'"learner"' in text[:64]:
        return "xgboost"
    return None
