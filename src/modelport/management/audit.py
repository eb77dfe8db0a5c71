"""Who asked for an action, and the audit entry each action leaves.

Every entry is tagged with this process's ``origin``, so that the process does not
replay its own actions when it follows the log (``following.py``); writing one rings
the change feed's doorbell, so the other processes look at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from modelport.db import store
from modelport.db.database import Database
from modelport.db.records import AuditRecord
from modelport.errors import DatabaseUnavailableError
from modelport.metrics import Metrics

__all__ = ["REPLAYED", "ROLLOUT_ACTIONS", "Actor", "AuditTrail"]

log = logging.getLogger(__name__)

#: The actions that change only a model's rollout: replayed without reloading its files.
ROLLOUT_ACTIONS = frozenset({"traffic.set", "shadow.set"})
#: The actions other processes replay.
REPLAYED = frozenset(
    {"upload", "version.delete", "alias.set", "alias.delete", "reload", "load", "unload"}
    | ROLLOUT_ACTIONS
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked for an action, for the audit log."""

    name: str
    address: str | None = None


class AuditTrail:
    """Writes this process's audit entries."""

    def __init__(
        self,
        database: Database,
        on_change: Callable[[], Awaitable[None]] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.database = database
        #: Called after each entry is written (the change feed's doorbell).
        self.on_change = on_change
        #: Counts every action by kind and outcome (modelport_management_actions_total).
        self.metrics = metrics
        #: Tags this process's entries, so that it does not replay its own.
        self.origin = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    async def record(
        self, actor: Actor, action: str, target: str, detail: dict[str, Any], outcome: str = "ok"
    ) -> None:
        """Write one action's entry, then ring; a database outage is logged, not raised
        (the action happened; other workers will not hear of it until they reload)."""
        if self.metrics is not None:
            self.metrics.action(action, outcome)
        try:
            await self.database.run(
                store.add_audit,
                actor=actor.name,
                action=action,
                target=target,
                outcome=outcome,
                client_address=actor.address,
                detail={**detail, "origin": self.origin},
            )
        except DatabaseUnavailableError as exc:
            log.error("could not audit %s of '%s': %s", action, target, exc.message)
            return
        if self.on_change is not None:
            await self.on_change()

    def to_replay(self, entry: AuditRecord) -> bool:
        """Whether ``entry`` is another process's action that this one must replay."""
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        return detail.get("origin") != self.origin and entry.action in REPLAYED
