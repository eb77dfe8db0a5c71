"""A process's first load: the database migrated (when it answers), aliases read, every
model loaded, then the database brought up to date with what is on disk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from modelport.db import store
from modelport.db.database import Database
from modelport.errors import DatabaseUnavailableError
from modelport.management.catalog import Catalog
from modelport.management.files import STALE_PENDING, sweep_leftovers
from modelport.registry import ModelRegistry
from modelport.repository.objectstore import ModelStore
from modelport.rollout import policy_hint

__all__ = ["load_at_start"]

log = logging.getLogger(__name__)


async def load_at_start(
    database: Database, registry: ModelRegistry, catalog: Catalog, mirror: ModelStore | None
) -> None:
    """Migrate, load aliases, load every model, then record what is on disk; with an
    object store, its models are fetched into the local copy first."""
    if mirror is not None:
        await asyncio.to_thread(mirror.pull)
    with contextlib.suppress(DatabaseUnavailableError):
        await database.ready()
    if database.is_ready:
        await catalog.load_aliases(None)
        await catalog.load_rollouts(None)
    # Ready only once the database agrees with the files too: a client that saw
    # /health/ready must find every version in the history.
    await registry.load_all(complete_startup=False)
    hint = policy_hint(
        registry.default_version,
        ((m.name, m.default, registry.aliases(m.name)) for m in registry.models()),
    )
    if hint is not None:
        log.info(hint)
    try:
        if database.is_ready:
            try:
                await database.run(store.abandon_pending, datetime.now(UTC) - STALE_PENDING)
                for model in registry.models():
                    await catalog.record_versions(model.name)
            except DatabaseUnavailableError as exc:
                log.error("could not record the models in the database: %s", exc.message)
        await asyncio.to_thread(sweep_leftovers, registry.model_dir)
    finally:
        registry.complete_startup()
