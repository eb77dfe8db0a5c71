"""Changes made elsewhere, applied to this process: other workers' and servers' actions
(replayed from the audit log by the change feed) and, in watch mode, the model folder's
own changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from modelport.db.records import AuditRecord
from modelport.errors import DatabaseUnavailableError
from modelport.management.audit import ROLLOUT_ACTIONS, AuditTrail
from modelport.management.catalog import Catalog
from modelport.management.files import remove_folder
from modelport.registry import ModelRegistry
from modelport.repository.objectstore import ModelStore, ModelStoreError

__all__ = ["Follower"]

log = logging.getLogger(__name__)


class Follower:
    """Applies other processes' actions and the folder's changes to this registry."""

    def __init__(
        self,
        registry: ModelRegistry,
        catalog: Catalog,
        audit: AuditTrail,
        lock: asyncio.Lock,
        mirror: ModelStore | None = None,
    ) -> None:
        self.registry = registry
        self.catalog = catalog
        self.audit = audit
        #: The manager's lock: one change at a time in this process.
        self._lock = lock
        #: The object store's local copy, when model_dir is one: brought up to date
        #: before a replayed change is loaded.
        self._mirror = mirror

    async def follow(self, entry: AuditRecord) -> None:
        """Replay another process's action on this process's registry."""
        if not self.audit.to_replay(entry):
            return
        target = entry.target
        if entry.action in ROLLOUT_ACTIONS:
            with contextlib.suppress(DatabaseUnavailableError):
                await self.catalog.load_rollouts(target)
            log.info("followed %s of '%s' by %s", entry.action, target, entry.actor)
            return
        async with self._lock:
            if self._mirror is not None:
                try:
                    await _fetch(self._mirror, entry)
                except ModelStoreError as exc:
                    # Serve what this copy has; the next change or reload fetches again.
                    log.error("%s; %s of '%s' replayed without it", exc, entry.action, target)
            if entry.action == "unload":
                if self.registry.find(target) is not None:
                    self.registry.unload(target)
            elif target == "*":
                await self.registry.reload(None)
            else:
                await self.registry.reload([target])
        with contextlib.suppress(DatabaseUnavailableError):
            await self.catalog.load_aliases(None if target == "*" else target)
        log.info("followed %s of '%s' by %s", entry.action, target, entry.actor)

    async def files_changed(self, names: set[str]) -> None:
        """Watch mode: entries of the model folder changed; load them like a reload."""
        async with self._lock:
            report = await self.registry.reload(names)
        for name, outcome in sorted(report.items()):
            log.info("watch: model '%s': %s", name, outcome)
            try:
                await self.catalog.record_versions(name)
            except DatabaseUnavailableError as exc:
                log.warning("watch: could not record '%s' in the database: %s", name, exc.message)


async def _fetch(mirror: ModelStore, entry: AuditRecord) -> None:
    """The store's files for a change about to be replayed: the model's (every model's
    for "*"), or a deleted version's local copy removed."""
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    if entry.action == "version.delete" and isinstance(detail.get("version"), int):
        folder = mirror.local / entry.target / str(detail["version"])
        await asyncio.to_thread(remove_folder, folder)
    elif entry.action != "unload":
        names = None if entry.target == "*" else [entry.target]
        await asyncio.to_thread(mirror.pull, names)
