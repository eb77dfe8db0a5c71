"""Notice models added, changed or removed under MODEL_DIR, once their files are stable.

Polling, not inotify: it works the same on every filesystem (network mounts, container
volumes) and needs no extra dependency. Each poll takes a cheap snapshot per top-level
entry (path, size and mtime of every file in it); an entry is reported only when its
snapshot differs from the last one reported *and* has not changed between two polls, so
a file still being copied in is never loaded half-way.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from modelport.repository.mlmodel import is_mlflow_folder
from modelport.repository.scan import single_file_name, single_folder_name

__all__ = ["RepositoryWatcher", "Snapshot", "snapshot_repository"]

log = logging.getLogger(__name__)

#: entry name -> sorted (relative path, size, mtime_ns) of its files.
Snapshot = dict[str, tuple[tuple[str, int, int], ...]]


def _ignored(name: str) -> bool:
    # Hidden names include the temporary files of atomic writes: never a change.
    return name.startswith((".", "_", "~"))


def snapshot_repository(model_dir: Path) -> Snapshot:
    """One look at every top-level entry (blocking: run it in a thread)."""
    snapshot: Snapshot = {}
    if model_dir.is_file():  # a server started on one file
        try:
            stat = model_dir.stat()
        except FileNotFoundError:
            return snapshot
        return {single_file_name(model_dir): (("", stat.st_size, stat.st_mtime_ns),)}
    if is_mlflow_folder(model_dir):  # a server started on one MLflow model folder
        return {single_folder_name(model_dir): tuple(sorted(_files_under(model_dir)))}
    try:
        entries = list(os.scandir(model_dir))
    except FileNotFoundError:
        return snapshot
    for entry in entries:
        if _ignored(entry.name):
            continue
        try:
            if entry.is_dir():
                snapshot[entry.name] = tuple(sorted(_files_under(Path(entry.path))))
            else:
                stat = entry.stat()
                snapshot[entry.name] = (("", stat.st_size, stat.st_mtime_ns),)
        except FileNotFoundError:  # removed while we looked: the next poll will say
            continue
    return snapshot


def _files_under(folder: Path) -> list[tuple[str, int, int]]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not _ignored(d) and d != "__pycache__"]
        for name in files:
            if _ignored(name):
                continue
            path = Path(root) / name
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            found.append((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    return found


@dataclass
class RepositoryWatcher:
    """Calls ``on_change(names)`` with the entries that changed and have settled."""

    model_dir: Path
    on_change: Callable[[set[str]], Awaitable[None]]
    interval_s: float = 0.5
    _reported: Snapshot = field(default_factory=dict)
    _previous: Snapshot = field(default_factory=dict)

    def start_from(self, snapshot: Snapshot) -> None:
        """Take ``snapshot`` as what is already served (e.g. the start-up scan)."""
        self._reported = dict(snapshot)
        self._previous = dict(snapshot)

    def settled_changes(self, current: Snapshot) -> set[str]:
        """Names whose entry differs from the last report and matched the previous poll."""
        names = set(current) | set(self._reported)
        changed = {
            name
            for name in names
            if current.get(name) != self._reported.get(name)
            and current.get(name) == self._previous.get(name)
        }
        self._previous = current
        for name in changed:
            if name in current:
                self._reported[name] = current[name]
            else:
                self._reported.pop(name, None)
        return changed

    async def run(self) -> None:
        """Poll until cancelled; a failing callback is logged and retried next change."""
        while True:
            await asyncio.sleep(self.interval_s)
            current = await asyncio.to_thread(snapshot_repository, self.model_dir)
            changed = self.settled_changes(current)
            if not changed:
                continue
            log.info("model folder changed: %s", ", ".join(sorted(changed)))
            try:
                await self.on_change(changed)
            except Exception:
                log.exception("reloading %s failed", sorted(changed))
