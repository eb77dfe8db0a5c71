"""API tokens: shown once, stored hashed, verified exactly, revocable."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from modelport.db import store
from modelport.db.models import api_tokens
from modelport.errors import ConflictError, InvalidRequestError


def test_create_and_verify(engine: Engine) -> None:
    token = store.create_token(engine, "ci")
    assert token.startswith("mpt_")
    assert store.verify_token(engine, token) == "ci"
    assert store.verify_token(engine, f"  {token}\n") == "ci"  # pasted with whitespace
    other = store.create_token(engine, "deploy-bot")
    assert other != token
    assert store.verify_token(engine, other) == "deploy-bot"


def test_only_a_salted_hash_is_stored(engine: Engine) -> None:
    token = store.create_token(engine, "ci")
    # mpt_<id>_<secret>: the secret may hold '_' itself, so split from the left.
    prefix, token_id, secret = token.split("_", 2)
    assert (prefix, len(secret)) == ("mpt", 43) and token_id.isdecimal()
    with engine.connect() as connection:
        stored = connection.scalar(select(api_tokens.c.token_hash))
    assert stored is not None
    assert secret not in stored
    assert stored.startswith("hmac-sha256$")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character of the secret
        lambda t: t.replace("mpt_", "mpt_9", 1),  # another id
        lambda t: "",
        lambda t: "Bearer " + t,
        lambda t: t[:-5],
        lambda t: "mpt_1_" + "x" * 43,
    ],
)
def test_wrong_tokens_are_refused(engine: Engine, mangle: object) -> None:
    token = store.create_token(engine, "ci")
    assert callable(mangle)
    assert store.verify_token(engine, mangle(token)) is None


def test_revoked_tokens_are_refused(engine: Engine) -> None:
    token = store.create_token(engine, "ci")
    assert store.revoke_token(engine, "ci") is True
    assert store.verify_token(engine, token) is None
    assert store.revoke_token(engine, "ci") is False
    assert store.revoke_token(engine, "nobody") is False
    [info] = store.list_tokens(engine)
    assert (info.name, info.revoked) == ("ci", True)


def test_names_are_unique_and_valid(engine: Engine) -> None:
    store.create_token(engine, "ci")
    with pytest.raises(ConflictError):
        store.create_token(engine, "ci")
    for bad in ("", "has space", "x" * 129, "-dash"):
        with pytest.raises(InvalidRequestError):
            store.create_token(engine, bad)


def test_use_is_recorded(engine: Engine) -> None:
    token = store.create_token(engine, "ci")
    [before] = store.list_tokens(engine)
    assert before.last_used_at is None
    store.verify_token(engine, token)
    [after] = store.list_tokens(engine)
    assert after.last_used_at is not None
    assert after.last_used_at >= after.created_at
