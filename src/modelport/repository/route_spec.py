"""Custom routes as declared: a ``routes:`` block in ``model.yaml``, or ``routes.yaml``.

This module only validates the declaration; ``modelport.routes`` imports the handlers
and the API layer serves them. A route binds ``METHOD /path`` to a function in a Python
file beside the declaration (``routes.py:lr_predict``, or just ``lr_predict`` for a
function in ``routes.py``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from modelport.errors import ModelLoadError
from modelport.repository.yaml_file import parse_yaml_mapping

__all__ = [
    "DEFAULT_ROUTES_CODE",
    "ERROR_FIELDS",
    "JSON_STYLES",
    "ROUTES_FILE",
    "JsonStyle",
    "RouteSpec",
    "RoutesFile",
    "read_routes_file",
    "template_fields",
]

#: The server-level routes file, found in MODEL_DIR.
ROUTES_FILE = "routes.yaml"
#: Where a handler named without a file lives.
DEFAULT_ROUTES_CODE = "routes.py"

#: How a route's JSON answers are written, named after the framework that writes them so.
JsonStyle = Literal["compact", "flask", "flask-restful", "tornado"]
JSON_STYLES: tuple[str, ...] = ("compact", "flask", "flask-restful", "tornado")
#: What an error template may name: ``{"status": 1, "error": "{message}"}``.
ERROR_FIELDS = ("status", "code", "message", "url", "path", "method", "request_id")

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# '/', then segments of URL-safe characters or {param} / {param:path}; no '..' segments.
_PATH = re.compile(r"^/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]+|\{[A-Za-z_][A-Za-z0-9_]*(?::path)?\}|/)*$")
_HANDLER = re.compile(r"^(?:(?P<file>[A-Za-z0-9_][A-Za-z0-9_./-]*\.py):)?(?P<func>[A-Za-z_]\w*)$")
_FIELD = re.compile(r"\{(\w+)\}")


def template_fields(template: Any) -> set[str]:
    """Every ``{name}`` an error template uses (in keys' values, nested too)."""
    if isinstance(template, str):
        return set(_FIELD.findall(template))
    if isinstance(template, dict):
        return set().union(*(template_fields(v) for v in template.values()))
    if isinstance(template, list):
        return set().union(*(template_fields(v) for v in template))
    return set()


def _check_template(template: Any) -> Any:
    unknown = sorted(template_fields(template) - set(ERROR_FIELDS))
    if unknown:
        raise ValueError(f"unknown fields {unknown} in the error template; known: {ERROR_FIELDS}")
    return template


class RouteDefaults(BaseModel):
    """What every route of one file shares unless it says otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    json_style: JsonStyle | None = Field(
        default=None, alias="json", description="How JSON answers are written."
    )
    errors: dict[str, Any] | None = Field(
        default=None,
        description='The body of every error answer, e.g. {status: 1, error: "{message}"}.',
    )
    cors: list[str] | bool | None = Field(
        default=None,
        description="Allowed origins for these routes ('*' = any; false = no CORS), "
        "overriding the server's cors_origins.",
    )

    @field_validator("errors")
    @classmethod
    def _errors(cls, value: Any) -> Any:
        return _check_template(value)

    @field_validator("cors", mode="before")
    @classmethod
    def _cors(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RouteSpec(RouteDefaults):
    """One custom route: ``METHOD /path`` -> ``file.py:function``."""

    path: str = Field(description="URL path; {name} segments become path parameters.")
    method: str = Field(default="GET", description="HTTP method: GET POST PUT PATCH DELETE.")
    handler: str = Field(description="'file.py:function' beside the declaration, or 'function'.")
    summary: str | None = Field(default=None, description="One line for the API docs.")
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="JSON Schema the JSON body must satisfy."
    )
    admin: bool = Field(
        default=False,
        description="A management route: callers need the admin token (or a database "
        "token), from no other web site.",
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PATH.match(value) or "//" in value or "/../" in f"{value}/":
            raise ValueError(
                f"'{value}' is not a route path: start with '/', use URL-safe characters "
                "and {name} for path parameters"
            )
        return value

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in _METHODS:
            raise ValueError(f"method '{value}' is not one of {list(_METHODS)}")
        return upper

    @field_validator("handler")
    @classmethod
    def _handler(cls, value: str) -> str:
        match = _HANDLER.match(value)
        if match is None or ".." in value or value.startswith("/"):
            raise ValueError(
                f"handler '{value}' must be 'file.py:function' (a file beside the "
                "declaration) or a function name in routes.py"
            )
        return value

    def code_file(self) -> str:
        return self._handler_parts().group("file") or DEFAULT_ROUTES_CODE

    def function(self) -> str:
        return self._handler_parts().group("func")

    def _handler_parts(self) -> re.Match[str]:
        match = _HANDLER.match(self.handler)
        if match is None:  # validated when the spec was read; only a bug gets here
            raise ValueError(f"handler '{self.handler}' is not 'file.py:function' or a name")
        return match


class RoutesFile(RouteDefaults):
    """``MODEL_DIR/routes.yaml``: server-level routes and the defaults they share."""

    routes: list[RouteSpec] = Field(default_factory=list)


def read_routes_file(path: Path) -> RoutesFile:
    """Parse and validate a routes file; problems are ModelLoadErrors naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path.name}: cannot read: {exc}") from exc
    return parse_yaml_mapping(text, RoutesFile, path.name, "a mapping with a 'routes:' list")
