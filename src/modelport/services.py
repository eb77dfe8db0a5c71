"""The composition root: every part of one server process, built once, each given what
it needs when it is constructed (nothing is attached afterwards; tests/test_wiring.py
checks both).

``api/app.py`` builds the web app around these parts; the gRPC server and the engines
use the same ones. Start and stop are here too, so that the order is written once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from modelport import __version__
from modelport.accesswriter import AccessWriter
from modelport.cache import ServingCache
from modelport.config import Settings
from modelport.db.database import Database
from modelport.inference import InferenceService
from modelport.kvstore import KeyValueStore, make_store
from modelport.management.actions import ModelManager
from modelport.management.audit import AuditTrail
from modelport.management.catalog import Catalog
from modelport.management.following import Follower
from modelport.management.startup import load_at_start
from modelport.metrics import Metrics
from modelport.monitor.service import MonitorService
from modelport.monitor.worker import MonitorWorker, lock_path
from modelport.predlog import PredictionLog
from modelport.registry import ModelRegistry
from modelport.repository.objectstore import ModelStore
from modelport.repository.watch import RepositoryWatcher, snapshot_repository
from modelport.routes import RouteTable, load_routes
from modelport.sync import ChangeFeed, Doorbell
from modelport.tracing import Tracing, tracing_from_env

__all__ = ["Services", "build_services", "make_url_safe"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    """The parts of one server process."""

    settings: Settings
    database: Database
    cache: ServingCache
    registry: ModelRegistry
    prediction_log: PredictionLog
    inference: InferenceService
    doorbell: Doorbell
    catalog: Catalog
    audit: AuditTrail
    manager: ModelManager
    follower: Follower
    feed: ChangeFeed
    watcher: RepositoryWatcher
    #: None when metrics are off (settings.metrics).
    metrics: Metrics | None
    #: None unless OpenTelemetry is configured (modelport.tracing).
    tracing: Tracing | None
    #: Where access lines go; None when the access log is off (or the level above info).
    access_log: AccessWriter | None
    #: The custom routes' key-value store.
    store: KeyValueStore
    #: The custom routes, read and imported at build time, so the app's route table is
    #: complete before it serves (they change at the next start, not on a model reload).
    route_table: RouteTable
    #: Drift and data-quality reports (GET /v1/models/{name}/monitor).
    monitor: MonitorService
    #: Computes them in the background in one process of the server (gauges, webhook).
    monitor_worker: MonitorWorker

    async def start(self, background: list[asyncio.Task[Any]]) -> None:
        """Load the models, then follow other processes' changes and (optionally) the
        folder; the long-running tasks are added to ``background``."""
        settings = self.settings
        # Where the feed starts is read before the scan, so a change made while this
        # process loads is replayed rather than missed.
        if self.metrics is not None:
            self.metrics.start()
        await self.feed.begin()
        if settings.watch:
            snapshot = await asyncio.to_thread(snapshot_repository, settings.model_dir)
            self.watcher.start_from(snapshot)
        await load_at_start(self.database, self.registry, self.catalog, self.manager.mirror)
        log.info("%s", self.describe())
        background.append(asyncio.create_task(self.feed.run(), name="modelport-change-feed"))
        if settings.watch:
            log.info("watching %s for new and changed models", settings.model_dir)
            background.append(asyncio.create_task(self.watcher.run(), name="modelport-watch"))
        background.append(asyncio.create_task(self.monitor_worker.run(), name="modelport-monitor"))

    def describe(self) -> str:
        """What this process serves and uses, in one block for the start-up log (no
        password, no token)."""
        settings = self.settings
        models = self.registry.models()
        ready = sum(1 for model in models if model.state == "ready")
        grpc = f"{settings.host}:{settings.grpc_port}" if settings.grpc_port else "off"
        redis = settings.redis_url
        backend = f"Redis {make_url_safe(redis)}" if redis else "in-process (each worker its own)"
        use = "on for every model" if settings.cache else "for models whose model.yaml asks"
        lines = [
            f"modelport {__version__}: {ready} of {len(models)} model(s) ready "
            f"from {settings.model_dir}",
            f"  HTTP        http://{settings.host}:{settings.port} ({settings.workers} worker(s))",
            f"  gRPC        {grpc}",
            f"  database    {self.database.engine.url.render_as_string(hide_password=True)}",
            f"  cache       {backend}, {use}",
            f"  metrics     {'GET /metrics' if settings.metrics else 'off'}",
            f"  access log  {settings.log_format if settings.access_log else 'off'}",
        ]
        return "\n".join(lines)

    async def close(self) -> None:
        """Stop serving: the inference pool, the log's last writes (bounded in time), the
        cache, the database and the store."""
        self.inference.close()
        await self.prediction_log.close()
        await self.cache.close()
        self.database.close()
        self.store.close()
        if self.tracing is not None:
            self.tracing.shutdown()  # sends the spans still waiting
        if self.access_log is not None:
            self.access_log.close()  # the last lines
        if self.metrics is not None:
            self.metrics.close()  # the last observations, for the other workers' scrapes


def build_services(settings: Settings, tracing: Tracing | None = None) -> Services:
    """Every part, in dependency order; ``tracing`` as given (a test's), else as the
    OpenTelemetry variables say (none when they are not set)."""
    # The process's own: how soon the event loop gets the interpreter back from model
    # threads that run Python code (a trade against throughput: the setting says).
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
    database = Database.from_settings(settings)
    metrics = Metrics(settings.metrics_compat, settings.workers) if settings.metrics else None
    cache = ServingCache.from_settings(settings, metrics)
    tracing = tracing if tracing is not None else tracing_from_env()

    def changed(name: str) -> None:
        # What a model serves changed: the response cache drops its entries, and the
        # metrics show the versions' states.
        cache.forget_soon(name)
        if metrics is not None:
            metrics.publish(registry.find(name), name)

    registry = ModelRegistry(
        settings.model_dir, on_change=changed, default_version=settings.default_version
    )
    prediction_log = PredictionLog(database, settings, metrics)
    inference = InferenceService.from_settings(
        registry, settings, cache, prediction_log, metrics, tracing
    )
    doorbell = Doorbell(settings.redis_url)
    audit = AuditTrail(database, on_change=doorbell.ring, metrics=metrics)
    catalog = Catalog(database, registry, settings.model_dir, audit)
    lock = asyncio.Lock()  # one change at a time in this process, from any source
    # An object-store model_dir: this process's copy of it (repository/objectstore.py).
    mirror = (
        ModelStore.open(settings.model_store, settings.model_dir)
        if settings.model_store is not None
        else None
    )
    manager = ModelManager(settings, registry, database, catalog, audit, lock, mirror)
    follower = Follower(registry, catalog, audit, lock, mirror)
    feed = ChangeFeed(database, follower.follow, settings.sync_interval, doorbell)
    watcher = RepositoryWatcher(settings.model_dir, follower.files_changed, settings.watch_interval)
    monitor = MonitorService(registry, database)
    election = lock_path(settings.model_dir, str(database.engine.url))
    return Services(
        settings=settings,
        database=database,
        cache=cache,
        registry=registry,
        prediction_log=prediction_log,
        inference=inference,
        doorbell=doorbell,
        catalog=catalog,
        audit=audit,
        manager=manager,
        follower=follower,
        feed=feed,
        watcher=watcher,
        metrics=metrics,
        tracing=tracing,
        access_log=_access_writer(settings),
        store=make_store(settings.redis_url),
        route_table=load_routes(settings.model_dir),
        monitor=monitor,
        monitor_worker=MonitorWorker(monitor, registry, metrics, election),
    )


def _access_writer(settings: Settings) -> AccessWriter | None:
    if not settings.access_log or settings.log_level not in ("debug", "info"):
        return None
    return AccessWriter(settings.log_format)


def make_url_safe(url: str) -> str:
    """``url`` without its password (``redis://:secret@host`` -> ``redis://:***@host``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
