"""Model versions and aliases: numbering, states, and movable names like ``production``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update

from modelport.db import models
from modelport.db.records import VERSION_STATES, AliasRecord, VersionRecord, VersionState
from modelport.db.tx import as_utc, guarded, now, reading, retrying, writing
from modelport.errors import ConflictError, InvalidRequestError, VersionNotFoundError

__all__ = [
    "LATEST",
    "abandon_pending",
    "check_alias",
    "delete_alias",
    "delete_version",
    "discard_version",
    "get_aliases",
    "get_version",
    "list_model_names",
    "list_versions",
    "next_version_number",
    "record_version",
    "resolve_alias",
    "set_alias",
    "set_version_state",
    "settle_pending",
]

LATEST = "latest"  # not stored: always the newest ready version
# Starts with a letter, so an alias is never mistaken for a version number in a URL.
_ALIAS = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_V = models.model_versions.c
_AL = models.aliases.c
_COLUMNS = (
    _V.name,
    _V.version,
    _V.sha256,
    _V.size,
    _V.runtime,
    _V.state,
    _V.error,
    _V.source,
    _V.created_at,
    _V.created_by,
)


def _version(row: Row[*tuple[Any, ...]]) -> VersionRecord:
    return VersionRecord(**row._asdict())


def _check_state(state: str) -> VersionState:
    if state not in VERSION_STATES:
        raise InvalidRequestError(f"invalid version state '{state}'; one of {VERSION_STATES}")
    if state == "deleted":  # delete_version holds the alias check
        raise InvalidRequestError("use delete_version to delete a version")
    return state


def _known(connection: Connection, name: str) -> list[str]:
    query = select(_V.version).where(_V.name == name, _V.state != "deleted").order_by(_V.version)
    return [str(v) for v in connection.scalars(query)]


#: The largest version number the version columns hold (a 32-bit INTEGER everywhere).
MAX_VERSION = 2**31 - 1


def _locked(connection: Connection, name: str, version: int) -> VersionRecord:
    # FOR UPDATE serialises alias moves and deletes of one version (SQLite ignores it:
    # there every write transaction already holds the database's write lock).
    # A number beyond the column's range cannot be stored, so it is not there; asking the
    # driver would overflow instead (a 500 for DELETE .../versions/99999999999999999999).
    if not 0 < version <= MAX_VERSION:
        raise VersionNotFoundError(name, str(version), _known(connection, name))
    query = select(*_COLUMNS).where(_V.name == name, _V.version == version).with_for_update()
    row = connection.execute(query).first()
    if row is None or row.state == "deleted":
        raise VersionNotFoundError(name, str(version), _known(connection, name))
    return _version(row)


@guarded
def next_version_number(
    engine: Engine,
    name: str,
    *,
    floor: int = 1,
    source: str = "upload",
    created_by: str | None = None,
) -> int:
    """Reserve the model's next version number (a ``pending`` row) and return it.

    Concurrent callers get distinct numbers; ``floor`` skips numbers already on disk.
    Numbers of deleted versions are never handed out again.
    """

    def reserve() -> int:
        with writing(engine) as connection:
            top = connection.scalar(select(func.max(_V.version)).where(_V.name == name))
            number = max((top or 0) + 1, floor)
            connection.execute(
                insert(models.model_versions).values(
                    name=name,
                    version=number,
                    state="pending",
                    source=source,
                    created_at=now(),
                    created_by=created_by,
                )
            )
            return number

    # Two callers may read the same maximum; the unique (name, version) key lets only one
    # insert it, and the other tries again with a fresh read.
    return retrying(reserve)


@guarded
def record_version(
    engine: Engine,
    name: str,
    version: int,
    *,
    sha256: str | None,
    size: int | None,
    runtime: str | None,
    state: VersionState = "ready",
    error: str | None = None,
    source: str = "upload",
    created_by: str | None = None,
) -> VersionRecord:
    """Record what a version is (a reserved number, or one found on disk); returns it."""
    _check_state(state)
    values: dict[str, Any] = {
        "sha256": sha256,
        "size": size,
        "runtime": runtime,
        "state": state,
        "error": error,
        "source": source,
    }
    if created_by is not None:
        values["created_by"] = created_by

    def upsert() -> VersionRecord:
        with writing(engine) as connection:
            where = (_V.name == name, _V.version == version)
            found = connection.execute(select(_V.id).where(*where).with_for_update()).first()
            if found is None:
                fresh = {"name": name, "version": version, "created_at": now(), "created_by": None}
                connection.execute(insert(models.model_versions).values({**fresh, **values}))
            else:
                connection.execute(update(models.model_versions).where(*where).values(**values))
            return _version(connection.execute(select(*_COLUMNS).where(*where)).one())

    return retrying(upsert)


@guarded
def settle_pending(
    engine: Engine,
    name: str,
    version: int,
    *,
    sha256: str | None,
    size: int | None,
    runtime: str | None,
    state: VersionState,
    error: str | None = None,
) -> VersionRecord | None:
    """Record the outcome of a reserved (``pending``) number, if it is still pending.

    Returns the record when this call settled it, None when the row was no longer
    pending (another process got there first) and nothing changed. The row is locked
    while it is read, so of the uploader and the processes that scan the files, exactly
    one settles it, and that one writes the upload's audit entry.
    """
    _check_state(state)
    values = {"sha256": sha256, "size": size, "runtime": runtime, "state": state, "error": error}
    with writing(engine) as connection:
        where = (_V.name == name, _V.version == version)
        found = connection.execute(select(_V.state).where(*where).with_for_update()).first()
        if found is None or found.state != "pending":
            return None
        connection.execute(update(models.model_versions).where(*where).values(**values))
        return _version(connection.execute(select(*_COLUMNS).where(*where)).one())


@guarded
def set_version_state(
    engine: Engine, name: str, version: int, state: VersionState, error: str | None = None
) -> VersionRecord:
    """Change a version's state (and error); raises VersionNotFoundError."""
    _check_state(state)
    with writing(engine) as connection:
        _locked(connection, name, version)
        where = (_V.name == name, _V.version == version)
        connection.execute(
            update(models.model_versions).where(*where).values(state=state, error=error)
        )
        return _version(connection.execute(select(*_COLUMNS).where(*where)).one())


@guarded
def get_version(engine: Engine, name: str, version: int) -> VersionRecord | None:
    """One version, deleted ones included; None when the number was never used."""
    with reading(engine) as connection:
        query = select(*_COLUMNS).where(_V.name == name, _V.version == version)
        row = connection.execute(query).first()
        return None if row is None else _version(row)


@guarded
def list_versions(
    engine: Engine, name: str, *, include_deleted: bool = False
) -> list[VersionRecord]:
    """The model's versions, oldest first."""
    query = select(*_COLUMNS).where(_V.name == name).order_by(_V.version)
    if not include_deleted:
        query = query.where(_V.state != "deleted")
    with reading(engine) as connection:
        return [_version(row) for row in connection.execute(query)]


@guarded
def list_model_names(engine: Engine) -> list[str]:
    """Names of the models that have at least one version that is not deleted."""
    query = select(_V.name).where(_V.state != "deleted").distinct().order_by(_V.name)
    with reading(engine) as connection:
        return list(connection.scalars(query))


@guarded
def delete_version(engine: Engine, name: str, version: int) -> VersionRecord:
    """Mark a version deleted; ConflictError while an alias points at it."""
    with writing(engine) as connection:
        _locked(connection, name, version)
        aliases = list(
            connection.scalars(
                select(_AL.alias)
                .where(_AL.name == name, _AL.version == version)
                .order_by(_AL.alias)
            )
        )
        if aliases:
            raise ConflictError(
                f"version {version} of '{name}' is still the target of alias "
                f"{', '.join(aliases)}; move or delete the alias first"
            )
        where = (_V.name == name, _V.version == version)
        connection.execute(update(models.model_versions).where(*where).values(state="deleted"))
        return _version(connection.execute(select(*_COLUMNS).where(*where)).one())


@guarded
def discard_version(engine: Engine, name: str, version: int, reason: str) -> list[str]:
    """Mark a version deleted whatever points at it (its files are gone or never came).

    Returns the aliases that pointed at it; they are removed, since the database must
    never send a request to a version whose file is missing.
    """
    with writing(engine) as connection:
        where = (_V.name == name, _V.version == version)
        if connection.execute(select(_V.id).where(*where).with_for_update()).first() is None:
            return []
        on_it = (_AL.name == name, _AL.version == version)
        aliases = list(connection.scalars(select(_AL.alias).where(*on_it)))
        connection.execute(delete(models.aliases).where(*on_it))
        connection.execute(
            update(models.model_versions).where(*where).values(state="deleted", error=reason)
        )
        return sorted(aliases)


@guarded
def abandon_pending(engine: Engine, older_than: datetime) -> list[tuple[str, int]]:
    """Mark deleted the numbers reserved before ``older_than`` whose upload never finished.

    For start-up, after a crash; ``older_than`` spares uploads still running elsewhere.
    """
    cutoff = as_utc(older_than, "older_than")
    stale = (_V.state == "pending", _V.created_at < cutoff)
    with writing(engine) as connection:
        found = connection.execute(select(_V.name, _V.version).where(*stale)).all()
        if found:
            connection.execute(
                update(models.model_versions)
                .where(*stale)
                .values(state="deleted", error="upload did not finish")
            )
    return sorted((name, version) for name, version in found)


def check_alias(alias: str) -> str:
    """``alias`` if it may name an alias; InvalidRequestError (400) naming the rule if not."""
    if alias == LATEST:
        raise InvalidRequestError(
            "'latest' always means the newest ready version; it cannot be set"
        )
    if not _ALIAS.fullmatch(alias):
        raise InvalidRequestError(
            f"invalid alias '{alias}': use 1-64 lowercase letters, digits, '-', '_' or '.', "
            "starting with a letter"
        )
    return alias


@guarded
def set_alias(
    engine: Engine, name: str, alias: str, version: int, *, updated_by: str | None = None
) -> AliasRecord:
    """Point ``alias`` at a ready version (creating or moving it); returns the alias."""
    check_alias(alias)

    def move() -> AliasRecord:
        with writing(engine) as connection:
            target = _locked(connection, name, version)
            if target.state != "ready":
                raise ConflictError(
                    f"version {version} of '{name}' is {target.state}; "
                    "an alias can only point at a ready version"
                )
            stamp = now()
            where = (_AL.name == name, _AL.alias == alias)
            values = {"version": version, "updated_at": stamp, "updated_by": updated_by}
            moved = connection.execute(update(models.aliases).where(*where).values(**values))
            if moved.rowcount == 0:
                connection.execute(insert(models.aliases).values(name=name, alias=alias, **values))
            return AliasRecord(name, alias, version, stamp, updated_by)

    return retrying(move)


@guarded
def delete_alias(engine: Engine, name: str, alias: str) -> bool:
    """Remove an alias; False when it did not exist."""
    with writing(engine) as connection:
        result = connection.execute(
            delete(models.aliases).where(_AL.name == name, _AL.alias == alias)
        )
        return result.rowcount > 0


@guarded
def get_aliases(engine: Engine, name: str) -> list[AliasRecord]:
    """The model's aliases, by alias name."""
    query = (
        select(_AL.name, _AL.alias, _AL.version, _AL.updated_at, _AL.updated_by)
        .where(_AL.name == name)
        .order_by(_AL.alias)
    )
    with reading(engine) as connection:
        return [AliasRecord(**row._asdict()) for row in connection.execute(query)]


@guarded
def resolve_alias(engine: Engine, name: str, alias: str) -> int | None:
    """The version ``alias`` points at (``latest``: the newest ready one); None if unknown."""
    with reading(engine) as connection:
        if alias == LATEST:
            query = select(func.max(_V.version)).where(_V.name == name, _V.state == "ready")
        else:
            query = select(_AL.version).where(_AL.name == name, _AL.alias == alias)
        found = connection.scalar(query)
        return None if found is None else int(found)
