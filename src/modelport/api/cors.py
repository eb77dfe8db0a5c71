"""CORS: which browser origins may call the API, per server and per custom route.

Pure ASGI. ``cors_origins`` (a setting) applies to every path; a custom route's ``cors:``
overrides it for its own path (a list, ``'*'``, or ``false``). Preflight requests from an
allowed origin are answered here (200, the asked-for method and headers allowed, cached
for 10 minutes); other requests get ``Access-Control-Allow-Origin`` on their response,
errors included, so a browser client can read them. No credentials are allowed: tokens
travel in the Authorization header, which a preflight allows. Management paths never get
CORS, whatever the settings say.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.access import Access, access_for

__all__ = ["CorsMiddleware"]

_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
_MAX_AGE = "600"
#: None: the server's origins apply; False: no CORS; a list: these origins.
RouteCors = list[str] | bool | None


class CorsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        origins: Sequence[str],
        route_cors: Callable[[str, str], RouteCors] | None = None,
    ) -> None:
        self.app = app
        self.origins = tuple(origins)
        self.route_cors = route_cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        granted = self._granted(headers, scope, preflight)
        if granted is None:
            await self.app(scope, receive, send)
        elif preflight:
            await Response(status_code=200, headers=granted)(scope, receive, send)
        else:
            granted["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
            await self.app(scope, receive, _sending_with(send, granted))

    def _granted(self, headers: Headers, scope: Scope, preflight: bool) -> dict[str, str] | None:
        """The CORS headers this request gets, or None when its origin gets none."""
        origin = headers.get("origin")
        if origin is None:
            return None
        method = headers["access-control-request-method"] if preflight else scope["method"]
        allowed = self._allowed(scope["path"], method.upper())
        if not allowed or ("*" not in allowed and origin not in allowed):
            return None
        granted = {"Access-Control-Allow-Origin": "*" if "*" in allowed else origin}
        if "*" not in allowed:
            granted["Vary"] = "Origin"
        if preflight:
            granted["Access-Control-Allow-Methods"] = _METHODS
            granted["Access-Control-Max-Age"] = _MAX_AGE
            asked = headers.get("access-control-request-headers")
            if asked:
                granted["Access-Control-Allow-Headers"] = asked
        return granted

    def _allowed(self, path: str, method: str) -> tuple[str, ...]:
        if access_for(path) is Access.ADMIN:
            # Never: a page on another site must not manage models through the user's
            # browser, whatever cors_origins says (the access policy also refuses it).
            return ()
        override = self.route_cors(path, method) if self.route_cors is not None else None
        if override is None:
            return self.origins
        if override is False:
            return ()
        if override is True:
            return ("*",)
        return tuple(override)


def _sending_with(send: Send, granted: dict[str, str]) -> Send:
    """``send`` that adds the granted CORS headers to the response's start."""

    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            response_headers = MutableHeaders(scope=message)
            for name, value in granted.items():
                if name == "Vary":
                    response_headers.add_vary_header(value)
                else:
                    response_headers[name] = value
        await send(message)

    return send_with_cors
