"""Find the custom routes under MODEL_DIR and import their functions (at start-up).

Routes come from ``MODEL_DIR/routes.yaml`` (first) and from the ``routes:`` block of each
model folder's ``model.yaml``; a handler file is looked up beside its declaration. A
route that cannot be bound (unknown file or function, bad schema, a second route on the
same ``METHOD /path``) is refused with a message and the others are served, as a broken
model never stops the rest. Model folders are read again only at the next start.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from modelport.errors import InvalidRequestError, ModelLoadError, ModelportError
from modelport.repository.model_yaml import MODEL_YAML, parse_model_yaml
from modelport.repository.route_spec import (
    ROUTES_FILE,
    RouteDefaults,
    RouteSpec,
    read_routes_file,
)
from modelport.repository.scan import validate_model_name
from modelport.routes.schema import compile_schema
from modelport.runtimes.code import import_code_file

__all__ = ["BoundRoute", "RouteTable", "load_routes"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BoundRoute:
    """A declared route with its function imported and its options settled."""

    method: str
    path: str
    function: Callable[..., Any]
    #: How many of (request, server) the function takes: 0, 1 or 2.
    arity: int
    is_async: bool
    #: Where it was declared, for messages: 'routes.yaml' or 'iris/model.yaml'.
    source: str
    json_style: str = "compact"
    errors: Any = None
    cors: list[str] | bool | None = None
    admin: bool = False
    summary: str | None = None
    description: str | None = None
    schema: dict[str, Any] | None = None
    validator: Any = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(slots=True)
class RouteTable:
    routes: list[BoundRoute] = field(default_factory=list)
    #: One message per refused route (also logged).
    problems: list[str] = field(default_factory=list)

    def refuse(self, message: str) -> None:
        log.error("custom route refused: %s", message)
        self.problems.append(message)


def load_routes(model_dir: Path) -> RouteTable:
    """Every route declared under ``model_dir``, bound to its function."""
    table = RouteTable()
    modules: dict[Path, ModuleType] = {}
    server_file = model_dir / ROUTES_FILE
    if server_file.is_file():
        try:
            declared = read_routes_file(server_file)
        except ModelLoadError as exc:
            table.refuse(exc.message)
        else:
            for spec in declared.routes:
                _bind(table, spec, declared, model_dir, ROUTES_FILE, modules)
    for folder in sorted(model_dir.iterdir()) if model_dir.is_dir() else ():
        for spec in _model_routes(table, folder):
            _bind(table, spec, RouteDefaults(), folder, f"{folder.name}/{MODEL_YAML}", modules)
    for route in table.routes:
        log.info("custom route %s -> %s", route.label, route.source)
    return table


def _model_routes(table: RouteTable, folder: Path) -> list[RouteSpec]:
    """The routes a model folder's model.yaml declares; a problem is refused on ``table``."""
    config = folder / MODEL_YAML
    if not config.is_file() or not _is_model_name(folder.name):
        return []  # the scan skips (and names) folders that are not models; so do routes
    where = f"{folder.name}/{MODEL_YAML}"
    try:
        text = config.read_text(encoding="utf-8")
        return list(parse_model_yaml(text, where).routes)
    except (OSError, UnicodeDecodeError) as exc:
        table.refuse(f"{where}: cannot read: {exc}")
    except ModelLoadError as exc:
        # The model's own load reports a bad model.yaml; say what it costs here.
        if "routes" in text:
            table.refuse(f"the routes of {exc.message}")
    return []


def _is_model_name(name: str) -> bool:
    try:
        validate_model_name(name)
    except InvalidRequestError:
        return False
    return True


def _bind(
    table: RouteTable,
    spec: RouteSpec,
    defaults: RouteDefaults,
    folder: Path,
    where: str,
    modules: dict[Path, ModuleType],
) -> None:
    label = f"{spec.method} {spec.path} ({where})"
    taken = next((r for r in table.routes if (r.method, r.path) == (spec.method, spec.path)), None)
    if taken is not None:
        table.refuse(f"{label}: already declared in {taken.source}")
        return
    try:
        function = _import_function(folder, spec, modules)
        arity = _arity(function, spec)
        validator = compile_schema(spec.schema_) if spec.schema_ is not None else None
    except ModelportError as exc:
        table.refuse(f"{label}: {exc.message}")
        return
    doc = inspect.getdoc(function)
    table.routes.append(
        BoundRoute(
            method=spec.method,
            path=spec.path,
            function=function,
            arity=arity,
            is_async=inspect.iscoroutinefunction(function),
            source=where,
            json_style=spec.json_style or defaults.json_style or "compact",
            errors=spec.errors if spec.errors is not None else defaults.errors,
            cors=spec.cors if spec.cors is not None else defaults.cors,
            admin=spec.admin,
            summary=spec.summary or (doc.splitlines()[0] if doc else None),
            description=doc,
            schema=spec.schema_,
            validator=validator,
        )
    )


def _import_function(
    folder: Path, spec: RouteSpec, modules: dict[Path, ModuleType]
) -> Callable[..., Any]:
    path = (folder / spec.code_file()).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise ModelLoadError(f"handler file '{spec.code_file()}' is not a file in {folder.name}/")
    module = modules.get(path)
    if module is None:
        module = modules[path] = import_code_file(path)
    function = getattr(module, spec.function(), None)
    if not callable(function):
        raise ModelLoadError(f"{spec.code_file()} defines no function '{spec.function()}'")
    return function  # type: ignore[no-any-return]


def _arity(function: Callable[..., Any], spec: RouteSpec) -> int:
    """0, 1 or 2: the function takes (), (request) or (request, server)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {spec.function()}()'s parameters: {exc}") from exc
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    required_keywords = [p for p in parameters if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if len(positional) > 2 or required_keywords:
        raise ModelLoadError(
            f"{spec.function()}() must take (request) or (request, server); it takes "
            f"({', '.join(p.name for p in parameters)})"
        )
    return len(positional)
