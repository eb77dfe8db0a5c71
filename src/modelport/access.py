"""Who may call what, on every protocol: the one access policy of the server.

Every endpoint is in exactly one class (:class:`Access`):

- ``OPEN``: health probes and the API docs. Never need a token.
- ``API``: predictions and model metadata. Open, unless ``api_token`` is set; then that
  token (or an admin token) is required.
- ``ADMIN``: the management API (``/v1/admin/...``), the prediction log and the V2
  repository load/unload. Always a bearer token: the server's ``admin_token`` (set by
  the operator, or generated at start and saved for the local user only, see
  ``modelport.localtoken``) or a database token (``modelport tokens create``). No
  address is trusted on its own: any local user or a web page could reach loopback.

Browsers add two more rules, because a page on another site can make the user's browser
send requests to a server on the user's machine: the ``Host`` header must be one the
server answers to (DNS rebinding), and management requests must not come from another
origin. The HTTP and gRPC layers read tokens, addresses and headers from their protocol
and ask the functions here; a test enumerates every route and method against this table.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import logging
import re
from typing import TYPE_CHECKING

from modelport.config import Settings
from modelport.errors import ForbiddenError, InvalidRequestError, UnauthorizedError

if TYPE_CHECKING:
    from modelport.db.database import Database
    from modelport.management.audit import Actor

__all__ = [
    "ADMIN_PREFIXES",
    "GRPC_METHODS",
    "OPEN_PATHS",
    "OPEN_PREFIXES",
    "Access",
    "access_for",
    "admin_mode",
    "authorize_admin",
    "authorize_api",
    "check_admin_origin",
    "check_host",
    "host_check_for",
    "is_loopback",
]

log = logging.getLogger(__name__)


class Access(enum.Enum):
    OPEN = "open"
    API = "api"
    ADMIN = "admin"


#: Exact paths that never need a token. Exact: a custom route /health-risk/score is API.
OPEN_PATHS = frozenset(
    {
        "/health/live",
        "/health/ready",
        "/v2/health/live",
        "/v2/health/ready",
        "/docs",
        "/openapi.json",
        # The UI's page (its data comes from the API, guarded as usual). "/" is not here:
        # a custom route may own it, and custom routes are API paths.
        "/ui",
    }
)
#: Folders (prefix ending in '/') whose every path is open: the docs' static files.
OPEN_PREFIXES = ("/static/",)
#: Folders whose every path is management.
ADMIN_PREFIXES = ("/v1/admin/",)
_ADMIN_PATHS = frozenset({"/v1/admin"})
#: The prediction log (beside the model's own paths) and V2 repository load/unload.
_ADMIN_PATTERN = re.compile(
    r"^/v1/models/[^/]+/predictions(?:/[^/]+)?$|^/v2/repository/models/[^/]+/(?:load|unload)$"
)

#: The V2 gRPC service's methods, by name; each must be decided (a test checks them all).
GRPC_METHODS: dict[str, Access] = {
    "ServerLive": Access.OPEN,
    "ServerReady": Access.OPEN,
    "ModelReady": Access.API,
    "ServerMetadata": Access.API,
    "ModelMetadata": Access.API,
    "ModelInfer": Access.API,
    "RepositoryIndex": Access.API,
    "RepositoryModelLoad": Access.ADMIN,
    "RepositoryModelUnload": Access.ADMIN,
}


def access_for(path: str) -> Access:
    """The class of an HTTP path (custom routes are API: they may not take the others')."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return Access.OPEN
    if path in _ADMIN_PATHS or path.startswith(ADMIN_PREFIXES) or _ADMIN_PATTERN.match(path):
        return Access.ADMIN
    return Access.API


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return address.lower() == "localhost"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def authorize_admin(
    settings: Settings, database: Database, token: str | None, address: str | None
) -> Actor:
    """The actor behind a management request; UnauthorizedError / ForbiddenError if none."""
    # Here, not at the top: the CLI imports this module, and needs neither.
    from modelport.db import store
    from modelport.management.audit import Actor

    if token is None:
        raise UnauthorizedError(
            "the management API needs a token: send 'Authorization: Bearer <token>' (the "
            "server prints where it saved its token at start; or set MODELPORT_ADMIN_TOKEN)"
        )
    if settings.admin_token is not None and _same(token, settings.admin_token):
        return Actor("admin-token", address)
    await database.ready()  # 503 without the database, never a guess
    name = await database.run(store.verify_token, token)
    if name is not None:
        return Actor(f"token:{name}", address)
    raise ForbiddenError("this token is not valid for the management API")


def authorize_api(settings: Settings, token: str | None) -> None:
    """Raise unless the prediction/metadata request may go on."""
    if settings.api_token is None:
        return
    if token is None:
        raise UnauthorizedError("this server needs a token: send 'Authorization: Bearer <token>'")
    if _same(token, settings.api_token) or (
        settings.admin_token is not None and _same(token, settings.admin_token)
    ):
        return
    raise ForbiddenError("this token is not valid for this server")


#: Bound addresses meaning "every interface" (compared, never bound to here).
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})  # noqa: S104
_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def host_check_for(settings: Settings) -> frozenset[str] | None:
    """The host names this server answers to, or None when any is accepted.

    Default: the loopback names and the bound address; bound to a wildcard address the
    machine's names are not known, so no check unless ``allowed_hosts`` lists them.
    """
    if settings.allowed_hosts:
        names = {_bare_host(h) for h in settings.allowed_hosts}
        return None if "*" in names else frozenset(names)
    if settings.host in _WILDCARDS:
        return None
    return frozenset({*_LOCAL_NAMES, _bare_host(settings.host)})


def _bare_host(host: str) -> str:
    """``Host``-header text without its port and brackets, lower-case."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.rsplit(":", 1)[0]
    return host.rstrip(".")


def check_host(allowed: frozenset[str] | None, host: str | None) -> None:
    """InvalidRequestError (400) unless the Host header names this server."""
    if allowed is None:
        return
    if host is None or _bare_host(host) not in allowed:
        raise InvalidRequestError(
            "this server does not answer to the host name in the Host header; add it to "
            "allowed_hosts (MODELPORT_ALLOWED_HOSTS) if it is one of this server's names"
        )


_CROSS_SITE = frozenset({"cross-site", "same-site"})


def check_admin_origin(host: str | None, origin: str | None, fetch_site: str | None) -> None:
    """ForbiddenError unless a management request comes from no page or this server's own.

    A browser says where a request comes from (``Origin``, ``Sec-Fetch-Site``); command
    line clients send neither. Another site (or another port on localhost, which browsers
    call same-site) may not manage models through a user's browser.
    """
    if fetch_site is not None and fetch_site.lower() in _CROSS_SITE:
        raise ForbiddenError("the management API refuses requests from other web sites")
    if origin is None:
        return
    netloc = origin.partition("://")[2].lower()
    if not netloc or host is None or netloc != host.strip().lower():
        raise ForbiddenError("the management API refuses requests from other web sites")


def admin_mode(settings: Settings, generated: bool) -> str:
    """One line for the start-up log: how the management API is protected."""
    where = "a token generated at start" if generated else "the configured admin_token"
    return (
        f"management API: bearer token required ({where}, or a database token from "
        "`modelport tokens create`); no client is trusted by its address"
    )
