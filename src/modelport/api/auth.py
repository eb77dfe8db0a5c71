"""HTTP side of access control: read the bearer token and client address, then ask
``modelport.access``; plus the ASGI middleware that guards predictions with api_token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport.access import authorize_admin, authorize_api
from modelport.api.state import manager_of, settings_of
from modelport.config import Settings
from modelport.errors import ModelportError
from modelport.management import Actor

__all__ = ["ApiTokenMiddleware", "bearer_token", "require_admin"]

#: Paths that never need the API token: health probes, docs, and the management API
#: (which has its own, stricter rule).
_OPEN_PREFIXES = ("/health", "/v2/health", "/docs", "/openapi.json", "/v1/admin", "/static")


def _admin_read(path: str) -> bool:
    # The prediction log (api/predictions.py) lives beside the models' paths, but it is
    # management: require_admin guards it, and a database admin token must reach it.
    return path.startswith("/v1/models/") and path.endswith("/predictions")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def require_admin(request: Request) -> Actor:
    """Authorize a management request; raises 401/403 (or 503 without the database)."""
    address = request.client.host if request.client else None
    return await authorize_admin(
        settings_of(request),
        manager_of(request),
        bearer_token(request.headers.get("authorization")),
        address,
    )


class ApiTokenMiddleware:
    """Refuses prediction and metadata requests without the API token (when one is set)."""

    def __init__(
        self, app: ASGIApp, settings: Settings, reject: Callable[[ModelportError, str], Any]
    ) -> None:
        self.app = app
        self.settings = settings
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_OPEN_PREFIXES) or _admin_read(path):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization")
        try:
            authorize_api(self.settings, bearer_token(header.decode("latin-1") if header else None))
        except ModelportError as exc:
            await self.reject(exc, path)(scope, receive, send)
            return
        await self.app(scope, receive, send)
