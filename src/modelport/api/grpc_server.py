"""Open Inference Protocol (KServe V2) over gRPC: ``inference.GRPCInferenceService``.

Runs a ``grpc.aio`` server inside the app's event loop (started and stopped by the app's
lifespan), on the same registry and inference service as HTTP. Tensors arrive as typed
``contents`` or as ``raw_input_contents``; the answer uses ``raw_output_contents`` when
the request used raw inputs (as tritonclient does), typed ``contents`` otherwise. Errors
become status codes through api/errors.py: INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE...

With ``--workers N``, or when workers are recycled, every worker process binds the port
with SO_REUSEPORT and the kernel spreads connections over them; with one worker the port
is bound exclusively, so a port already in use is reported instead of silently shared.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from modelport import accesslog
from modelport.access import GRPC_METHODS, Access, authorize_admin, authorize_api
from modelport.accesswriter import AccessWriter
from modelport.api.auth import bearer_token
from modelport.api.errors import grpc_status, public_message
from modelport.api.grpc_standard import add_standard_services
from modelport.api.middleware import ROUTE_KEY_HEADER
from modelport.api.proto import grpc_predict_v2_pb2 as pb
from modelport.api.proto import grpc_predict_v2_pb2_grpc as pb_grpc
from modelport.config import Settings
from modelport.errors import InvalidRequestError, ModelportError, NotFoundError, shown
from modelport.inference import InferenceService
from modelport.management.actions import ModelManager
from modelport.management.audit import Actor
from modelport.protocols import v2_dataplane as dataplane
from modelport.protocols.v2_codec import tensor_from_raw, tensor_from_values, tensor_to_raw
from modelport.registry import ModelRegistry
from modelport.types import NDArray

__all__ = ["InferenceServicer", "start_grpc_server"]

log = logging.getLogger(__name__)

#: The typed ``contents`` field that carries each datatype (FP16 travels only raw).
_CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

_Method = TypeVar("_Method", bound=Callable[..., Awaitable[Any]])
#: Initial metadata of an inference answer: "hit" or "miss" when the model caches.
CACHE_METADATA = "x-modelport-cache"


def _rpc(method: _Method) -> _Method:
    """Turn modelport's errors into gRPC status codes; log anything unexpected; apply the
    access policy's decision for the method (a method without one fails at import)."""
    access = GRPC_METHODS[method.__name__]

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: Any) -> Any:
        metadata = dict(context.invocation_metadata() or ())
        traceparent = metadata.get("traceparent")
        token = accesslog.begin(
            _request_id(context, getattr(request, "id", "")),
            self.inference.tracing,
            "gRPC",
            method.__name__,
            traceparent if isinstance(traceparent, str) else None,
        )
        status = "OK"
        try:
            if access is Access.API:
                authorize_api(self.settings, _token(context))
            # Access.ADMIN: the method asks for its actor first (self._admin).
            return await method(self, request, context)
        except ModelportError as exc:
            message = public_message(exc, f"gRPC {method.__name__}")
            status = grpc_status(exc)
            await context.abort(getattr(grpc.StatusCode, status), message)
        except (Exception, SystemExit, KeyboardInterrupt):
            # SystemExit and KeyboardInterrupt too, as over HTTP: in an RPC they come from a
            # model's code (the server takes its own signals in handlers), and escaping here
            # they stopped the whole server; any other BaseException (a cancellation) goes on.
            status = "INTERNAL"
            log.exception("unhandled error in gRPC %s", method.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error (see the log)")
        finally:
            accesslog.finish(
                token,
                self.access_log,
                "gRPC",
                method.__name__,
                status,
                _peer_host(context.peer()),
            )

    return wrapper  # type: ignore[return-value]


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """The V2 gRPC service over one registry and inference service."""

    def __init__(
        self,
        registry: ModelRegistry,
        inference: InferenceService,
        manager: ModelManager,
        settings: Settings,
        access_log: AccessWriter | None = None,
    ) -> None:
        self.registry = registry
        self.inference = inference
        self.manager = manager
        self.settings = settings
        self.access_log = access_log

    async def _admin(self, context: Any) -> Actor:
        return await authorize_admin(
            self.settings, self.manager.database, _token(context), _peer_host(context.peer())
        )

    @_rpc
    async def ServerLive(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=True)

    @_rpc
    async def ServerReady(self, request: Any, context: Any) -> Any:
        return pb.ServerReadyResponse(ready=self.registry.startup_complete)

    @_rpc
    async def ModelReady(self, request: Any, context: Any) -> Any:
        # A yes/no answer: an unknown model or version is not ready (REST says 404).
        try:
            ready = dataplane.model_ready(self.registry, request.name, request.version)
        except NotFoundError:
            ready = False
        return pb.ModelReadyResponse(ready=ready)

    @_rpc
    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        return pb.ServerMetadataResponse(**dataplane.server_metadata())

    @_rpc
    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        metadata = dataplane.model_metadata(self.registry, request.name, request.version)
        return pb.ModelMetadataResponse(
            name=metadata["name"],
            versions=metadata["versions"],
            platform=metadata["platform"],
            inputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in metadata["inputs"]],
            outputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in metadata["outputs"]],
        )

    @_rpc
    async def ModelInfer(self, request: Any, context: Any) -> Any:
        raw = len(request.raw_input_contents) > 0
        outcome = await dataplane.infer(
            self.inference,
            request.model_name,
            request.model_version,
            _decode_inputs(request),
            [output.name for output in request.outputs] or None,
            dataplane.Caller(
                "v2-grpc",
                accesslog.current_id() or _request_id(context, request.id),
                _peer_host(context.peer()),
                _metadata(context, ROUTE_KEY_HEADER),
            ),
        )
        if outcome.cache is not None:
            await context.send_initial_metadata(((CACHE_METADATA, outcome.cache),))
        response = pb.ModelInferResponse(
            model_name=outcome.model_name, model_version=outcome.model_version, id=request.id
        )
        for tensor in outcome.outputs:
            output = response.outputs.add(
                name=tensor.name, datatype=tensor.datatype, shape=tensor.shape
            )
            if raw:
                response.raw_output_contents.append(tensor_to_raw(tensor.array, tensor.datatype))
            else:
                _fill_contents(output.contents, tensor.array, tensor.datatype)
        return response

    @_rpc
    async def RepositoryIndex(self, request: Any, context: Any) -> Any:
        entries = await dataplane.repository_index(self.registry, request.ready)
        models = [pb.RepositoryIndexResponse.ModelIndex(**entry) for entry in entries]
        return pb.RepositoryIndexResponse(models=models)

    @_rpc
    async def RepositoryModelLoad(self, request: Any, context: Any) -> Any:
        actor = await self._admin(context)  # before looking at anything the client sent
        dataplane.check_load_parameters(dict(request.parameters))
        await self.manager.load(request.model_name, actor)
        return pb.RepositoryModelLoadResponse()

    @_rpc
    async def RepositoryModelUnload(self, request: Any, context: Any) -> Any:
        await self.manager.unload(request.model_name, await self._admin(context))
        return pb.RepositoryModelUnloadResponse()


def _decode_inputs(request: Any) -> dict[str, NDArray]:
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidRequestError(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs"
        )
    tensors: dict[str, NDArray] = {}
    for index, spec in enumerate(request.inputs):
        if spec.name in tensors:
            raise InvalidRequestError(f"input {shown(spec.name)} appears twice")
        shape = list(spec.shape)
        if raw:
            tensors[spec.name] = tensor_from_raw(spec.name, spec.datatype, shape, raw[index])
            continue
        field = _CONTENTS_FIELD.get(spec.datatype)
        if field is None and spec.datatype == "FP16":
            raise InvalidRequestError(
                f"input {shown(spec.name)}: FP16 data travel only in raw_input_contents"
            )
        values = getattr(spec.contents, field) if field else []
        tensors[spec.name] = tensor_from_values(spec.name, spec.datatype, shape, values)
    return tensors


def _fill_contents(contents: Any, array: NDArray, datatype: str) -> None:
    flat = array.reshape(-1)
    if datatype == "BYTES":
        contents.bytes_contents.extend(str(value).encode() for value in flat.tolist())
    else:
        getattr(contents, _CONTENTS_FIELD[datatype]).extend(flat.tolist())


def _token(context: Any) -> str | None:
    metadata = dict(context.invocation_metadata() or ())
    value = metadata.get("authorization")
    return bearer_token(value if isinstance(value, str) else None)


def _request_id(context: Any, given: str) -> str:
    """The client's x-request-id metadata, else the request's own id, else a new one."""
    metadata = dict(context.invocation_metadata() or ())
    value = metadata.get("x-request-id")
    if isinstance(value, str) and 0 < len(value) <= 128:
        return value
    return given or uuid.uuid4().hex


def _metadata(context: Any, key: str) -> str | None:
    """One text value of the call's metadata (None when absent)."""
    value = dict(context.invocation_metadata() or ()).get(key)
    return value if isinstance(value, str) else None


def _peer_host(peer: str | None) -> str | None:
    """The client's IP address from gRPC's peer string (``ipv4:127.0.0.1:5000``)."""
    kind, _, rest = (peer or "").partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host = rest.rsplit(":", 1)[0]
    return host.strip("[]")


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def start_grpc_server(
    settings: Settings,
    registry: ModelRegistry,
    inference: InferenceService,
    manager: ModelManager,
    access_log: AccessWriter | None = None,
) -> Any | None:
    """Start serving on ``settings.grpc_port``; None (logged) when the port cannot be bound."""
    options = [
        ("grpc.so_reuseport", 1 if settings.shares_port else 0),
        ("grpc.max_receive_message_length", settings.max_body_size),
    ]
    server = grpc.aio.server(options=options)
    servicer = InferenceServicer(registry, inference, manager, settings, access_log)
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    add_standard_services(server, registry, settings)
    address = _address(settings.host, settings.grpc_port)
    try:
        server.add_insecure_port(address)
    except RuntimeError as exc:
        log.error(
            "gRPC is off: cannot listen on %s (%s); choose a free port with --grpc-port "
            "(env MODELPORT_GRPC_PORT), or 0 to turn gRPC off. HTTP keeps serving.",
            address,
            exc,
        )
        return None
    await server.start()
    log.info("Open Inference Protocol gRPC on %s", address)
    return server
