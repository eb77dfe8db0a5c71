"""The Open Inference Protocol's REST infer: body bytes in, answer bytes out, no web
framework.

One function (:func:`infer_answer`) for the routed endpoints (``api/v2.py``, declared for
OpenAPI) and the fast lane (``api/fastlane.py``) that serves the same requests without
FastAPI's routing and middleware stack.

An infer body is JSON, optionally followed by raw tensor bytes: then the header
``Inference-Header-Content-Length`` gives the size of the JSON part, and each binary input
says its size in ``parameters.binary_data_size``. Outputs asked for with
``parameters.binary_data`` (or every output, with the request parameter
``binary_data_output``) come back the same way. Bodies may be compressed
(``Content-Encoding: gzip`` or ``deflate``, as tritonclient sends them).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from modelport.clienttext import bounded_int
from modelport.errors import InvalidRequestError, PayloadTooLargeError, shown
from modelport.inference import InferenceService
from modelport.protocols import v2_dataplane as dataplane
from modelport.protocols.v2_codec import (
    tensor_from_json,
    tensor_from_raw,
    tensor_to_json,
    tensor_to_raw,
)
from modelport.types import NDArray

__all__ = [
    "HEADER_LENGTH",
    "InferAnswer",
    "decode_infer",
    "decompressed",
    "infer_answer",
    "json_object",
    "parameters_of",
]

HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclass(frozen=True, slots=True)
class InferRequest:
    id: str | None
    tensors: dict[str, NDArray]
    #: Requested output names and whether each comes back as binary data.
    outputs: dict[str, bool]
    binary_default: bool


@dataclass(frozen=True, slots=True)
class InferAnswer:
    """An encoded infer answer: ``content`` is the JSON, followed by the binary outputs'
    bytes when ``json_size`` is set (then it goes in ``Inference-Header-Content-Length``
    and the body is ``application/octet-stream``)."""

    content: bytes
    json_size: int | None
    #: The response cache's verdict ("hit", "miss"), None when it was not asked.
    cache: str | None


async def infer_answer(
    inference: InferenceService,
    name: str,
    version: str | None,
    body: bytes,
    header_length: str | None,
    content_encoding: str | None,
    max_body_size: int,
    caller: dataplane.Caller,
) -> InferAnswer:
    """Decode, infer, encode: the whole V2 REST infer."""
    decoded = decode_infer(decompressed(body, content_encoding, max_body_size), header_length)
    outcome = await dataplane.infer(
        inference, name, version, decoded.tensors, list(decoded.outputs) or None, caller
    )
    answer: dict[str, Any] = {
        "model_name": outcome.model_name,
        "model_version": outcome.model_version,
    }
    if decoded.id is not None:
        answer["id"] = decoded.id
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for tensor in outcome.outputs:
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": tensor.shape,
        }
        if decoded.outputs.get(tensor.name, decoded.binary_default):
            raw = tensor_to_raw(tensor.array, tensor.datatype)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = tensor_to_json(tensor.array, tensor.datatype)
        outputs.append(entry)
    answer["outputs"] = outputs
    header = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    if not chunks:
        return InferAnswer(header, None, outcome.cache)
    return InferAnswer(b"".join([header, *chunks]), len(header), outcome.cache)


def decompressed(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip`` / ``deflate``; the decompressed size is held to
    ``limit`` (max_body_size) too."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidRequestError(
            f"Content-Encoding {shown(encoding)} is not supported: use gzip or deflate"
        )
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidRequestError(f"the body is not valid {encoding} data: {exc}") from None
    if len(data) > limit:
        raise PayloadTooLargeError(limit)
    return data


def decode_infer(body: bytes, header_length: str | None) -> InferRequest:
    binary = b""
    if header_length is not None:
        json_size = bounded_int(
            header_length, HEADER_LENGTH, 0, len(body), "the size of the body's JSON part"
        )
        body, binary = body[:json_size], body[json_size:]
    document = json_object(body, header_length is not None)
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidRequestError(
            "the request has no inputs: send "
            '{"inputs": [{"name": ..., "datatype": ..., "shape": [...], "data": [...]}]}'
        )
    tensors: dict[str, NDArray] = {}
    offset = 0
    for index, spec in enumerate(inputs):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise InvalidRequestError(f"inputs[{index}] must be an object with a string 'name'")
        name = spec["name"]
        if name in tensors:
            raise InvalidRequestError(f"input {shown(name)} appears twice")
        size: Any = parameters_of(spec, "input", name).get("binary_data_size")
        if size is None:
            if "data" not in spec:
                raise InvalidRequestError(f"input {shown(name)} has no 'data' (nor binary data)")
            tensors[name] = tensor_from_json(
                name, spec.get("datatype"), spec.get("shape"), spec["data"]
            )
            continue
        if type(size) is not int or size < 0 or offset + size > len(binary):
            raise InvalidRequestError(
                f"input {shown(name)}: binary_data_size {shown(size)} runs past the "
                f"{len(binary)} bytes of binary data after the JSON (check {HEADER_LENGTH})"
            )
        raw = binary[offset : offset + size]
        offset += size
        tensors[name] = tensor_from_raw(name, spec.get("datatype"), spec.get("shape"), raw)
    if offset != len(binary):
        raise InvalidRequestError(
            f"{len(binary) - offset} bytes after the JSON belong to no input: the inputs' "
            f"binary_data_size add up to {offset} (check {HEADER_LENGTH})"
        )
    binary_default = _flag(parameters_of(document, "the request").get("binary_data_output"))
    return InferRequest(
        _request_id(document.get("id")),
        tensors,
        _requested_outputs(document.get("outputs"), binary_default),
        binary_default,
    )


def json_object(body: bytes, has_header: bool) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        hint = f" (check {HEADER_LENGTH})" if has_header else ""
        raise InvalidRequestError(f"the inference request is not valid JSON{hint}: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidRequestError("the inference request must be a JSON object")
    return document


def parameters_of(holder: dict[str, Any], where: str, name: Any = None) -> dict[str, Any]:
    """``holder``'s parameters object; ``where`` (and the ``name`` shown after it) say
    whose they are in the error, built only when there is one."""
    parameters = holder.get("parameters") or {}
    if not isinstance(parameters, dict):
        whose = where if name is None else f"{where} {shown(name)}"
        raise InvalidRequestError(f"{whose}: parameters must be an object")
    return parameters


def _flag(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raise InvalidRequestError(f"binary data flags must be true or false, got {shown(value)}")


def _request_id(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequestError(f"id must be a string, got {shown(value)}")


def _requested_outputs(outputs: Any, binary_default: bool) -> dict[str, bool]:
    if outputs is None:
        return {}
    if not isinstance(outputs, list):
        raise InvalidRequestError('outputs must be a list of {"name": ...} objects')
    wanted: dict[str, bool] = {}
    for index, spec in enumerate(outputs):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise InvalidRequestError(f"outputs[{index}] must be an object with a string 'name'")
        parameters = parameters_of(spec, "output", spec["name"])
        if parameters.get("classification"):
            raise InvalidRequestError(
                "the classification extension is not supported: ask for 'predict_proba'"
            )
        binary = parameters.get("binary_data")
        wanted[spec["name"]] = binary_default if binary is None else _flag(binary)
    if len(wanted) != len(outputs):
        raise InvalidRequestError("an output is asked for twice")
    return wanted
