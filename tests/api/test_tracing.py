"""OpenTelemetry traces: one predict is a server span continuing the client's traceparent,
with the prediction's steps under it; without the OTEL variables, nothing is traced."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from modelport.api.app import ModelportApp
from modelport.config import Settings
from modelport.services import build_services
from modelport.tracing import Tracing, configured, tracing_from_env

from .conftest import TEST_ADMIN_TOKEN, AppClient, copy_iris

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture
def traced(trained_models: Path, tmp_path: Path) -> Iterator[tuple[AppClient, Any]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = Settings(
        model_dir=copy_iris(trained_models, tmp_path / "models"),
        data_dir=tmp_path,
        grpc_port=0,
        admin_token=TEST_ADMIN_TOKEN,
        cache=True,
    )
    app = ModelportApp(build_services(settings, Tracing(provider)))
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        deadline = time.monotonic() + 60
        while not app.state.registry.startup_complete and time.monotonic() < deadline:
            time.sleep(0.02)
        client = AppClient(app, portal)
        try:
            yield client, exporter
        finally:
            client.close()


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/v1/models/iris-lr:predict", {"instances": [ROW]}),
        (
            "/v2/models/iris-lr/infer",
            {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 4], "data": ROW}]},
        ),
        ("/v1/models/iris-lr/invocations", {"inputs": [ROW]}),
    ],
    ids=["native", "v2-rest", "mlflow"],
)
def test_a_predict_is_a_span_with_its_steps_under_the_clients_trace(
    traced: tuple[AppClient, Any], url: str, body: dict[str, Any]
) -> None:
    client, exporter = traced
    exporter.clear()
    answer = client.post(url, json=body, headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == TRACE_ID
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {
        "modelport.request",
        "modelport.validate",
        "modelport.cache",
        "modelport.queue",
        "modelport.model_call",
        "modelport.prediction_log",
    }
    request = spans["modelport.request"]
    assert f"{request.context.trace_id:032x}" == TRACE_ID
    assert f"{request.parent.span_id:016x}" == PARENT_SPAN
    assert request.attributes["modelport.model"] == "iris-lr"
    assert request.attributes["modelport.status"] == "200"
    for name, span in spans.items():
        assert span.context.trace_id == request.context.trace_id
        if name != "modelport.request":
            assert span.parent.span_id == request.context.span_id, name
            assert span.attributes["modelport.model"] == "iris-lr"
            assert span.attributes["modelport.version"] == "1"
            assert request.start_time <= span.start_time <= span.end_time <= request.end_time
    queue, call = spans["modelport.queue"], spans["modelport.model_call"]
    assert queue.end_time <= call.start_time + 1_000  # the call starts when the wait ends


def test_a_cached_answer_has_no_model_call(traced: tuple[AppClient, Any]) -> None:
    client, exporter = traced
    body = {"instances": [[6.1, 2.8, 4.7, 1.2]]}
    client.post("/v1/models/iris-lr:predict", json=body)
    exporter.clear()
    answer = client.post("/v1/models/iris-lr:predict", json=body)
    assert answer.headers["x-modelport-cache"] == "hit"
    names = {span.name for span in exporter.get_finished_spans()}
    assert "modelport.cache" in names and "modelport.model_call" not in names


def test_without_the_variables_nothing_is_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not configured()
    assert tracing_from_env() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    tracing = tracing_from_env()
    assert tracing is not None
    tracing.shutdown()


def test_the_duration_histogram_links_to_the_trace(traced: tuple[AppClient, Any]) -> None:
    client, _ = traced
    answer = client.post(
        "/v1/models/iris-lr:predict",
        json={"instances": [[6.3, 3.3, 6.0, 2.5]]},
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"},
    )
    assert answer.status_code == 200
    scraped = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    ).text
    exemplars = [
        line
        for line in scraped.splitlines()
        if line.startswith("modelport_request_duration_seconds_bucket") and " # {" in line
    ]
    assert any(f'trace_id="{TRACE_ID}"' in line for line in exemplars), exemplars[:3]
