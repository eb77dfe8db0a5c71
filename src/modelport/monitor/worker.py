"""The background monitor: in one process of a server, every model's report on its own
interval; the gauges follow, and a status change is logged and POSTed to the webhook.

Prediction requests never wait for it: it reads the log the writer already stored, in
worker threads, at most once per model per ``monitor.interval``. With ``--workers N`` the
processes race for an exclusive lock on a file named after the model folder and the
database; the holder monitors, the others try again each interval (and take over when the
holder exits, since the system drops a dead process's lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from modelport.errors import MissingDependencyError, ModelportError
from modelport.metrics import Metrics
from modelport.monitor.service import MonitorService
from modelport.monitor.webhook import post_with_retries
from modelport.registry import ModelRegistry
from modelport.served import ModelVersion

__all__ = ["MonitorWorker", "lock_path"]

log = logging.getLogger(__name__)

#: The output's entry among the features (gauges, changes).
OUTPUT_FEATURE = "__output__"
#: Longest pause between two rounds: a round with nothing due only walks the registry,
#: and a model uploaded meanwhile is seen this soon (its own interval may be shorter).
MAX_PAUSE = 1.0


def lock_path(model_dir: Path, database_url: str) -> Path:
    """The lock file the workers of one server (same models, same database) share."""
    digest = hashlib.sha256(f"{model_dir.resolve()}|{database_url}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"modelport-monitor-{digest}.lock"


def _try_lock(path: Path) -> IO[bytes] | None:
    import fcntl  # POSIX only; elsewhere every process monitors (see run)

    handle = path.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def statuses_of(report: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """feature -> (status, score) of a report, the output as OUTPUT_FEATURE."""
    found = {f["feature"]: (f["status"], f["score"]) for f in report.get("features", [])}
    if report.get("output"):
        found[OUTPUT_FEATURE] = (report["output"]["status"], report["output"]["score"])
    return found


class MonitorWorker:
    """Runs the monitor when this process holds the lock; see the module's docstring."""

    def __init__(
        self,
        service: MonitorService,
        registry: ModelRegistry,
        metrics: Metrics | None,
        lock: Path | None,
    ) -> None:
        self._service = service
        self._registry = registry
        self._metrics = metrics
        self._lock = lock
        self._held: IO[bytes] | None = None
        self._due: dict[tuple[str, int], float] = {}
        self._last: dict[tuple[str, int], dict[str, tuple[str, float]]] = {}
        self._deliveries: set[asyncio.Task[bool]] = set()
        #: The analysis's libraries are missing, and the log has said so once.
        self._said_missing = False

    async def run(self) -> None:
        """Forever: take the lock if free, then monitor the models that are due (never,
        said once, when the analysis's libraries are not installed)."""
        try:
            while True:
                pause = MAX_PAUSE
                if self._leading():
                    pause = await self._round()
                await asyncio.sleep(pause)
        finally:
            if self._held is not None:
                self._held.close()

    def _leading(self) -> bool:
        if self._held is not None or self._lock is None:
            return True
        with contextlib.suppress(ImportError):
            self._held = _try_lock(self._lock)
            if self._held is not None:
                log.info("monitor: this process (pid %d) runs the drift monitor", os.getpid())
            return self._held is not None
        return True

    def _versions(self) -> list[ModelVersion]:
        served = []
        for model in self._registry.models():
            with contextlib.suppress(ModelportError):
                version = self._registry.resolve(model.name, None, route_key="monitor")
                if version.state == "ready" and version.monitor.enabled:
                    served.append(version)
        return served

    async def _round(self) -> float:
        """Monitor each version that is due; the seconds until the next is."""
        now = time.monotonic()
        pause = MAX_PAUSE
        for version in self._versions():
            key = (version.name, version.version)
            if self._due.get(key, 0.0) <= now:
                try:
                    await self.check(version)
                except MissingDependencyError as exc:
                    if not self._said_missing:
                        log.warning("monitor: %s", exc.message)
                        self._said_missing = True
                except Exception:  # one model's trouble must not stop the others'
                    log.exception("monitor: %s version %d failed", *key)
                self._due[key] = time.monotonic() + version.monitor.interval
            pause = min(pause, max(0.05, self._due[key] - time.monotonic()))
        return pause

    async def check(self, version: ModelVersion) -> dict[str, Any]:
        """One report of ``version``: gauges, and the changes since the last one."""
        report = await self._service.report_version(version)
        now = statuses_of(report)
        if self._metrics is not None and report.get("window") is not None:
            rows = [(name, score, status) for name, (status, score) in sorted(now.items())]
            self._metrics.monitor.show(version.name, version.version, report["status"], rows)
        key = (version.name, version.version)
        # Before the first report every feature counts as ok: a model that starts out
        # drifted is reported once, one that is fine is not reported at all.
        before = self._last.get(key, {})
        self._last[key] = now
        changes = [
            {
                "feature": name,
                "from": before.get(name, ("ok", 0.0))[0],
                "to": status,
                "score": score,
            }
            for name, (status, score) in sorted(now.items())
            if status != before.get(name, ("ok", 0.0))[0]
        ]
        if changes:
            self._announce(version, report, changes)
        return report

    def _announce(
        self, version: ModelVersion, report: dict[str, Any], changes: list[dict[str, Any]]
    ) -> None:
        for change in changes:
            log.warning(
                "monitor: model %s version %d feature %s: %s -> %s (score %.4g)",
                version.name,
                version.version,
                change["feature"],
                change["from"],
                change["to"],
                change["score"],
            )
        url = version.monitor.webhook
        if url is None:
            return
        document = {
            "model": version.name,
            "version": version.version,
            "status": report["status"],
            "changes": changes,
            "window": report.get("window"),
        }
        task = asyncio.create_task(post_with_retries(url, document), name="modelport-webhook")
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
