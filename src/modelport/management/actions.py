"""The management actions, one per method: upload, versions, delete a version, set and
delete aliases, reload, load, unload.

Each action changes this process's registry, brings the database's records along
(``catalog.py``) and writes its audit entry (``audit.py``); other workers and servers
replay the entry (``following.py``), so every process converges on the same state.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from modelport.config import Settings
from modelport.contracts import (
    AliasDeleted,
    AliasSet,
    AuditLog,
    ModelHistory,
    UploadedVersion,
    VersionDeleted,
    VersionHistoryEntry,
)
from modelport.db import store
from modelport.db.database import Database
from modelport.db.records import VersionRecord
from modelport.errors import (
    ConflictError,
    DatabaseUnavailableError,
    InvalidRequestError,
    ModelportError,
    UploadRejectedError,
)
from modelport.management.audit import Actor, AuditTrail
from modelport.management.catalog import Catalog
from modelport.management.files import next_on_disk, remove_folder
from modelport.management.rollouts import RolloutActions
from modelport.management.uploads import Upload, check_upload, write_version
from modelport.registry import ModelRegistry, ReloadReport
from modelport.repository.mlmodel import is_mlflow_folder
from modelport.repository.objectstore import ModelStore
from modelport.repository.scan import validate_model_name

__all__ = ["ModelManager"]

#: Reload outcomes that are no failure.
_FINE = ("loaded", "unchanged", "dropped")


class ModelManager:
    """Every management action of one server process, on its registry and the database."""

    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        database: Database,
        catalog: Catalog,
        audit: AuditTrail,
        lock: asyncio.Lock,
        mirror: ModelStore | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.database = database
        self.catalog = catalog
        self.audit = audit
        self.model_dir = settings.model_dir
        #: One action at a time in this process (shared with the follower): a reload
        #: never races an upload's load.
        self._lock = lock
        #: Traffic split and shadow version.
        self.rollouts = RolloutActions(registry, database, audit)
        #: The object store model_dir copies, if it is one: what this process writes is
        #: stored there before other processes learn of it (repository/objectstore.py).
        self.mirror = mirror

    async def upload(self, upload: Upload, actor: Actor) -> UploadedVersion:
        """Store an artifact as the model's next version, load and warm it up, then serve it.

        A file that fails answers UploadRejectedError (422) and stays on disk as a
        ``failed`` version; the version being served keeps serving.
        """
        name = self._name(upload.name)
        self.refuse_single_file("upload")
        check_upload(upload, self.settings)
        await self.database.ready()
        model_path = self.model_dir / name
        bare = self._bare_file(name)
        if bare is not None:
            raise ConflictError(
                f"model '{name}' is a bare file ({bare.name}); versions need a folder: move "
                f"it to {name}/1/{bare.name} first"
            )
        if is_mlflow_folder(model_path):
            raise ConflictError(
                f"model '{name}' is an MLflow model folder served as version 1; versions "
                f"need version folders: move its files into {name}/1/ first"
            )
        floor = await asyncio.to_thread(next_on_disk, model_path)
        number = await self.database.run(
            store.next_version_number,
            name,
            floor=floor,
            source="upload",
            created_by=actor.name,
        )
        await self._write(upload, name, number)
        async with self._lock:
            await self.registry.reload([name])
        served = self.registry.find(name)
        version = served.versions.get(number) if served is not None else None
        error = "the version did not load" if version is None else version.error
        runtime = version.runtime.kind if version and version.runtime else None
        outcome: dict[str, Any] = {
            "sha256": version.artifact_sha256 if version else None,
            "size": version.artifact_size if version else None,
            "runtime": runtime,
            "state": "ready" if version is not None and version.ready else "failed",
            "error": None if version is not None and version.ready else error,
        }
        settled = await self.database.run(store.settle_pending, name, number, **outcome)
        # None: another process found the folder and settled the number first, and wrote
        # the upload's audit entry; this one records its own load and writes no second.
        record = settled
        if record is None:
            record = await self.database.run(
                store.record_version, name, number, source="upload", **outcome
            )
        detail = {"version": number, "sha256": record.sha256, "size": record.size}
        if record.state != "ready":
            if settled is not None:
                await self.audit.record(actor, "upload", name, detail, outcome="failed")
            raise UploadRejectedError(
                f"model '{name}' version {number} ({upload.filename}) did not load: {error}; "
                "it is kept as a failed version, and the versions being served stay"
            )
        if upload.alias is not None:
            await self.database.run(
                store.set_alias, name, upload.alias, number, updated_by=actor.name
            )
            await self.catalog.load_aliases(name)
            detail["alias"] = upload.alias
            if settled is None:
                alias_detail = {"alias": upload.alias, "version": number}
                await self.audit.record(actor, "alias.set", name, alias_detail)
        if settled is not None:
            await self.audit.record(actor, "upload", name, detail)
        return {
            "name": name,
            "version": number,
            "state": "ready",
            "runtime": runtime,
            "sha256": record.sha256,
            "size": record.size,
            # A ready record means the version loaded; None only keeps the types honest.
            "load_seconds": version.load_seconds if version is not None else None,
            "alias": upload.alias,
        }

    async def _write(self, upload: Upload, name: str, number: int) -> None:
        """The reserved number's folder written (and stored in the object store, if any);
        on any failure, nothing is left of it and the number is withdrawn."""
        model_path = self.model_dir / name
        try:
            await asyncio.to_thread(write_version, self.model_dir, upload, number)
            if self.mirror is not None:
                try:
                    await asyncio.to_thread(self.mirror.push, f"{name}/{number}")
                except ModelportError:
                    # Not (wholly) in the store: gone here and, as far as the store
                    # lets us, there too, so that no process loads half a version.
                    await asyncio.to_thread(remove_folder, model_path / str(number))
                    with contextlib.suppress(ModelportError):
                        await asyncio.to_thread(self.mirror.remove, f"{name}/{number}")
                    raise
        except BaseException as exc:
            reason = f"upload could not be written: {exc}"
            with contextlib.suppress(ModelportError):
                await self.database.run(store.discard_version, name, number, reason)
            raise

    def _name(self, name: str) -> str:
        """The model's own name for a name a client sent (a bare file's full name too)."""
        return self.registry.canonical(validate_model_name(name))

    def _bare_file(self, name: str) -> Path | None:
        """The bare file in the model folder that model ``name`` is, if it is one."""
        served = self.registry.find(name)
        if served is not None and served.path.is_file():
            return served.path
        path = self.model_dir / name
        return path if path.is_file() else None

    def refuse_single_file(self, action: str) -> None:
        """409 when the server was started on one file: no folder to store versions in."""
        if self.model_dir.is_file():
            raise ConflictError(
                f"this server serves the one file {self.model_dir.name}, so it cannot "
                f"{action}: start it on a folder instead (modelport serve models/)"
            )
        if is_mlflow_folder(self.model_dir):
            raise ConflictError(
                f"this server serves the one MLflow model folder {self.model_dir.name}, so "
                f"it cannot {action}: start it on a folder of models instead "
                "(modelport serve models/)"
            )

    async def versions(self, name: str, include_deleted: bool = False) -> ModelHistory:
        """The model's version history from the database, and what this process serves."""
        name = self._name(name)
        await self.database.ready()
        records = await self.database.run(
            store.list_versions, name, include_deleted=include_deleted
        )
        aliases = await self.database.run(store.get_aliases, name)
        served = self.registry.find(name)
        if not records and served is None:
            self.registry.get(name)  # raises ModelNotFoundError naming the known models
        newest = served.newest_ready() if served is not None else None
        return {
            "name": name,
            "latest": newest.version if newest is not None else None,
            "aliases": {alias.alias: alias.version for alias in aliases},
            "versions": [_version_json(r) for r in records if r.state != "pending"],
        }

    async def delete_version(self, name: str, version: int, actor: Actor) -> VersionDeleted:
        """Delete a version's files and mark it deleted; 409 while an alias points at it."""
        name = self._name(name)
        await self.database.ready()
        self.refuse_single_file("delete a version")
        folder = self.model_dir / name / str(version)
        if self._bare_file(name) is not None:
            raise ConflictError(f"model '{name}' is a bare file; remove the file instead")
        if is_mlflow_folder(self.model_dir / name):
            raise ConflictError(
                f"model '{name}' is an MLflow model folder served as version 1; remove the "
                "folder instead"
            )
        self.rollouts.refuse_in_use(name, version=version)
        if self.mirror is not None:
            await asyncio.to_thread(self.mirror.remove, f"{name}/{version}")
        await self.database.run(store.delete_version, name, version)
        async with self._lock:
            await asyncio.to_thread(remove_folder, folder)
            self.registry.drop_version(name, version)
        await self.audit.record(actor, "version.delete", name, {"version": version})
        return {"name": name, "version": version, "state": "deleted"}

    async def set_alias(self, name: str, alias: str, version: int, actor: Actor) -> AliasSet:
        """Point ``alias`` at a ready version (rollback = point it back)."""
        name = self._name(name)
        await self.database.ready()
        record = await self.database.run(
            store.set_alias, name, alias, version, updated_by=actor.name
        )
        await self.catalog.load_aliases(name)
        await self.audit.record(actor, "alias.set", name, {"alias": alias, "version": version})
        return {"name": name, "alias": record.alias, "version": record.version}

    async def audit_entries(self, target: str | None, limit: int) -> AuditLog:
        """The audit log, newest first: every action, or those on one model."""
        if target is not None:
            target = self._name(target)
        await self.database.ready()
        records = await self.database.run(store.list_audit, target=target, limit=limit)
        return {
            "entries": [
                {
                    "id": record.id,
                    "at": record.at.isoformat(),
                    "actor": record.actor,
                    "action": record.action,
                    "target": record.target,
                    "outcome": record.outcome,
                    "client_address": record.client_address,
                    "detail": record.detail,
                }
                for record in records
            ]
        }

    async def delete_alias(self, name: str, alias: str, actor: Actor) -> AliasDeleted:
        name = self._name(name)
        await self.database.ready()
        self.rollouts.refuse_in_use(name, alias=alias)
        if not await self.database.run(store.delete_alias, name, alias):
            raise InvalidRequestError(f"model '{name}' has no alias '{alias}'")
        await self.catalog.load_aliases(name)
        await self.audit.record(actor, "alias.delete", name, {"alias": alias})
        return {"name": name, "alias": alias, "deleted": True}

    async def reload(self, name: str | None, actor: Actor) -> ReloadReport:
        """Re-scan the repository (one model, or all): load what changed, drop what is gone."""
        if name is not None:
            name = self._name(name)
            names = {name}
        if self.mirror is not None:  # a reload looks at the store again
            await asyncio.to_thread(self.mirror.pull, None if name is None else names)
        if name is not None and not (self.model_dir / name).exists():
            self.registry.get(name)  # 404 unless it is loaded (then it is dropped)
        async with self._lock:
            report = await self.registry.reload(None if name is None else names)
        for changed in report:
            with contextlib.suppress(DatabaseUnavailableError):
                await self.catalog.record_versions(changed)
        failed = {n: outcome for n, outcome in report.items() if outcome not in _FINE}
        await self.audit.record(
            actor, "reload", name or "*", {"report": report}, outcome="failed" if failed else "ok"
        )
        return report

    async def load(self, name: str, actor: Actor) -> None:
        """Load (or reload) one model from the model folder; ModelLoadError if it fails."""
        name = self._name(name)
        try:
            async with self._lock:
                await self.registry.load_model_by_name(name)
        except ModelportError as exc:
            await self.audit.record(actor, "load", name, {"error": exc.message}, outcome="failed")
            raise
        with contextlib.suppress(DatabaseUnavailableError):
            await self.catalog.record_versions(name)
        await self.audit.record(actor, "load", name, {})

    async def unload(self, name: str, actor: Actor) -> None:
        """Stop serving a model in every worker; its files stay (load brings it back)."""
        async with self._lock:
            name = self.registry.unload(name).name
        await self.audit.record(actor, "unload", name, {})


def _version_json(record: VersionRecord) -> VersionHistoryEntry:
    return {
        "version": record.version,
        "state": record.state,
        "sha256": record.sha256,
        "size": record.size,
        "runtime": record.runtime,
        "error": record.error,
        "source": record.source,
        "created_at": record.created_at.isoformat(),
        "created_by": record.created_by,
    }
