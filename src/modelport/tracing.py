"""OpenTelemetry traces of requests, only when they are asked for.

With the ``otel`` extra installed and the standard variables set
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; the SDK reads
the rest: ``OTEL_SERVICE_NAME``, headers, sampling), every request is a trace: a server
span for the request, continuing the client's ``traceparent``, and under it the
prediction's steps (validation, cache lookup, queue wait, model call, prediction log),
each with the model and version. Without those variables nothing of OpenTelemetry is
imported and the request path pays one ``None`` check.

Spans of the steps are made once the prediction is answered, with the times measured
along the way: the model call runs in a thread and may serve a whole batch, so its span
is the call's, repeated under each request it answered.
"""

from __future__ import annotations

import os
import time
from typing import Any

from modelport.errors import MissingDependencyError

__all__ = ["StepTimes", "Tracing", "configured", "tracing_from_env"]

#: Any of these set (and not empty) turns tracing on.
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configured() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def tracing_from_env() -> Tracing | None:
    """Tracing exported over OTLP/HTTP as the environment says, or None when not asked."""
    if not configured():
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise MissingDependencyError(
            "opentelemetry-sdk", "otel", "tracing (OTEL_EXPORTER_OTLP_ENDPOINT is set)"
        ) from None
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "modelport")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider)


class Tracing:
    """Makes modelport's spans with one tracer provider (the SDK's, or a test's)."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer = provider.get_tracer("modelport")
        self._trace = trace
        self._propagator = TraceContextTextMapPropagator()

    def start_request(self, name: str, traceparent: str | None, attributes: dict[str, Any]) -> Any:
        """The server span of one request, a child of the client's span when it sent a
        ``traceparent``."""
        parent = None
        if traceparent:
            parent = self._propagator.extract({"traceparent": traceparent})
        return self.tracer.start_span(
            name,
            context=parent,
            kind=self._trace.SpanKind.SERVER,
            attributes=attributes,
        )

    def step(
        self, parent: Any, name: str, start_ns: int, end_ns: int, attributes: dict[str, Any]
    ) -> None:
        """One finished step of the request under ``parent``, with its own times."""
        context = self._trace.set_span_in_context(parent)
        span = self.tracer.start_span(
            name, context=context, start_time=start_ns, attributes=attributes
        )
        span.end(end_time=end_ns)

    def trace_id(self, span: Any) -> str:
        return f"{span.get_span_context().trace_id:032x}"

    def shutdown(self) -> None:
        self.provider.shutdown()


def to_epoch_ns(monotonic_s: float) -> int:
    """A ``time.monotonic()`` reading as epoch nanoseconds (what spans take)."""
    return time.time_ns() - int((time.monotonic() - monotonic_s) * 1e9)


class StepTimes:
    """When one prediction's steps began and ended (``time.monotonic()``), kept only while
    tracing is on; the model call's come from the inference thread."""

    __slots__ = (
        "cache_end",
        "call_end",
        "call_s",
        "log_end",
        "log_start",
        "queued_s",
        "started",
        "validated",
    )

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.validated = self.cache_end = self.call_end = 0.0
        self.log_start = self.log_end = 0.0
        self.queued_s = self.call_s = 0.0

    def mark(self, step: str) -> None:
        """``step`` ("validated", "cache_end", "log_start", "log_end") happened now."""
        now = time.monotonic()
        if step == "validated":
            self.validated = now
        elif step == "cache_end":
            self.cache_end = now
        elif step == "log_start":
            self.log_start = now
        else:
            self.log_end = now

    def called(self, queued_s: float, call_s: float) -> None:
        """The model call that answered this request ended now, after ``call_s`` seconds,
        having waited ``queued_s`` to start (called from the inference thread)."""
        self.call_end = time.monotonic()
        self.queued_s, self.call_s = queued_s, call_s

    def emit(self, tracing: Tracing, parent: Any, model: str, version: int) -> None:
        """The steps as spans under the request's span."""
        attributes = {"modelport.model": model, "modelport.version": str(version)}
        steps = []
        if self.validated:
            steps.append(("modelport.validate", self.started, self.validated))
        if self.cache_end:
            steps.append(("modelport.cache", self.validated, self.cache_end))
        if self.call_end:
            call_start = self.call_end - self.call_s
            steps.append(("modelport.queue", call_start - self.queued_s, call_start))
            steps.append(("modelport.model_call", call_start, self.call_end))
        if self.log_end:
            steps.append(("modelport.prediction_log", self.log_start, self.log_end))
        for name, start, end in steps:
            tracing.step(parent, name, to_epoch_ns(start), to_epoch_ns(end), attributes)
