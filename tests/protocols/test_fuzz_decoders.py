"""Property tests of every payload decoder: whatever bytes or message a client sends, the
decoder and the input builder behind it (``inputs.to_batch``) either give a batch or
refuse with a client error (4xx) whose message stays short; never another exception,
which the server would answer with a 500.

Decoders: the native/KServe V1 and MLflow JSON envelopes, MLflow's CSV, the Open
Inference Protocol's REST JSON with its binary tensor extension (and gzip/deflate), its
gRPC ModelInferRequest, and what a custom route hands to ``server.predict``."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import Budget, budget
from modelport.api.grpc_server import _decode_inputs
from modelport.api.mlflow import _csv_payload
from modelport.api.proto import grpc_predict_v2_pb2 as pb
from modelport.errors import InvalidRequestError, PayloadTooLargeError
from modelport.inputs import to_batch
from modelport.payloads import Payload, Tensors, count_rows
from modelport.protocols.envelopes import ENVELOPES, decode_predict_body
from modelport.protocols.v2_codec import DATATYPES
from modelport.protocols.v2_rest import HEADER_LENGTH, decode_infer, decompressed
from modelport.routes.handle import to_payload
from modelport.signature import Feature, Signature

__all__ = ["budget"]  # the fixture, imported for pytest to find

#: Client errors: 400/422 and 413. Anything else escaping a decoder is a server bug.
CLIENT_ERRORS = (InvalidRequestError, PayloadTooLargeError)
#: The longest refusal a decoder may write: it quotes the client's values clipped.
MAX_MESSAGE = 2000
NAMES = ("a", "b", "c", "d")

SIGNATURES = [
    # iris-like: four named floats
    Signature(tuple(Feature(n) for n in NAMES), 4),
    # a model that knows only its width
    Signature(None, 3),
    # nothing known: any width goes to the model
    Signature(None, None),
    # mixed types, missing values and numbers in strings allowed (loan-rf-like)
    Signature(
        (Feature("a"), Feature("b", "int"), Feature("c", "bool"), Feature("d", "str")),
        4,
        allow_missing=True,
        coerce=True,
    ),
]

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(["5.1", "nan", "inf", "1e999", "", " 2 ", "true"])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.sampled_from([*NAMES, "e", "columns", "data"]), inner, max_size=5)
    ),
    max_leaves=25,
)
_row = st.lists(_scalars, min_size=0, max_size=5)
_record = st.dictionaries(st.sampled_from([*NAMES, "e"]), _scalars, max_size=5)
#: Near-valid envelope contents (rows, records, columns, split), and anything at all.
_contents = st.one_of(
    st.lists(_row, max_size=4),
    st.lists(_record, max_size=4),
    st.dictionaries(st.sampled_from([*NAMES, "e"]), st.lists(_scalars, max_size=4), max_size=5),
    st.fixed_dictionaries(
        {"columns": st.lists(st.sampled_from([*NAMES, "e", 1]), max_size=5), "data": _json}
    ),
    _json,
)


@st.composite
def _envelope_bodies(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=64))
    document: dict[str, Any] = {draw(st.sampled_from(ENVELOPES)): draw(_contents)}
    if draw(st.booleans()):
        document[draw(st.sampled_from(["parameters", "params", "x"]))] = draw(_json)
    try:
        return orjson.dumps(document)
    except TypeError:  # an integer beyond 64 bits: write it as JSON text ourselves
        return repr(document).replace("'", '"').encode()


def _accepts_or_refuses(decode: Any, *args: Any) -> Any:
    """What ``decode(*args)`` returns, or None when it refused with a client error."""
    try:
        return decode(*args)
    except CLIENT_ERRORS as exc:
        assert len(str(exc)) <= MAX_MESSAGE, str(exc)[:300]
        return None


def _check_payload(payload: Payload | None) -> None:
    """What the server does with a decoded payload before the model: count its rows (for
    the log), then build a batch against each kind of signature."""
    if payload is None:
        return
    assert count_rows(payload) >= 0
    for signature in SIGNATURES:
        _accepts_or_refuses(to_batch, payload, signature)


def test_native_and_mlflow_json(budget: Budget) -> None:
    @budget.settings(150)
    @given(body=_envelope_bodies(), key=st.sampled_from(["parameters", "params"]))
    def check(body: bytes, key: str) -> None:
        decoded = _accepts_or_refuses(decode_predict_body, body, key)
        _check_payload(None if decoded is None else decoded[0])

    check()


def test_custom_route_inputs(budget: Budget) -> None:
    """What a custom route passes to ``server.predict``: one row, or a list of rows."""

    @budget.settings(100)
    @given(inputs=_contents)
    def check(inputs: Any) -> None:
        _check_payload(_accepts_or_refuses(to_payload, inputs))

    check()


def test_mlflow_csv(budget: Budget) -> None:
    cell = st.one_of(
        st.sampled_from(
            ["", "1", "-2.5", "1e999", "nan", "x", '"q,"', "\uff19", "a\rb", "0x10", "1_000"]
        ),
        st.text(max_size=5),
    )
    table = st.lists(st.lists(cell, max_size=5), max_size=5).map(
        lambda rows: "\n".join(",".join(row) for row in rows).encode()
    )

    @budget.settings(100)
    @given(body=table | st.binary(max_size=64))
    def check(body: bytes) -> None:
        _check_payload(_accepts_or_refuses(_csv_payload, body))

    check()


_datatypes = st.sampled_from([*DATATYPES, "FP8", "", "int32"])
_shapes = st.lists(st.integers(-2, 6) | st.sampled_from([2**63 - 1, 2**40]), max_size=3)


@st.composite
def _v2_input(draw: st.DrawFn) -> tuple[dict[str, Any], bytes]:
    """One V2 REST input: its JSON spec, and its binary bytes when it has them."""
    spec: dict[str, Any] = {
        "name": draw(st.sampled_from([*NAMES, "input-0"])),
        "datatype": draw(_datatypes | _json),
        "shape": draw(_shapes | _json),
    }
    if draw(st.booleans()):
        raw = draw(st.binary(max_size=48))
        if spec["datatype"] == "BYTES" and draw(st.booleans()):
            items = draw(st.lists(st.binary(max_size=6), max_size=6))
            raw = b"".join(struct.pack("<I", len(item)) + item for item in items)
        spec["parameters"] = {"binary_data_size": draw(st.just(len(raw)) | _json)}
        return spec, raw
    spec["data"] = draw(st.lists(_scalars, max_size=8) | st.lists(_row, max_size=4) | _json)
    return spec, b""


@st.composite
def _v2_bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    inputs = draw(st.lists(_v2_input(), min_size=1, max_size=3))
    document: dict[str, Any] = {"inputs": [spec for spec, _ in inputs]}
    if draw(st.booleans()):
        document["outputs"] = draw(
            st.lists(st.fixed_dictionaries({"name": st.text(max_size=3)}), max_size=2) | _json
        )
    if draw(st.booleans()):
        document["parameters"] = draw(
            st.fixed_dictionaries({"binary_data_output": _scalars}) | _json
        )
    if draw(st.booleans()):
        document["id"] = draw(_scalars)
    try:
        header = orjson.dumps(document)
    except TypeError:
        header = b"{}"
    binary = b"".join(raw for _, raw in inputs)
    if not binary and draw(st.booleans()):
        return header, None
    length = draw(st.just(str(len(header))) | st.sampled_from(["-1", "x", "", "99999", "0"]))
    return header + binary, length


def test_v2_rest_json_and_binary_extension(budget: Budget) -> None:
    @budget.settings(150)
    @given(body=_v2_bodies(), encoding=st.sampled_from([None, "gzip", "deflate", "br"]))
    def check(body: tuple[bytes, str | None], encoding: str | None) -> None:
        data, length = body
        if encoding == "gzip":
            data = zlib.compress(data, wbits=31)
        elif encoding == "deflate":
            data = zlib.compress(data)
        plain = _accepts_or_refuses(decompressed, data, encoding, 1 << 20)
        if plain is None:
            return
        request = _accepts_or_refuses(decode_infer, plain, length)
        _check_payload(None if request is None else Tensors(request.tensors))

    check()


_CONTENTS = {
    "bool_contents": st.lists(st.booleans(), max_size=8),
    "int_contents": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=8),
    "int64_contents": st.lists(st.integers(-(2**63), 2**63 - 1), max_size=8),
    "uint_contents": st.lists(st.integers(0, 2**32 - 1), max_size=8),
    "uint64_contents": st.lists(st.integers(0, 2**64 - 1), max_size=8),
    "fp32_contents": st.lists(st.floats(width=32), max_size=8),
    "fp64_contents": st.lists(st.floats(), max_size=8),
    "bytes_contents": st.lists(st.binary(max_size=6), max_size=8),
}


@st.composite
def grpc_infer_requests(draw: st.DrawFn) -> pb.ModelInferRequest:
    """ModelInferRequest messages for iris-lr (or a model not served), any tensors."""
    request = pb.ModelInferRequest(model_name=draw(st.sampled_from(["iris-lr", "nope", ""])))
    for _ in range(draw(st.integers(1, 3))):
        tensor = request.inputs.add()
        tensor.name = draw(st.sampled_from([*NAMES, "input-0"]))
        tensor.datatype = draw(_datatypes)
        tensor.shape.extend(draw(st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(-1, 6))))
        for field in draw(st.sets(st.sampled_from(sorted(_CONTENTS)), max_size=2)):
            getattr(tensor.contents, field).extend(draw(_CONTENTS[field]))
    if draw(st.booleans()):
        count = draw(st.sampled_from([len(request.inputs), 1]))
        request.raw_input_contents.extend(draw(st.binary(max_size=48)) for _ in range(count))
    return request


def test_grpc_model_infer_request(budget: Budget) -> None:
    @budget.settings(150)
    @given(request=grpc_infer_requests())
    def check(request: pb.ModelInferRequest) -> None:
        tensors = _accepts_or_refuses(_decode_inputs, request)
        _check_payload(None if tensors is None else Tensors(tensors))

    check()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_bomb_is_refused_at_the_size_limit(encoding: str) -> None:
    bomb = zlib.compress(b"0" * (64 << 20), wbits=31 if encoding == "gzip" else 15)
    with pytest.raises(PayloadTooLargeError):
        decompressed(bomb, encoding, 1 << 20)


def test_the_header_length_names_the_header() -> None:
    with pytest.raises(InvalidRequestError, match=HEADER_LENGTH):
        decode_infer(b'{"inputs": []}', "-1")


#: What decoding may take beyond the body: Python objects for its values (a float in a
#: list costs ~32 bytes against its ~4 bytes of text), NumPy copies, and small overheads.
MEMORY_PER_BODY_BYTE = 64
MEMORY_FLOOR = 512 * 1024


def test_decoding_takes_memory_in_proportion_to_the_body(budget: Budget) -> None:
    """No size in a body (a shape, a length prefix, a binary size) makes the server
    allocate more than the body itself accounts for."""

    @budget.settings(40)
    @given(body=_v2_bodies(), native=_envelope_bodies())
    def check(body: tuple[bytes, str | None], native: bytes) -> None:
        data, length = body
        _within_memory(len(data), _check_v2, data, length)
        _within_memory(len(native), _check_native, native)

    check()


def _within_memory(size: int, decode: Callable[..., None], *args: Any) -> None:
    tracemalloc.start()
    try:
        decode(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= MEMORY_FLOOR + MEMORY_PER_BODY_BYTE * size, (peak, size)


def _check_v2(data: bytes, length: str | None) -> None:
    request = _accepts_or_refuses(decode_infer, data, length)
    _check_payload(None if request is None else Tensors(request.tensors))


def _check_native(body: bytes) -> None:
    decoded = _accepts_or_refuses(decode_predict_body, body, "parameters")
    _check_payload(None if decoded is None else decoded[0])
