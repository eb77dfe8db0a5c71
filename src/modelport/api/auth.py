"""HTTP side of the access policy (``modelport.access``): read the bearer token, the
Host and the browser's origin headers, then ask the policy; before routing, in one
middleware, so that every path — built-in or custom — gets the same decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from modelport.access import (
    Access,
    access_for,
    authorize_admin,
    authorize_api,
    check_admin_origin,
    check_host,
    host_check_for,
)
from modelport.api.state import database_of, settings_of
from modelport.config import Settings
from modelport.errors import ModelportError, UnauthorizedError
from modelport.management.audit import Actor

__all__ = ["AccessMiddleware", "bearer_token", "check_api_request", "require_admin"]

#: Methods that change nothing; every other one on a management path is a state change.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def check_api_request(
    hosts: frozenset[str] | None,
    settings: Settings,
    host: bytes | None,
    authorization: bytes | None,
) -> None:
    """The rule for an API path (predictions, metadata), from the raw headers: the Host
    allow-list (``hosts``, see ``host_check_for``), then the API token when one is set.

    The one check of the middleware and of the fast lane; headers are decoded only when
    there is something to check them against."""
    if hosts is not None:
        check_host(hosts, host.decode("latin-1") if host is not None else None)
    if settings.api_token is not None:
        authorize_api(settings, bearer_token(_text(authorization)))


async def require_admin(request: Request) -> Actor:
    """Authorize a management request; raises 401/403 (or 503 without the database).

    The origin rule again, for custom routes declared ``admin: true`` (their paths are
    not management paths to the middleware)."""
    headers = request.headers
    check_admin_origin(headers.get("host"), headers.get("origin"), headers.get("sec-fetch-site"))
    address = request.client.host if request.client else None
    return await authorize_admin(
        settings_of(request),
        database_of(request),
        bearer_token(request.headers.get("authorization")),
        address,
    )


class AccessMiddleware:
    """Host allow-list on every request; on management paths, no other web site and no
    state change without a token header; on the others, the API token when one is set."""

    def __init__(
        self, app: ASGIApp, settings: Settings, reject: Callable[[ModelportError, str], Any]
    ) -> None:
        self.app = app
        self.settings = settings
        self.hosts = host_check_for(settings)
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        try:
            self.check(scope, path)
        except ModelportError as exc:
            await self.reject(exc, path)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, scope: Scope, path: str) -> None:
        headers = dict(scope["headers"])  # the last of repeated headers wins
        access = access_for(path)
        if access is Access.API:
            check_api_request(
                self.hosts, self.settings, headers.get(b"host"), headers.get(b"authorization")
            )
        elif access is Access.ADMIN:
            host = _text(headers.get(b"host"))
            check_host(self.hosts, host)
            check_admin_origin(
                host, _text(headers.get(b"origin")), _text(headers.get(b"sec-fetch-site"))
            )
            # A browser sends an Authorization header to another origin only after a
            # preflight, which management paths never grant: so a state change must carry
            # one. Refused here, before an upload's body is read.
            authorization = _text(headers.get(b"authorization"))
            if scope["method"] not in _SAFE_METHODS and bearer_token(authorization) is None:
                raise UnauthorizedError(
                    "the management API needs a token: send 'Authorization: Bearer <token>'"
                )
        # Access.OPEN: health probes and the docs hold nothing to steal, and an
        # orchestrator's probe names the pod's address, which allowed_hosts rarely lists.


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
