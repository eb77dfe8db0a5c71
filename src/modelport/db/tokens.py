"""API tokens: shown once at creation, stored as a salted hash, checked in constant time.

A token reads ``mpt_<id>_<secret>``: the id finds the row, the 256-bit secret proves it.
Such a secret needs no slow password hash; a salted SHA-256 HMAC is enough and keeps
every authenticated request cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from modelport.db.models import api_tokens
from modelport.db.records import TokenInfo
from modelport.db.tx import guarded, now, reading, writing
from modelport.errors import ConflictError, InvalidRequestError, ModelportError

__all__ = ["create_token", "list_tokens", "revoke_token", "verify_token"]

PREFIX = "mpt_"
_TOKEN = re.compile(r"mpt_([0-9]{1,18})_([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}")
# Recording every use would turn each authenticated request into a write.
_TOUCH_EVERY = timedelta(minutes=1)
_T = api_tokens.c


def _digest(salt: bytes, secret: str) -> str:
    return hmac.new(salt, secret.encode(), hashlib.sha256).hexdigest()


def _hash(secret: str) -> str:
    salt = secrets.token_bytes(16)
    return f"hmac-sha256${salt.hex()}${_digest(salt, secret)}"


def _matches(stored: str, secret: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt_hex, _, expected = rest.partition("$")
    if scheme != "hmac-sha256":
        return False
    return hmac.compare_digest(_digest(bytes.fromhex(salt_hex), secret), expected)


# Compared against when the id is unknown, so that a miss costs what a hit costs.
_DUMMY = _hash(secrets.token_urlsafe(32))


@guarded
def create_token(engine: Engine, name: str) -> str:
    """Create a token called ``name`` and return it; it cannot be shown again."""
    if not _NAME.fullmatch(name):
        raise InvalidRequestError(
            f"invalid token name '{name}': 1-128 letters, digits or _.@:-, "
            "starting with a letter or digit"
        )
    secret = secrets.token_urlsafe(32)  # 43 characters
    row = {"name": name, "token_hash": _hash(secret), "created_at": now(), "revoked": False}
    try:
        with writing(engine) as connection:
            result = connection.execute(insert(api_tokens).values(**row))
            key = result.inserted_primary_key
    except IntegrityError as exc:
        raise ConflictError(f"a token named '{name}' already exists; pick another name") from exc
    if key is None:  # a single-row INSERT always reports its key
        raise ModelportError("the database did not report the new token's id")
    token_id = int(key[0])
    return f"{PREFIX}{token_id}_{secret}"


@guarded
def verify_token(engine: Engine, token: str) -> str | None:
    """The name of the live token ``token`` is, or None (unknown, wrong or revoked)."""
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        return None
    token_id, secret = int(match.group(1)), match.group(2)
    with reading(engine) as connection:
        query = select(_T.name, _T.token_hash, _T.revoked, _T.last_used_at).where(_T.id == token_id)
        row = connection.execute(query).first()
    if row is None:
        _matches(_DUMMY, secret)
        return None
    if not _matches(row.token_hash, secret) or row.revoked:
        return None
    stamp = now()
    if row.last_used_at is None or stamp - row.last_used_at >= _TOUCH_EVERY:
        with writing(engine) as connection:
            connection.execute(
                update(api_tokens).where(_T.id == token_id).values(last_used_at=stamp)
            )
    return str(row.name)


@guarded
def revoke_token(engine: Engine, name: str) -> bool:
    """Revoke the token called ``name``; False when there is no such live token."""
    with writing(engine) as connection:
        result = connection.execute(
            update(api_tokens).where(_T.name == name, _T.revoked.is_(False)).values(revoked=True)
        )
        return result.rowcount > 0


@guarded
def list_tokens(engine: Engine) -> list[TokenInfo]:
    """Every token's metadata (never the token), oldest first."""
    query = select(_T.id, _T.name, _T.created_at, _T.last_used_at, _T.revoked).order_by(_T.id)
    with reading(engine) as connection:
        return [TokenInfo(**row._asdict()) for row in connection.execute(query)]
