"""The JSON envelopes of the native/KServe V1 and MLflow protocols -> one payload.

``{"instances": ...}``, ``{"inputs": ...}``, ``{"dataframe_split": ...}`` and
``{"dataframe_records": ...}`` become the payload types of :mod:`modelport.payloads`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from modelport.errors import InvalidRequestError, shown
from modelport.input_checks import kind_of
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


def decode_predict_body(
    body: bytes, parameters_key: str = "parameters"
) -> tuple[Payload, dict[str, Any]]:
    """Parse a JSON body holding one envelope into a payload and its parameters.

    ``parameters_key`` names the optional parameters object: ``parameters`` (KServe V1)
    or ``params`` (MLflow).
    """
    document = _json_document(body)
    key = _envelope_key(document, parameters_key)
    # Absent or null means none; any other non-object ([], 0, "") is a mistake to report.
    parameters = document.get(parameters_key)
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise InvalidRequestError(f"{parameters_key} must be an object")
    return _lean_rows(_payload(key, document[key]), key, body), parameters


def _json_document(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says how to write one."""
    if not body.strip():
        raise InvalidRequestError(
            'empty body: send JSON such as {"instances": [[5.1, 3.5, 1.4, 0.2]]}'
        )
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(_not_json(body, exc)) from None
    if not isinstance(document, dict):
        raise InvalidRequestError(
            f"body must be a JSON object holding one of {list(ENVELOPES)}; "
            + _wrapping_hint(document)
        )
    return document


def _envelope_key(document: dict[str, Any], parameters_key: str) -> str:
    """The one envelope key the object holds, beside nothing but its parameters."""
    present = [key for key in ENVELOPES if key in document]
    if len(present) != 1:
        found = f"found {present}: keep one" if present else _wrapping_hint(document)
        raise InvalidRequestError(f"body must hold exactly one of {list(ENVELOPES)}; {found}")
    unknown = sorted(set(document) - {*ENVELOPES, parameters_key})
    if unknown:
        raise InvalidRequestError(f"unknown key(s) in body: {shown(unknown)}")
    return present[0]


def _lean_rows(payload: Payload, key: str, body: bytes) -> Payload:
    """Rows that the body's text shows to hold no booleans (or only numbers) say so,
    which lets the input builder take its quickest path."""
    if not isinstance(payload, Rows):
        return payload
    if body.translate(None, _NUMBER_TEXT) == _BARE_ENVELOPE.get(key):
        # Nothing but the key, numbers and lists: the rows' text is all between the
        # key's colon (the only one) and the closing brace.
        text = body[body.index(b":") + 1 : body.rindex(b"}")].strip()
        return Rows(payload.rows, no_booleans=True, numbers_only=True, text=text)
    if b"true" not in body and b"false" not in body:
        return Rows(payload.rows, no_booleans=True)
    return payload


def _payload(key: str, value: Any) -> Payload:
    # A key's value of the wrong kind (not a list, not an object) is a 400, as a body of
    # the wrong kind is; what is wrong inside the rows is a 422 naming the row.
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
    if key in ("instances", "inputs") and not isinstance(value, list | dict):
        raise InvalidRequestError(f"{key} must be a list of rows, got {kind_of(value)}")
    if key == "instances" and isinstance(value, dict):
        raise InvalidRequestError(
            "instances must be a list of rows, got an object: for one row by feature name, "
            f"send {_wrapped('instances', value, one_row=True)}"
        )
    return Rows(value)


# -- the refusals' advice (only ever computed for a body that is refused) ----------------

#: How much of the client's own body an example quotes.
_EXAMPLE_CHARS = 160


def _not_json(body: bytes, exc: orjson.JSONDecodeError) -> str:
    if re.search(rb"(?<![\w\"])(?:NaN|-?Infinity)(?![\w\"])", body):
        return (
            "body is not valid JSON: NaN and Infinity are not JSON values (Python's "
            "json.dumps writes them; JSON has none): send null for a missing value, which "
            "a model takes when its model.yaml says allow_missing: true"
        )
    return f"body is not valid JSON: {exc}"


def _wrapping_hint(document: Any) -> str:
    """Which key the client's body belongs under, shown with their own body wrapped."""
    if isinstance(document, list):
        if document and all(isinstance(row, dict) for row in document):
            return f"a list of records goes under instances: {_wrapped('instances', document)}"
        if document and all(isinstance(row, list) for row in document):
            return f"a list of rows goes under instances: {_wrapped('instances', document)}"
        if document:
            example = _wrapped("instances", document, one_row=True)
            return f"one row of values goes in a list under instances: {example}"
    if isinstance(document, dict) and document:
        if "columns" in document and "data" in document:
            example = _wrapped("dataframe_split", document)
            return f"found none; a pandas split frame goes under dataframe_split: {example}"
        if all(isinstance(column, list) for column in document.values()):
            example = _wrapped("inputs", document)
            return f"found none; columns of values go under inputs: {example}"
        example = _wrapped("instances", document, one_row=True)
        return f"found none; one row by feature name goes in a list under instances: {example}"
    return 'found none; e.g. {"instances": [[5.1, 3.5, 1.4, 0.2]]}'


def _wrapped(key: str, value: Any, *, one_row: bool = False) -> str:
    inner = _abbreviated(value)
    return f'{{"{key}": [{inner}]}}' if one_row else f'{{"{key}": {inner}}}'


def _abbreviated(value: Any) -> str:
    """``value`` as JSON, its lists cut to their first item when it is long."""
    text = _json(value)
    if len(text) <= _EXAMPLE_CHARS:
        return text
    if isinstance(value, list) and value:
        return f"[{_abbreviated(value[0])}, ...]"
    if isinstance(value, dict):
        items = [f"{_json(str(k))}: {_abbreviated(v)}" for k, v in list(value.items())[:8]]
        more = ", ..." if len(value) > 8 else ""
        return "{" + ", ".join(items) + more + "}"
    return text[:_EXAMPLE_CHARS] + "..."


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # a number beyond 64 bits: a refused body may hold anything
        return shown(value)


def parse_flag(value: Any, where: str) -> bool:
    """A boolean flag from JSON or a query string (true/false, 1/0, yes/no)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "yes", "false", "0", "no"}:
        return value.lower() in {"true", "1", "yes"}
    raise InvalidRequestError(f"{where} must be true or false, got {shown(value)}")
