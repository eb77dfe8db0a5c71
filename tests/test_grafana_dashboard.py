"""The Grafana dashboard in deploy/grafana: a dashboard Grafana can import, and every query
asks for series modelport really exports, with labels they really have; and the README
names every metric and log field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from prometheus_client import Counter, Gauge, Histogram

from modelport.accesslog import ACCESS_FIELDS
from modelport.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "modelport-dashboard.json"

_DATASOURCE = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"type": "string"}},
}
#: The parts of Grafana's dashboard model (JSON, schemaVersion 39) that import reads.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "refresh": {"type": "string"},
        "time": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
        },
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "type"],
                        "properties": {
                            "type": {"enum": ["datasource", "query", "custom", "constant"]}
                        },
                    },
                }
            },
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "targets", "datasource"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"enum": ["timeseries", "table", "stat", "gauge", "bargauge"]},
                    "title": {"type": "string", "minLength": 1},
                    "datasource": _DATASOURCE,
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "h": {"type": "integer", "minimum": 1},
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                            "y": {"type": "integer", "minimum": 0},
                        },
                    },
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr"],
                            "properties": {
                                "refId": {"type": "string"},
                                "expr": {"type": "string", "minLength": 1},
                            },
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def exported() -> dict[str, set[str]]:
    """Every series name modelport exports, with the labels it carries."""
    series: dict[str, set[str]] = {}
    for collector in vars(Metrics()).values():
        if not isinstance(collector, Counter | Gauge | Histogram):
            continue
        name, labels = collector._name, set(collector._labelnames)
        if isinstance(collector, Counter):
            series[f"{name}_total"] = labels
        elif isinstance(collector, Histogram):
            series.update(
                {f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels, f"{name}_count": labels}
            )
        else:
            series[name] = labels
    return series


def test_the_dashboard_has_the_shape_grafana_imports(dashboard: dict[str, Any]) -> None:
    jsonschema.validate(dashboard, SCHEMA)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_every_query_asks_for_series_and_labels_modelport_exports(
    dashboard: dict[str, Any],
) -> None:
    series = exported()
    variables = {item["name"] for item in dashboard["templating"]["list"]}
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queries += [
        item["definition"] for item in dashboard["templating"]["list"] if "definition" in item
    ]
    used = set()
    for query in queries:
        for name in re.findall(r"\bmodelport_[a-z_]+", query):
            assert name in series, f"{name} is not a series modelport exports: {query}"
            used.add(name)
            for matchers in re.findall(rf"{name}\{{([^}}]*)\}}", query):
                labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
                assert labels <= series[name], (name, labels - series[name])
        for grouping in re.findall(r"\bby \(([^)]*)\)", query):
            labels = {label.strip() for label in grouping.split(",")}
            assert any(labels <= series[n] for n in re.findall(r"\bmodelport_[a-z_]+", query))
        for variable in re.findall(r"\$(\w+)", query):
            assert variable in variables | {"__rate_interval"}, variable
    # The series an operator needs first are on the dashboard.
    for needed in (
        "modelport_requests_total",
        "modelport_request_duration_seconds_bucket",
        "modelport_queue_duration_seconds_bucket",
        "modelport_model_call_duration_seconds_bucket",
        "modelport_batch_rows_sum",
        "modelport_cache_lookups_total",
        "modelport_prediction_log_rows_total",
        "modelport_model_state",
    ):
        assert needed in used, needed


def test_the_readme_names_every_metric_and_log_field() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for collector in vars(Metrics()).values():
        if isinstance(collector, Counter | Gauge | Histogram):
            name = collector._name
            shown = f"{name}_total" if isinstance(collector, Counter) else name
            assert f"`{shown}`" in readme, shown
    for field in ("time", "level", "logger", "message", *ACCESS_FIELDS):
        assert f"`{field}`" in readme, field
