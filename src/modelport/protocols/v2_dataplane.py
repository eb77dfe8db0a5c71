"""What the Open Inference Protocol does, shared by its REST and gRPC transports.

Inference hands the decoded tensors to :meth:`InferenceService.predict` as a
:class:`~modelport.payloads.Tensors` payload and turns the result into output tensors
``predict`` (labels) and ``predict_proba`` (``FP64 [rows, classes]``). Metadata, readiness
and the model repository extension read the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport import __version__
from modelport.contracts import (
    V2ModelMetadata,
    V2RepositoryEntry,
    V2ServerMetadata,
    V2TensorMetadata,
)
from modelport.errors import InvalidRequestError, ModelNotReadyError, shown
from modelport.inference import InferenceService, PredictRequest
from modelport.payloads import Tensors
from modelport.protocols.v2_codec import array_datatype, predictions_array
from modelport.registry import ModelRegistry
from modelport.signature import Signature
from modelport.types import NDArray

__all__ = [
    "EXTENSIONS",
    "OUTPUTS",
    "Caller",
    "InferOutcome",
    "OutputTensor",
    "check_load_parameters",
    "infer",
    "model_metadata",
    "model_ready",
    "repository_index",
    "server_metadata",
]

#: Protocol extensions served, by the names Triton's clients know.
EXTENSIONS = ("binary_tensor_data", "model_repository")
#: The output tensors a model can give, by name.
OUTPUTS = ("predict", "predict_proba")
_FEATURE_DATATYPES = {"float": "FP64", "int": "INT64", "bool": "BOOL", "str": "BYTES"}


@dataclass(frozen=True, slots=True)
class OutputTensor:
    name: str
    datatype: str
    shape: list[int]
    array: NDArray


@dataclass(frozen=True, slots=True)
class InferOutcome:
    model_name: str
    model_version: str
    outputs: list[OutputTensor]
    #: "hit" or "miss" when the model's response cache is on, else None.
    cache: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent an inference request, for the prediction log."""

    protocol: str
    request_id: str | None = None
    client: str | None = None
    #: Keeps the caller on one side of a traffic split (the route-key header or metadata).
    route_key: str | None = None


def server_metadata() -> V2ServerMetadata:
    return {"name": "modelport", "version": __version__, "extensions": list(EXTENSIONS)}


def _version(version: str | None) -> str | None:
    # V2 sends "" for "the server's choice".
    return version or None


def model_ready(registry: ModelRegistry, name: str, version: str | None) -> bool:
    """Whether the model (version) answers; unknown names raise NotFoundError (404)."""
    try:
        registry.resolve(name, _version(version))
    except ModelNotReadyError:  # failed, or the server is still loading models
        return False
    return True


def model_metadata(registry: ModelRegistry, name: str, version: str | None) -> V2ModelMetadata:
    """Name, ready versions, platform (the runtime) and input/output tensors."""
    served = registry.resolve(name, _version(version))
    if served.signature is None or served.runtime is None:  # resolve() gives ready ones
        raise ModelNotReadyError(f"model {shown(name)} is not ready")
    model = registry.get(name)
    return {
        "name": name,
        "versions": [str(v) for v in sorted(model.versions) if model.versions[v].ready],
        "platform": served.runtime.kind,
        "inputs": _input_metadata(served.signature),
        "outputs": _output_metadata(served.signature),
    }


def _input_metadata(signature: Signature) -> list[V2TensorMetadata]:
    # Named features are listed one tensor each; one 2-D tensor [rows, features] of any
    # name is accepted too.
    if signature.features is not None:
        return [
            {"name": f.name, "datatype": _FEATURE_DATATYPES[f.type], "shape": [-1]}
            for f in signature.features
        ]
    return [{"name": "input-0", "datatype": "FP64", "shape": [-1, signature.n_features or -1]}]


def _output_metadata(signature: Signature) -> list[V2TensorMetadata]:
    if signature.classes is None:
        return [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    labels = np.asarray([signature.label_of(c) for c in signature.classes])
    outputs: list[V2TensorMetadata] = [
        {"name": "predict", "datatype": array_datatype(labels), "shape": [-1]}
    ]
    if signature.has_proba:
        shape = [-1, len(signature.classes)]
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": shape})
    return outputs


async def infer(
    service: InferenceService,
    name: str,
    version: str | None,
    tensors: dict[str, NDArray],
    outputs: list[str] | None,
    caller: Caller | None = None,
) -> InferOutcome:
    """Run one inference request through the one core entry point."""
    wanted = outputs or ["predict"]
    unknown = [o for o in wanted if o not in OUTPUTS]
    if unknown:
        raise InvalidRequestError(f"unknown output(s) {unknown}; this server gives {list(OUTPUTS)}")
    if len(set(wanted)) != len(wanted):
        raise InvalidRequestError(f"an output is asked for twice: {wanted}")
    # Whether the version has predict_proba is checked by the core, on the version that
    # answers (under a traffic split, resolving here could pick the other one).
    proba = "predict_proba" in wanted
    who = caller or Caller("v2")
    result = await service.predict(
        PredictRequest(
            name,
            Tensors(tensors),
            _version(version),
            proba,
            who.protocol,
            who.request_id,
            who.client,
            who.route_key,
        )
    )
    tensors_out: list[OutputTensor] = []
    for output in wanted:
        if output == "predict":
            array = predictions_array(result.outputs.predictions)
            datatype = array_datatype(array)
        else:
            rows = result.outputs.probabilities or []
            array = np.array([list(row.values()) for row in rows], dtype=np.float64)
            datatype = "FP64"
        tensors_out.append(OutputTensor(output, datatype, list(array.shape), array))
    return InferOutcome(result.model_name, str(result.model_version), tensors_out, result.cache)


async def repository_index(registry: ModelRegistry, ready_only: bool) -> list[V2RepositoryEntry]:
    """Every model in the repository: one entry per version, and the unloaded ones."""
    entries: list[V2RepositoryEntry] = []
    for model in registry.models():
        if not model.versions:
            entries.append(
                {
                    "name": model.name,
                    "state": "UNAVAILABLE",
                    "reason": model.failure_reason(public=True),
                }
            )
        for number in sorted(model.versions):
            version = model.versions[number]
            entry: V2RepositoryEntry = {
                "name": model.name,
                "version": str(number),
                "state": "READY" if version.ready else "UNAVAILABLE",
            }
            if version.public_error:
                entry["reason"] = version.public_error
            entries.append(entry)
    served = {model.name for model in registry.models()}
    reason = "unloaded" if registry.startup_complete else "loading"
    for name in await registry.names_on_disk():
        if name not in served:
            entries.append({"name": name, "state": "UNAVAILABLE", "reason": reason})
    entries.sort(key=lambda e: (e["name"], int(e.get("version") or 0)))
    return [e for e in entries if e["state"] == "READY"] if ready_only else entries


_REFUSED_LOAD_PARAMETERS = "modelport loads models only from its model folder"


def check_load_parameters(parameters: dict[str, Any]) -> None:
    """Refuse Triton's config and file overrides: no model comes from a request."""
    refused = sorted(k for k in parameters if k == "config" or k.startswith("file:"))
    if refused:
        raise InvalidRequestError(
            f"{_REFUSED_LOAD_PARAMETERS}; the load parameters {refused} are not supported"
        )
