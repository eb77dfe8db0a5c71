"""The standard gRPC services beside the V2 one: health checking (``grpc.health.v1``, so
Kubernetes gRPC probes and ``grpc_health_probe`` work) and server reflection (so
``grpcurl`` lists and calls the service without the ``.proto`` file).

Both come from gRPC's own packages (grpcio-health-checking, grpcio-reflection). Their
generated code is tied to a protobuf release; when the installed one does not match, these
two services stay off with a line in the log and the V2 service serves on. What health
answers is in ``grpc_health``; reflection is open, as the published ``.proto`` is.
"""

from __future__ import annotations

import logging
from typing import Any

from modelport.api.proto import grpc_predict_v2_pb2 as pb
from modelport.config import Settings
from modelport.registry import ModelRegistry

__all__ = ["add_standard_services"]

log = logging.getLogger(__name__)

V2_SERVICE = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name


def add_standard_services(server: Any, registry: ModelRegistry, settings: Settings) -> None:
    """Add health and reflection to ``server`` (not started yet); off, with a log line,
    when their packages are missing or do not fit the installed protobuf."""
    try:
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        from grpc_reflection.v1alpha import reflection

        from modelport.api.grpc_health import ModelHealthServicer
    # A mismatched protobuf raises its own kinds of errors at import, not ImportError.
    except Exception as exc:  # noqa: BLE001
        log.warning(
            "gRPC health and reflection are off: %s; pip install --upgrade "
            "grpcio-health-checking grpcio-reflection (the V2 service serves on)",
            exc,
        )
        return
    servicer = ModelHealthServicer(registry, settings)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    names = (
        V2_SERVICE,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    # The V2 messages live in a descriptor pool of their own (see the .proto's header):
    # reflection describes them from it, the standard services from protobuf's default.
    reflection.enable_server_reflection(names, server, pool=_Pools(pb.DESCRIPTOR.pool))


class _Pools:
    """Reflection's pool: the V2 service's own pool first, then protobuf's default one
    (where the health and reflection messages are). Only the lookups reflection makes."""

    def __init__(self, ours: Any) -> None:
        from google.protobuf import descriptor_pool

        self._pools = (ours, descriptor_pool.Default())

    # The method names are protobuf's DescriptorPool API, which reflection calls.
    def _first(self, lookup: str, *args: Any) -> Any:
        missing: Exception = KeyError(args)
        for pool in self._pools:
            try:
                return getattr(pool, lookup)(*args)
            # Each pool says "not mine" as KeyError (or TypeError for a foreign descriptor).
            except (KeyError, TypeError) as exc:
                missing = exc
        raise missing

    def FindFileByName(self, name: str) -> Any:
        return self._first("FindFileByName", name)

    def FindFileContainingSymbol(self, symbol: str) -> Any:
        return self._first("FindFileContainingSymbol", symbol)

    def FindMessageTypeByName(self, name: str) -> Any:
        return self._first("FindMessageTypeByName", name)

    def FindExtensionByNumber(self, message: Any, number: int) -> Any:
        return self._first("FindExtensionByNumber", message, number)

    def FindAllExtensions(self, message: Any) -> Any:
        return self._first("FindAllExtensions", message)
