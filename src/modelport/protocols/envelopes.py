"""The JSON envelopes of the native/KServe V1 and MLflow protocols -> one payload.

``{"instances": ...}``, ``{"inputs": ...}``, ``{"dataframe_split": ...}`` and
``{"dataframe_records": ...}`` become the payload types of :mod:`modelport.payloads`.
"""

from __future__ import annotations

from typing import Any

import orjson

from modelport.errors import InvalidRequestError, shown
from modelport.payloads import Columns, Payload, Records, Rows, Split

__all__ = ["ENVELOPES", "decode_predict_body", "parse_flag"]

ENVELOPES = ("instances", "inputs", "dataframe_split", "dataframe_records")

#: Every byte that may appear in JSON numbers, arrays of them, and whitespace.
_NUMBER_TEXT = b"0123456789.eE+-,[] \t\n\r"
#: What is left of ``{"instances": <rows of numbers>}`` once those bytes are deleted (the
#: key loses its e's): a body that leaves exactly this holds numbers and lists only.
_BARE_ENVELOPE = {
    key: f'{{"{key}":}}'.encode().translate(None, _NUMBER_TEXT) for key in ("instances", "inputs")
}


def decode_predict_body(  # noqa: C901  its refusals are being reworded; split after
    body: bytes, parameters_key: str = "parameters"
) -> tuple[Payload, dict[str, Any]]:
    """Parse a JSON body holding one envelope into a payload and its parameters.

    ``parameters_key`` names the optional parameters object: ``parameters`` (KServe V1)
    or ``params`` (MLflow).
    """
    if not body.strip():
        raise InvalidRequestError(
            'empty body: send JSON such as {"instances": [[5.1, 3.5, 1.4, 0.2]]}'
        )
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidRequestError(f"body must be a JSON object with one of {list(ENVELOPES)}")
    present = [key for key in ENVELOPES if key in document]
    if len(present) != 1:
        found = f"found {present}" if present else "found none"
        raise InvalidRequestError(f"body must hold exactly one of {list(ENVELOPES)}; {found}")
    unknown = sorted(set(document) - {*ENVELOPES, parameters_key})
    if unknown:
        raise InvalidRequestError(f"unknown key(s) in body: {shown(unknown)}")
    # Absent or null means none; any other non-object ([], 0, "") is a mistake to report.
    parameters = document.get(parameters_key)
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise InvalidRequestError(f"{parameters_key} must be an object")
    key = present[0]
    payload = _payload(key, document[key])
    if isinstance(payload, Rows):
        if body.translate(None, _NUMBER_TEXT) == _BARE_ENVELOPE.get(key):
            # Nothing but the key, numbers and lists: the rows' text is all between the
            # key's colon (the only one) and the closing brace.
            text = body[body.index(b":") + 1 : body.rindex(b"}")].strip()
            payload = Rows(payload.rows, no_booleans=True, numbers_only=True, text=text)
        elif b"true" not in body and b"false" not in body:
            payload = Rows(payload.rows, no_booleans=True)
    return payload, parameters


def _payload(key: str, value: Any) -> Payload:
    if key == "dataframe_split":
        if not isinstance(value, dict) or "columns" not in value or "data" not in value:
            raise InvalidRequestError("dataframe_split must be an object with 'columns' and 'data'")
        return Split(value["columns"], value["data"])
    if key == "dataframe_records":
        return Records(value)
    if key == "inputs" and isinstance(value, dict):
        return Columns(value)
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        return Records(value)
    return Rows(value)


def parse_flag(value: Any, where: str) -> bool:
    """A boolean flag from JSON or a query string (true/false, 1/0, yes/no)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "yes", "false", "0", "no"}:
        return value.lower() in {"true", "1", "yes"}
    raise InvalidRequestError(f"{where} must be true or false, got {shown(value)}")
