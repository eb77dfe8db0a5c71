"""JSON as different frameworks write it, so a ported app's clients see the same bytes.

- ``compact``: modelport's own (orjson): ``{"a":1}``.
- ``flask``: Flask's ``jsonify``: compact, keys sorted, ASCII only, a final newline.
- ``flask-restful``: Flask-RESTful's resources: ``json.dumps`` spacing, a final newline.
- ``tornado``: Tornado's ``self.write(dict)``: ``json.dumps`` spacing, ``</`` escaped,
  ``application/json; charset=UTF-8``.
"""

from __future__ import annotations

import json
from typing import Any

from modelport.api.responses import dumps

__all__ = ["encode_json", "json_media_type"]


def encode_json(value: Any, style: str) -> bytes:
    if style == "flask":
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain) + "\n"
    elif style == "flask-restful":
        text = json.dumps(value, default=_plain) + "\n"
    elif style == "tornado":
        text = json.dumps(value, default=_plain).replace("</", "<\\/")
    else:
        return dumps(value)
    return text.encode()


def json_media_type(style: str) -> str:
    return "application/json; charset=UTF-8" if style == "tornado" else "application/json"


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays, as orjson writes them in the compact style."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
