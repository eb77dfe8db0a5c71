"""The audit log: every management action, who did it, from where, and how it went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select

from modelport.db.models import audit_log
from modelport.db.records import AuditRecord
from modelport.db.tx import as_utc, guarded, now, reading, writing
from modelport.errors import InvalidRequestError, ModelportError

__all__ = ["add_audit", "audit_after", "last_audit_id", "list_audit"]

_A = audit_log.c
MAX_LIMIT = 10_000


@guarded
def add_audit(
    engine: Engine,
    *,
    actor: str,
    action: str,
    target: str,
    outcome: str = "ok",
    client_address: str | None = None,
    detail: Any = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Append one entry (``detail``: any JSON-serialisable value); returns it."""
    stamp = now() if at is None else as_utc(at, "at")
    values = {
        "at": stamp,
        "actor": actor,
        "action": action,
        "target": target,
        "client_address": client_address,
        "outcome": outcome,
        "detail": detail,
    }
    with writing(engine) as connection:
        result = connection.execute(insert(audit_log).values(**values))
        key = result.inserted_primary_key
    if key is None:  # a single-row INSERT always reports its key
        raise ModelportError("the database did not report the new audit entry's id")
    return AuditRecord(id=int(key[0]), **values)


@guarded
def list_audit(
    engine: Engine,
    *,
    target: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Entries matching every given filter, newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    query = select(
        _A.id, _A.at, _A.actor, _A.action, _A.target, _A.client_address, _A.outcome, _A.detail
    )
    if target is not None:
        query = query.where(_A.target == target)
    if actor is not None:
        query = query.where(_A.actor == actor)
    if action is not None:
        query = query.where(_A.action == action)
    if since is not None:
        query = query.where(_A.at >= as_utc(since, "since"))
    query = query.order_by(_A.at.desc(), _A.id.desc()).limit(limit)
    with reading(engine) as connection:
        return [AuditRecord(**row._asdict()) for row in connection.execute(query)]


_COLUMNS = (_A.id, _A.at, _A.actor, _A.action, _A.target, _A.client_address, _A.outcome, _A.detail)


@guarded
def last_audit_id(engine: Engine) -> int:
    """The newest entry's id (0 when the log is empty): where a follower starts."""
    with reading(engine) as connection:
        return int(connection.scalar(select(func.coalesce(func.max(_A.id), 0))) or 0)


@guarded
def audit_after(engine: Engine, after_id: int, limit: int = 1000) -> list[AuditRecord]:
    """Entries with an id above ``after_id``, oldest first: how workers follow changes."""
    query = select(*_COLUMNS).where(_A.id > after_id).order_by(_A.id).limit(limit)
    with reading(engine) as connection:
        return [AuditRecord(**row._asdict()) for row in connection.execute(query)]
