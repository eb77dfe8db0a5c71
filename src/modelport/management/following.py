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
from modelport.registry import ModelRegistry

__all__ = ["Follower"]

log = logging.getLogger(__name__)


class Follower:
    """Applies other processes' actions and the folder's changes to this registry."""

    def __init__(
        self, registry: ModelRegistry, catalog: Catalog, audit: AuditTrail, lock: asyncio.Lock
    ) -> None:
        self.registry = registry
        self.catalog = catalog
        self.audit = audit
        #: The manager's lock: one change at a time in this process.
        self._lock = lock

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
