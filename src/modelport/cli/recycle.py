"""Worker recycling, the supervisor's side: uvicorn's supervisor, which also replaces a
worker that asks for it (``max_requests``, ``max_worker_memory_mb``; the worker's side is
``api/recycling.py``).

Why no request is dropped:

- The fresh worker starts first and is swapped in only once it serves (its models
  loaded); until then the old one keeps serving. So at every moment some worker accepts,
  even with ``--workers 1``.
- The listening socket belongs to this supervisor and every worker holds a copy. When the
  old worker stops it closes only its copy: the socket stays open, and a connection
  arriving meanwhile waits in its backlog until a worker accepts it. Nothing is refused.
- The old worker is stopped as on SIGTERM: it stops accepting, answers what it has in
  flight (up to the graceful-shutdown timeout, request_timeout), then exits.
- While its successor starts, the old worker answers with ``Connection: close``, so that
  few idle keep-alive connections are left for its shutdown to close under a request.

Why not uvicorn's own ``limit_max_requests``: its worker stops first and the supervisor
starts the replacement only after it has exited (0.55 restarts a worker that exited
cleanly, as one that died), so with one worker nothing accepts while the new one loads
its models, and each worker pays its start-up time out of the serving capacity; and it
knows nothing of memory.

With ``--workers 1`` recycling runs this supervisor with one worker rather than being
refused: a user who sets a limit expects it to apply, and one worker plus a short-lived
successor costs less memory than the two workers a refusal would push them to.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click
from uvicorn.config import Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from modelport.api.recycling import FOLDER_VARIABLE
from modelport.config import Settings

__all__ = ["check_recycle_settings", "serve_recycling"]

log = logging.getLogger(__name__)

#: Seconds a successor may take to serve (its models loaded) before the old worker is
#: kept and the replacement tried again later.
READY_TIMEOUT_S = 300.0
#: Seconds before a failed replacement is tried again.
RETRY_S = 30.0
#: Seconds an old worker may take past its graceful-shutdown timeout before it is killed.
DRAIN_MARGIN_S = 10.0


def check_recycle_settings(settings: Settings) -> None:
    """Recycling replaces uvicorn workers; Ray Serve runs its replicas itself."""
    if settings.engine == "ray" and settings.recycles_workers:
        raise click.UsageError(
            "--max-requests and --max-worker-memory-mb are for --engine uvicorn; "
            "Ray Serve restarts its own replicas"
        )


def serve_recycling(app: str, settings: Settings, options: dict[str, Any]) -> None:
    """Serve ``app`` (an import string of a factory) with recycled workers."""
    config = Config(app, factory=True, workers=settings.workers, **options)
    with tempfile.TemporaryDirectory(prefix="modelport-recycle-") as folder:
        os.environ[FOLDER_VARIABLE] = folder
        try:
            sock = config.bind_socket()
            try:
                RecyclingSupervisor(config, [sock], Path(folder)).run()
            except KeyboardInterrupt:  # as uvicorn.run
                pass
            finally:
                sock.close()
        finally:
            del os.environ[FOLDER_VARIABLE]


class RecyclingSupervisor(Multiprocess):
    """uvicorn's supervisor, replacing one worker at a time when it asks: the successor
    first, then the old worker drains. The replacement runs in a thread, so signals and
    the other workers' health keep being looked after meanwhile."""

    def __init__(self, config: Config, sockets: list[Any], folder: Path) -> None:
        super().__init__(config, sockets)
        self.folder = folder
        #: Held while the list of workers is read or changed, by the loop or the thread.
        self.lock = threading.Lock()
        self.replacing: threading.Thread | None = None
        self.retry_at: dict[int, float] = {}

    def keep_subprocess_alive(self) -> None:
        """Every half second: the workers' health (uvicorn's), then their requests."""
        with self.lock:
            super().keep_subprocess_alive()
        self._start_replacement()

    def handle_signals(self) -> None:
        with self.lock:  # SIGHUP/TTIN/TTOU change the list of workers
            super().handle_signals()

    def terminate_all(self) -> None:
        with self.lock:
            super().terminate_all()

    def join_all(self) -> None:
        super().join_all()
        if self.replacing is not None:
            self.replacing.join()

    def _start_replacement(self) -> None:
        if self.should_exit.is_set() or (self.replacing and self.replacing.is_alive()):
            return
        with self.lock:
            workers = {process.pid: process for process in self.processes}
        now = time.monotonic()
        for pid, why in self._asks():
            if pid not in workers:  # gone meanwhile (died, or stopped by a signal)
                self._forget(pid)
            elif now >= self.retry_at.get(pid, 0.0):
                self.replacing = threading.Thread(
                    target=self._replace,
                    args=(workers[pid], why),
                    name="modelport-recycle",
                    daemon=True,
                )
                self.replacing.start()
                return

    def _asks(self) -> list[tuple[int, str]]:
        """The workers asking for a successor, with why, oldest ask first."""
        try:
            entries = sorted(
                (entry for entry in os.scandir(self.folder) if entry.name.endswith(".json")),
                key=lambda entry: entry.stat().st_mtime,
            )
        except OSError:
            return []
        asks = []
        for entry in entries:
            try:
                why = json.loads(Path(entry.path).read_text())["why"]
                asks.append((int(entry.name.removesuffix(".json")), str(why)))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return asks

    def _forget(self, pid: int) -> None:
        self.retry_at.pop(pid, None)
        with contextlib.suppress(OSError):
            (self.folder / f"{pid}.json").unlink()

    def _replace(self, old: Process, why: str) -> None:
        """Start a successor; once it serves, swap it in and stop ``old`` gracefully."""
        started = time.monotonic()
        new = Process(self.config, self.sockets)
        new.start()
        ready = new.wait_until_ready(READY_TIMEOUT_S, self.should_exit)
        with self.lock:
            swap = ready and not self.should_exit.is_set() and old in self.processes
            if swap:
                self.processes[self.processes.index(old)] = new
        if not swap:
            new.kill()
            new.join()
            if not self.should_exit.is_set() and not ready and old.pid is not None:
                log.error(
                    "worker [%s] asked to be replaced (%s), but its successor [%s] did not "
                    "start serving within %.0f s; it keeps serving, next try in %.0f s",
                    old.pid,
                    why,
                    new.pid,
                    READY_TIMEOUT_S,
                    RETRY_S,
                )
                self.retry_at[old.pid] = time.monotonic() + RETRY_S
            return
        log.info(
            "worker [%s] recycled: %s; worker [%s] serves in its place (started in %.1f s), "
            "and [%s] finishes the requests it has, then exits",
            old.pid,
            why,
            new.pid,
            time.monotonic() - started,
            old.pid,
        )
        if old.pid is not None:
            self._forget(old.pid)
        old.terminate()
        old.process.join((self.config.timeout_graceful_shutdown or 0) + DRAIN_MARGIN_S)
        if old.process.is_alive():
            log.warning("worker [%s] did not finish draining in time: killed", old.pid)
            old.kill()
            old.join()
        _forget_metrics(old.pid)


def _forget_metrics(pid: int | None) -> None:
    """Drop a gone worker's live gauges (queue depth, buffered log rows) from the shared
    metrics, which would otherwise add its last values to every scrape."""
    if pid is None or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
