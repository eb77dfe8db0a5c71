"""Who may do what: the admin rule for the management API, and the optional API token.

- Management (``/v1/admin``, V2 repository load/unload): a bearer token, either the
  server's ``admin_token`` or a database token (``modelport tokens create``). With
  neither configured, only loopback clients are answered, without a token.
- Predictions and metadata: open, unless ``api_token`` is set; then that token (or an
  admin token) is required.

Tokens are compared in constant time. The API layer extracts the token and the client
address from its protocol and calls these functions.
"""

from __future__ import annotations

import hmac
import ipaddress

from modelport.config import Settings
from modelport.errors import ForbiddenError, UnauthorizedError
from modelport.management import Actor, ModelManager

__all__ = ["admin_mode", "authorize_admin", "authorize_api", "is_loopback"]

_NO_TOKEN_CONFIGURED = (
    "the management API answers only clients on this machine (loopback) while no admin "
    "token is configured; set MODELPORT_ADMIN_TOKEN or create a token with "
    "`modelport tokens create NAME`"
)


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def authorize_admin(
    settings: Settings, manager: ModelManager, token: str | None, address: str | None
) -> Actor:
    """The actor behind a management request; UnauthorizedError / ForbiddenError if none."""
    # Without the database we cannot tell whether tokens exist: 503, never a guess.
    configured = settings.admin_token is not None or await manager.has_tokens()
    if not configured:
        if is_loopback(address):
            return Actor("local", address)
        raise ForbiddenError(_NO_TOKEN_CONFIGURED)
    if token is None:
        raise UnauthorizedError(
            "the management API needs a token: send 'Authorization: Bearer <token>'"
        )
    if settings.admin_token is not None and _same(token, settings.admin_token):
        return Actor("admin-token", address)
    name = await manager.verify_token(token)
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


def admin_mode(settings: Settings) -> str:
    """One line for the start-up log: how the management API is protected."""
    if settings.admin_token is not None:
        return "management API: bearer token required (admin_token or database tokens)"
    return (
        "management API: no admin_token set; it answers loopback clients only, unless "
        "database tokens exist (modelport tokens create)"
    )
