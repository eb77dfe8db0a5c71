"""The database's record of the served models, kept in step with the files and the
registry: a row per version (sha256, size, state) and the aliases."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from modelport.db import store
from modelport.db.database import Database
from modelport.db.records import VersionRecord, VersionState
from modelport.management.audit import Actor, AuditTrail
from modelport.management.files import version_on_disk
from modelport.registry import ModelRegistry
from modelport.rollout import Rollout, rollout_of
from modelport.served import ModelVersion

__all__ = ["Catalog"]

log = logging.getLogger(__name__)


class Catalog:
    """Version rows and aliases of one model folder, and this process's copy of them."""

    def __init__(
        self, database: Database, registry: ModelRegistry, model_dir: Path, audit: AuditTrail
    ) -> None:
        self.database = database
        self.registry = registry
        self.model_dir = model_dir
        #: Writes the entry of an upload whose own process stopped before it finished.
        self.audit = audit

    async def load_aliases(self, name: str | None) -> None:
        """The database's aliases of ``name`` (None: of every model) into the registry."""
        run = self.database.run
        names = await run(store.list_model_names) if name is None else [name]
        for each in names:
            aliases = await run(store.get_aliases, each)
            self.registry.set_aliases(each, {a.alias: a.version for a in aliases})

    async def load_rollouts(self, name: str | None) -> None:
        """The database's rollout of ``name`` (None: of every model) into the registry."""
        records = await self.database.run(store.get_rollouts, name)
        found = {record.name: record for record in records}
        names = set(found) | ({name} if name is not None else set(self.registry.rollouts()))
        for each in names:
            record = found.get(each)
            self.registry.set_rollout(each, Rollout() if record is None else rollout_of(record))

    async def record_versions(self, name: str) -> None:
        """Make the database agree with the files: record new versions, forget gone ones."""
        if not self.database.is_ready:
            return
        run = self.database.run
        known: dict[int, VersionRecord] = {
            r.version: r for r in await run(store.list_versions, name)
        }
        served = self.registry.find(name)
        on_disk = served.versions if served is not None else {}
        for number, version in on_disk.items():
            record = known.get(number)
            state: VersionState = "ready" if version.ready else "failed"
            if record is not None and (record.state, record.sha256) == (
                state,
                version.artifact_sha256,
            ):
                continue
            if record is not None and record.state == "pending":
                await self._settle_upload(record, version)
                continue
            await run(
                store.record_version,
                name,
                number,
                sha256=version.artifact_sha256,
                size=version.artifact_size,
                runtime=version.runtime.kind if version.runtime is not None else None,
                state=state,
                error=version.error,
                source=record.source if record is not None else "disk",
            )
        for number, record in known.items():
            if number in on_disk or record.state == "pending":
                continue
            if await asyncio.to_thread(version_on_disk, self.model_dir, name, number):
                continue  # unloaded here, but its files are there
            dropped = await run(store.discard_version, name, number, "its files are gone")
            log.warning(
                "model '%s' version %d: files gone, marked deleted%s",
                name,
                number,
                f" (aliases {', '.join(dropped)} removed)" if dropped else "",
            )

    async def _settle_upload(self, record: VersionRecord, version: ModelVersion) -> None:
        """An uploaded version whose folder is whole but whose number is still reserved:
        its uploader stopped (killed while the model loaded) or has not finished yet.
        Whichever settles the number first writes the upload's audit entry, once."""
        settled = await self.database.run(
            store.settle_pending,
            record.name,
            record.version,
            sha256=version.artifact_sha256,
            size=version.artifact_size,
            runtime=version.runtime.kind if version.runtime is not None else None,
            state="ready" if version.ready else "failed",
            error=version.error,
        )
        if settled is None:
            return  # the uploader (or another process) settled it and wrote the entry
        detail = {
            "version": record.version,
            "sha256": settled.sha256,
            "size": settled.size,
            "recorded": "from its files: the uploading process had not finished",
        }
        actor = Actor(record.created_by or "unknown")
        outcome = "ok" if version.ready else "failed"
        await self.audit.record(actor, "upload", record.name, detail, outcome=outcome)
