"""One buffered prediction as the prediction log stores it, bounded in size.

The input is logged as the client's own row text (numbers only), as the validated rows,
or (``log_inputs = "hash"``) as a hash; the output as its predictions and probabilities.
A request whose input was rejected before it reached the model logs the input as the
client sent it (the decoded payload: rows, records, columns, split or tensors) and the
error message it got, bounded the same way, so that one can see what a client sent.
Each of the two is at most ``log_max_input_bytes`` of JSON: one request used to be able to
add its whole body to the database (a 9 MB string in a rejected request, 27 MB for a
4 MB binary V2 tensor), so a few requests grew it by gigabytes. A bigger part is cut:

1. string values longer than :data:`STRING_KEEP` characters keep their start and a mark
   saying how long they were (a 9 MB string does not hide the rest of the row);
2. if it is still too big, the part is left out (null).

Either way the row's ``truncation`` says so: per part, the size in bytes and the sha256
of the JSON it would have held, so equal inputs can still be recognised.

The common row pays nothing extra: its JSON is encoded exactly once, as before, and only
its length is compared; the client's row text is measured without encoding anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from orjson import dumps

from modelport.cache import input_digest
from modelport.db import store
from modelport.db.prediction_rows import JSON_OPTIONS, encode_json
from modelport.outputs import ModelOutputs
from modelport.payloads import Columns, Payload, Records, Rows, Split, count_rows
from modelport.types import Batch

__all__ = [
    "ERROR_KEEP",
    "STRING_KEEP",
    "TEXT_PER_VALUE",
    "Pending",
    "bound",
    "keeps_text",
    "row_values",
]

#: Most bytes of the client's own row text kept per input value. A float64's shortest JSON
#: is at most 24 characters, with its comma and brackets under 32; longer text is padding
#: (spaces, needless digits) that would let a one-row request hold megabytes of buffer
#: and log, so such rows are encoded from their values instead.
TEXT_PER_VALUE = 32
#: Characters kept of each string value when a part is too big to log whole.
STRING_KEEP = 1024
#: Characters kept of a failed prediction's error message (they quote the client's values,
#: each already shortened, but a message may list many of them).
ERROR_KEEP = 4096
# Column widths (db/models.py): longer values are cut rather than failing a whole batch.
_REQUEST_ID, _PROTOCOL, _STATUS, _ADDRESS = 64, 16, 32, 64


@dataclass(slots=True)
class Pending:
    """One prediction waiting in the log's buffer, as the request path left it.

    Slotted and not frozen: built once per logged prediction, it costs one allocation,
    as the tuple it replaces did (a frozen dataclass sets each field through
    object.__setattr__, which measured twice as slow).
    """

    #: Order in the buffer (the writer takes what it wrote off by it).
    seq: int
    #: time.time() when it was answered.
    at: float
    request_id: str
    model: str
    version: int
    protocol: str
    client: str | None
    #: The validated input (None: the request failed before validation).
    batch: Batch | None
    outputs: ModelOutputs | None
    status: str
    latency_ms: float
    #: Whether the input rows are logged (else only their hash).
    full: bool
    #: The input rows' JSON as the client sent it, when it may stand for ``batch``.
    text: bytes | None
    #: The input as decoded from the request, when it was rejected before it became
    #: ``batch``; else None.
    payload: Payload | None = None
    #: The message the client got, for a failed prediction.
    error: str | None = None

    @property
    def weight(self) -> int:
        """Input rows it holds (at least one)."""
        if self.batch is not None:
            return max(1, len(self.batch))
        return 1 if self.payload is None else max(1, count_rows(self.payload))


def row_values(make: store.RowMaker, item: Pending, limit: int) -> Any:
    """One buffered prediction as the driver's parameters for its row; each of its input
    and output at most ``limit`` bytes of JSON."""
    batch, outputs, text = item.batch, item.outputs, item.text
    truncation: dict[str, Any] | None = None  # made only when a part is cut
    # The input rows, or (log_inputs = "hash") only their hash: one or the other, since
    # hashing every row costs as much as writing it.
    input_json = hashed = None
    if batch is not None and item.full:
        # The client's own JSON of these very values (keeps_text) is written as it is:
        # encoding 1,000 rows of floats again cost about a fifth of such a request.
        value = None if text is not None else _input_rows(batch)
        # orjson called here, not through encode_json: at request rate the two extra
        # calls a row were measurable in the benchmark.
        try:
            raw = text if text is not None else dumps(value, option=JSON_OPTIONS)
        except TypeError:
            raw = encode_json(value)
        if len(raw) <= limit:  # the common case: one comparison
            input_json = raw.decode()
        else:
            input_json, truncation = _cut(raw, value, limit, "input", truncation)
    elif batch is not None:
        hashed = input_digest(batch)
    elif item.payload is not None:  # rejected before validation: what the client sent
        input_json, hashed, truncation = _rejected_input(item.payload, item.full, limit)
    output_json = None
    if outputs is not None:
        output: dict[str, Any] = {"predictions": outputs.predictions}
        if outputs.probabilities is not None:
            output["probabilities"] = outputs.probabilities
        try:
            raw = dumps(output, option=JSON_OPTIONS)
        except TypeError:
            raw = encode_json(output)
        if len(raw) <= limit:
            output_json = raw.decode()
        else:
            output_json, truncation = _cut(raw, output, limit, "output", truncation)
    return make(
        item.request_id[:_REQUEST_ID],
        item.at,
        item.model,
        item.version,
        item.protocol[:_PROTOCOL],
        input_json,
        hashed,
        output_json,
        item.latency_ms,
        item.status[:_STATUS],
        item.client[:_ADDRESS] if item.client else None,
        encode_json(truncation).decode() if truncation else None,
        None if item.error is None else _short(item.error),
    )


def _rejected_input(
    payload: Payload, full: bool, limit: int
) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(input JSON, input hash, truncation) of an input rejected before validation."""
    value = payload_json(payload)
    raw = encode_json(value)
    if not full:
        return None, hashlib.sha256(raw).hexdigest(), None
    if len(raw) <= limit:
        return raw.decode(), None, None
    kept, truncation = _cut(raw, value, limit, "input", None)
    return kept, None, truncation


def _short(message: str) -> str:
    if len(message) <= ERROR_KEEP:
        return message
    return f"{message[:ERROR_KEEP]}…[cut: {len(message)} characters]"


def payload_json(payload: Payload) -> Any:
    """A decoded request input as JSON values, in the shape the client sent it."""
    if isinstance(payload, Rows):
        return payload.rows
    if isinstance(payload, Records):
        return payload.records
    if isinstance(payload, Columns):
        return payload.columns
    if isinstance(payload, Split):
        return {"columns": payload.columns, "data": payload.data}
    return {name: _tensor_json(array) for name, array in payload.tensors.items()}


def _tensor_json(array: Any) -> Any:
    if array.dtype.kind in "biuf":
        return np.ascontiguousarray(array)  # orjson writes it, NaN as null
    return _text_values(array.tolist())


def _text_values(value: Any) -> Any:
    """BYTES tensor values as text (undecodable bytes replaced), for JSON."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return [_text_values(item) for item in value]
    return value


def _cut(
    raw: bytes, value: Any, limit: int, part: str, truncation: dict[str, Any] | None
) -> tuple[str | None, dict[str, Any]]:
    """What :func:`bound` keeps of ``raw`` (over ``limit``) as text, and the row's
    truncation with ``part``'s note added. ``value`` is what ``raw`` encodes (None: the
    client's text, numbers only)."""
    kept, note = bound(raw, value, limit)
    return (None if kept is None else kept.decode()), {**(truncation or {}), part: note}


def bound(raw: bytes, value: Any, limit: int) -> tuple[bytes | None, dict[str, Any]]:
    """What to log of a part whose JSON ``raw`` (of ``value``) is over ``limit`` bytes:
    the JSON with long strings cut, if that fits, else None; and the note for the row."""
    note: dict[str, Any] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    shortened, cut = _cut_strings(value)  # NumPy arrays (numbers) hold none
    if cut:
        kept = encode_json(shortened)
        if len(kept) <= limit:
            note["strings_cut"] = cut
            return kept, note
    return None, note


def _cut_strings(value: Any) -> tuple[Any, int]:
    """``value`` with every string longer than STRING_KEEP cut and marked; how many were."""
    if isinstance(value, str):
        if len(value) <= STRING_KEEP:
            return value, 0
        return f"{value[:STRING_KEEP]}…[cut: {len(value)} characters]", 1
    if isinstance(value, list | tuple):
        cut = 0
        items = []
        for item in value:
            kept, count = _cut_strings(item)
            items.append(kept)
            cut += count
        return (items, cut) if cut else (value, 0)
    if isinstance(value, dict):
        cut = 0
        mapping = {}
        for key, item in value.items():
            mapping[key], count = _cut_strings(item)
            cut += count
        return (mapping, cut) if cut else (value, 0)
    return value, 0


def keeps_text(batch: Batch | None, text: bytes | None) -> bool:
    """Whether the client's row text may stand for ``batch`` in the log: the float64 rows
    decoded from exactly that text (numbers and lists only), and no longer than the
    values need (TEXT_PER_VALUE)."""
    return (
        text is not None
        and isinstance(batch, np.ndarray)
        and batch.dtype == np.float64
        and len(text) <= TEXT_PER_VALUE * batch.size
    )


def _input_rows(batch: Batch) -> Any:
    """The validated input, for JSON: rows of numbers, or records (name -> value)."""
    if isinstance(batch, np.ndarray):
        if batch.dtype.kind in "biuf":  # orjson writes such arrays directly
            return np.ascontiguousarray(batch)
        return batch.tolist()
    # The same records as to_dict(orient="records") for frames built from JSON (numbers and
    # strings; missing values NaN alike) at a twentieth of its time: one row took 0.3 ms,
    # on the event loop, for every logged prediction of a model that takes a DataFrame.
    names = batch.columns.tolist()
    return [dict(zip(names, row, strict=True)) for row in batch.to_numpy().tolist()]
