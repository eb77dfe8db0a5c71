"""Serving custom routes: decode the HTTP request, call the route, encode its answer.

Each route of the table (``modelport.routes``) becomes one FastAPI route, so it is listed
in OpenAPI under "custom routes" with its path parameters and JSON Schema. A route whose
``METHOD /path`` a built-in endpoint answers (or could answer later: ``/v1/models/...``,
``/v1/admin/...``, ``/v2/...``, ``/health/...``) is refused with a message. Errors answer
in the route's own shape (``errors:`` template) and JSON style, 500s included, with the
request id.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, compile_path

from modelport.access import ADMIN_PREFIXES, OPEN_PATHS, OPEN_PREFIXES, Access, access_for
from modelport.api.auth import require_admin
from modelport.api.cors import RouteCors
from modelport.api.errors import (
    ErrorShape,
    error_response,
    internal_error_message,
    shaped_error_response,
)
from modelport.api.jsonstyle import encode_json, json_media_type
from modelport.api.middleware import client_address, request_id_of
from modelport.config import Settings
from modelport.errors import ModelportError
from modelport.inference import InferenceService
from modelport.kvstore import KeyValueStore
from modelport.management.actions import ModelManager
from modelport.routes import (
    BoundRoute,
    RouteAnswer,
    RouteRequest,
    RouteTable,
    ServerHandle,
    UploadedFile,
    run_route,
)
from modelport.routes.request import is_json_document

__all__ = ["CustomRoutes", "install_custom_routes"]

log = logging.getLogger(__name__)

TAG = "custom routes"
#: Namespaces modelport keeps for its own endpoints, present and future.
_RESERVED_PREFIXES = ("/v1/models/", "/v2/", "/health/", "/ui/", *OPEN_PREFIXES, *ADMIN_PREFIXES)
_RESERVED_PATHS = frozenset({"/v1/models", "/v1/admin", "/v2", "/metrics", "/ui", *OPEN_PATHS})
_PARAM = re.compile(r"\{(\w+)(?::path)?\}")
#: A form may carry this many files and fields (the body limit applies as well).
_MAX_FORM_FILES = 16
_MAX_FORM_FIELDS = 256


class CustomRoutes:
    """The routes being served, found by path: for CORS and for error shapes."""

    def __init__(self, routes: list[BoundRoute]) -> None:
        self.routes = routes
        self._patterns = [(compile_path(route.path)[0], route) for route in routes]

    def find(self, path: str, method: str | None = None) -> BoundRoute | None:
        matches = [route for regex, route in self._patterns if regex.match(path)]
        exact = [route for route in matches if route.method == method]
        found = exact or matches
        return found[0] if found else None

    def shape_for(self, path: str, method: str | None = None) -> ErrorShape | None:
        route = self.find(path, method)
        return None if route is None else ErrorShape(route.errors, route.json_style)

    def cors_for(self, path: str, method: str) -> RouteCors:
        route = self.find(path, method)
        if route is not None and route.admin:
            return False  # management, whatever its cors: says (as for built-in admin paths)
        return None if route is None else route.cors

    def any_cors(self) -> bool:
        return any(route.cors for route in self.routes)


def install_custom_routes(
    app: FastAPI,
    table: RouteTable,
    settings: Settings,
    inference: InferenceService,
    manager: ModelManager,
    store: KeyValueStore,
) -> CustomRoutes:
    """Add every route that collides with no built-in endpoint; refuse the others.

    While the app is built (before its OpenAPI document is made for the first time)."""
    builtins = list(app.router.routes)
    served: list[BoundRoute] = []
    for route in table.routes:
        clash = _clash(route, builtins)
        if clash is not None:
            table.refuse(f"{route.label} ({route.source}) collides with {clash}; pick another path")
            continue
        endpoint = _endpoint(route, settings, inference, manager, store)
        app.add_api_route(
            route.path,
            endpoint,
            methods=[route.method],
            name=f"{route.label} ({route.source})",
            operation_id=_operation_id(route),
            summary=route.summary or route.label,
            description=_describe(route),
            tags=[TAG],
            openapi_extra=_openapi(route),
        )
        served.append(route)
    return CustomRoutes(served)


def _clash(route: BoundRoute, builtins: list[Any]) -> str | None:
    """The built-in endpoint this route would shadow or be shadowed by, if any."""
    sample = _PARAM.sub("x", route.path)
    scope = {"type": "http", "path": sample, "method": route.method, "root_path": ""}
    for builtin in builtins:
        match, _ = builtin.matches(scope)
        if match is not Match.NONE:  # FULL, or PARTIAL: the same path, another method
            return f"a built-in endpoint (modelport answers {route.method} {sample})"
    if access_for(sample) is not Access.API:
        # Open (health, docs) or management: a custom route there would change who may
        # call it, so the access policy's own lists decide (the middleware reads them too).
        return "a path the access policy keeps for health checks, docs or management"
    if sample in _RESERVED_PATHS or sample.startswith(_RESERVED_PREFIXES):
        kept = ", ".join([*(f"{p}..." for p in _RESERVED_PREFIXES), *sorted(_RESERVED_PATHS)])
        return f"the paths modelport keeps for its own endpoints ({kept})"
    return None


def _endpoint(
    route: BoundRoute,
    settings: Settings,
    inference: InferenceService,
    manager: ModelManager,
    store: KeyValueStore,
) -> Callable[[Request], Any]:
    shape = ErrorShape(route.errors, route.json_style)

    async def endpoint(request: Request) -> Response:
        context = {
            "url": str(request.url),
            "path": request.url.path,
            "method": request.method,
            "request_id": request_id_of(request.scope),
        }
        try:
            actor = await require_admin(request) if route.admin else None
            handle = ServerHandle(
                inference,
                manager,
                store,
                asyncio.get_running_loop(),
                actor,
                route.label,
                request_id_of(request.scope),
                client_address(request.scope),
            )
            answer = await run_route(route, await _read(request), handle, settings.request_timeout)
            return _encode(answer, route.json_style)
        except ModelportError as exc:
            return error_response(exc, request.url.path, shape, context)
        except HTTPException as exc:  # the framework refusing the body (a broken form)
            return shaped_error_response(
                exc.status_code, "bad_request", str(exc.detail), shape, context
            )
        except Exception as exc:
            # A bug in the route's code: logged with its traceback under the request id,
            # answered in the route's own shape, and the server goes on serving.
            log.error(
                "unhandled error in route %s (%s, request id %s)",
                route.label,
                route.source,
                context["request_id"],
                exc_info=exc,
            )
            message = internal_error_message(str(context["request_id"]))
            return shaped_error_response(500, "internal_error", message, shape, context)

    endpoint.__name__ = _operation_id(route)
    return endpoint


async def _read(request: Request) -> RouteRequest:
    """The HTTP request as a RouteRequest: query, headers, and the body or the form."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = b""
    form: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    if content_type == "application/x-www-form-urlencoded":
        # `curl -d '{...}'` labels JSON as a form: a body that is JSON is taken as JSON.
        body = await request.body()
        if is_json_document(body):
            content_type = "application/json"
        else:
            body = b""
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        parsed = await request.form(max_files=_MAX_FORM_FILES, max_fields=_MAX_FORM_FIELDS)
        try:
            for name, value in parsed.multi_items():
                if isinstance(value, UploadFile):
                    files.setdefault(
                        name,
                        UploadedFile(
                            value.filename or "",
                            value.content_type or "application/octet-stream",
                            await value.read(),
                        ),
                    )
                else:
                    form[name] = value
        finally:
            await parsed.close()
    else:
        body = await request.body()
    lists: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        lists.setdefault(name, []).append(value)
    return RouteRequest(
        method=request.method,
        path=request.url.path,
        url=str(request.url),
        query={name: values[-1] for name, values in lists.items()},
        query_lists=lists,
        headers={name.lower(): value for name, value in request.headers.items()},
        path_params={name: str(value) for name, value in request.path_params.items()},
        body=body,
        form=form,
        files=files,
        client=request.client.host if request.client else None,
        request_id=request_id_of(request.scope),
    )


def _encode(answer: RouteAnswer, style: str) -> Response:
    if answer.kind == "json":
        body = encode_json(answer.content, style)
        media_type = answer.media_type or json_media_type(style)
    elif answer.kind == "text":
        body = answer.content.encode()
        media_type = answer.media_type or "text/plain; charset=utf-8"
    else:
        body = answer.content
        media_type = answer.media_type or "application/octet-stream"
    return Response(body, status_code=answer.status, headers=answer.headers, media_type=media_type)


def _operation_id(route: BoundRoute) -> str:
    return "custom_" + re.sub(r"\W+", "_", f"{route.method}_{route.path}").strip("_").lower()


def _describe(route: BoundRoute) -> str:
    lines = [route.description or "", f"Declared in `{route.source}`."]
    if route.admin:
        lines.append(
            "A management route: send the admin token (`Authorization: Bearer ...`); "
            "requests from other web sites are refused."
        )
    return "\n\n".join(line for line in lines if line)


def _openapi(route: BoundRoute) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    names = _PARAM.findall(route.path)
    if names:
        extra["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in names
        ]
    if route.schema is not None:
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.schema}},
        }
    return extra
