"""What routes.yaml and model.yaml routes: accept, and the messages for what they do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.errors import ModelLoadError
from modelport.repository import read_model_yaml
from modelport.repository.route_spec import RouteSpec, read_routes_file, template_fields


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_routes_file(tmp_path: Path) -> None:
    declared = read_routes_file(
        write(
            tmp_path / "routes.yaml",
            """
json: tornado
errors: {status: 1, error: "{message}"}
cors: "*"
routes:
  - {path: /description, handler: description}
  - method: post
    path: "/items/{item}/files/{rest:path}"
    handler: "code/items.py:store"
    schema: {type: object}
    admin: true
    json: flask
    cors: false
""",
        )
    )
    first, second = declared.routes
    assert (declared.json_style, declared.cors) == ("tornado", ["*"])
    assert declared.errors == {"status": 1, "error": "{message}"}
    assert (first.method, first.code_file(), first.function()) == (
        "GET",
        "routes.py",
        "description",
    )
    assert (second.method, second.code_file(), second.function()) == (
        "POST",
        "code/items.py",
        "store",
    )
    assert second.schema_ == {"type": "object"}
    assert (second.admin, second.json_style, second.cors) == (True, "flask", False)


def test_routes_in_model_yaml(tmp_path: Path) -> None:
    config = read_model_yaml(
        write(
            tmp_path / "model.yaml",
            "description: x\nroutes:\n  - {method: POST, path: /predict, handler: predict}\n",
        )
    )
    assert [route.path for route in config.routes] == ["/predict"]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("{path: nope, handler: f}", "is not a route path"),
        ("{path: /a b, handler: f}", "is not a route path"),
        ("{path: /a//b, handler: f}", "is not a route path"),
        ("{path: /a/../b, handler: f}", "is not a route path"),
        ("{path: /a, method: TRACE, handler: f}", "method 'TRACE' is not one of"),
        ("{path: /a, handler: ../evil.py:f}", "handler '../evil.py:f' must be"),
        ("{path: /a, handler: 'x.txt:f'}", "must be 'file.py:function'"),
        ("{path: /a, handler: f, json: xml}", "routes.0.json"),
        ("{path: /a, handler: f, errors: {e: '{nope}'}}", "unknown fields ['nope']"),
        ("{path: /a, handler: f, typo: 1}", "routes.0.typo: Extra inputs are not permitted"),
        ("{path: /a}", "routes.0.handler: Field required"),
    ],
)
def test_bad_routes_are_refused_with_the_reason(tmp_path: Path, route: str, message: str) -> None:
    with pytest.raises(ModelLoadError, match=r"routes\.yaml") as caught:
        read_routes_file(write(tmp_path / "routes.yaml", f"routes:\n  - {route}\n"))
    assert message in caught.value.message


def test_a_routes_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="expected a mapping"):
        read_routes_file(write(tmp_path / "routes.yaml", "- a\n"))
    assert read_routes_file(write(tmp_path / "routes.yaml", "")).routes == []


def test_template_fields_are_found_everywhere() -> None:
    template = {"a": "{status}", "b": ["x {message} {url}"], "c": {"d": "{code}"}, "e": 1}
    assert template_fields(template) == {"status", "message", "url", "code"}


def test_handler_defaults_to_routes_py() -> None:
    spec = RouteSpec.model_validate({"path": "/", "handler": "index"})
    assert (spec.code_file(), spec.function(), spec.method) == ("routes.py", "index", "GET")
