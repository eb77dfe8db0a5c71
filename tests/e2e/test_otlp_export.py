"""Traces leave a real server over OTLP/HTTP: a local receiver (an HTTP server decoding
the protobuf export requests with OpenTelemetry's own message classes) gets the
request's span and its steps, under the trace the client started."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from services import free_port

from .conftest import StartServer

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


class Receiver(ThreadingHTTPServer):
    """Keeps every span name and trace id it is sent at /v1/traces."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.spans: list[tuple[str, str, dict[str, str]]] = []


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            export = ExportTraceServiceRequest.FromString(body)
            for resource in export.resource_spans:
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        attributes = {a.key: a.value.string_value for a in span.attributes}
                        self.server.spans.append((span.name, span.trace_id.hex(), attributes))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what arrived, not a log."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_predict_arrives_at_the_otlp_receiver_as_one_trace(
    trained_models: Path, start_server: StartServer, receiver: Receiver
) -> None:
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    server = start_server(
        [str(trained_models)],
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_SERVICE_NAME": "modelport-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
    )
    server.wait_ready()
    answer = httpx.post(
        f"{server.url}/v1/models/iris-lr:predict",
        json={"instances": [[5.1, 3.5, 1.4, 0.2]]},
        headers={"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01"},
        timeout=10,
    )
    assert answer.status_code == 200
    deadline = time.monotonic() + 15
    wanted = {"modelport.request", "modelport.validate", "modelport.model_call"}
    while time.monotonic() < deadline:
        names = {name for name, trace, _ in receiver.spans if trace == TRACE_ID}
        if wanted <= names:
            break
        time.sleep(0.1)
    ours = [(name, attributes) for name, trace, attributes in receiver.spans if trace == TRACE_ID]
    assert wanted <= {name for name, _ in ours}, receiver.spans
    call = next(attributes for name, attributes in ours if name == "modelport.model_call")
    assert call["modelport.model"] == "iris-lr"
    assert server.stop() == 0
