"""``modelport serve --engine ray``: modelport's own ASGI app as a Ray Serve deployment.

Each replica builds the very app ``--engine uvicorn`` serves (every HTTP protocol, custom
routes, the UI, the admin API) from the same settings, passed in its environment; Ray
Serve's proxy spreads requests over the replicas, on one machine or many. Replicas share
the model folder and the database, and follow each other's uploads and alias moves as
``--workers`` do (the database's change feed, Redis as a doorbell when configured).

What differs from uvicorn, and why:
- V2 gRPC and a separate metrics port are off: every replica would bind the same port.
  Ray Serve's own gRPC proxy wants servicers generated for it; gRPC clients use
  ``--engine uvicorn``.
- ``/metrics`` answers for the replica that serves the scrape (each replica counts its
  own requests); ``X-Modelport-Replica`` on every answer names the replica.

Ray is imported only here, only in this mode: the rest of modelport never needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import click

from modelport.access import is_loopback
from modelport.config import Settings, settings_to_env

__all__ = ["check_engine_settings", "check_ray_settings", "serve_on_ray"]

APP_NAME = "modelport"
REPLICA_HEADER = b"x-modelport-replica"
#: Requests one replica takes at once (its own queue and batching do the rest).
_MAX_ONGOING = 512
#: The object store's non-secret settings a replica gets from the command's environment.
_STORE_VARIABLES = {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"}
#: How long an unreachable --ray-address may take to refuse a connection.
_CONNECT_TIMEOUT_S = 3.0


def check_engine_settings(settings: Settings) -> None:
    """Settings of one engine given to the other are a mistake, not something to ignore."""
    if settings.engine == "ray":
        if settings.workers != 1:
            raise click.UsageError(
                "--workers is for --engine uvicorn; with --engine ray, give --replicas"
            )
        return
    given = [
        flag
        for flag, value in (
            ("--replicas", settings.replicas != 1),
            ("--autoscale", settings.autoscale is not None),
            ("--ray-address", settings.ray_address is not None),
        )
        if value
    ]
    if given:
        verb = "needs" if len(given) == 1 else "need"
        raise click.UsageError(f"{', '.join(given)} {verb} --engine ray")


def check_ray_settings(settings: Settings, given_model_dir: Path | None) -> tuple[int, int] | None:
    """Refuse, before anything starts, what cannot work; the autoscale range if any."""
    scale = None
    if settings.autoscale is not None:
        low, high = (int(part) for part in settings.autoscale.split(","))
        if low > high:
            raise click.UsageError(f"--autoscale {settings.autoscale}: MIN is above MAX")
        scale = (low, high)
    address = settings.ray_address
    if address is None:
        return scale
    host, port = _host_port(address)
    if (
        given_model_dir is not None
        and not given_model_dir.is_absolute()
        and not is_loopback(host)
        and host != socket.gethostname()
    ):
        raise click.UsageError(
            f"MODEL_DIR {given_model_dir} is a path relative to this folder, but the Ray "
            f"cluster at {address} runs replicas on other machines: give a path every node "
            "sees (the same absolute path on a shared file system)"
        )
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise click.UsageError(
            f"--ray-address {address}: nothing answers there ({exc.strerror or exc}); start "
            "the cluster first (ray start --head) or leave --ray-address out to start a "
            "local Ray instance"
        ) from exc
    return scale


def serve_on_ray(settings: Settings, given_model_dir: Path | None) -> None:
    """Deploy, serve until SIGTERM or Ctrl-C, then delete the deployment and stop Ray."""
    try:
        import ray
        from ray import serve
    except ImportError as exc:
        raise click.UsageError(
            "--engine ray needs Ray Serve, which is not installed here: "
            "pip install 'modelport[ray]'"
        ) from exc
    scale = check_ray_settings(settings, given_model_dir)
    env = settings_to_env(_replica_settings(settings))
    if settings.model_store is not None:
        # Where the store is and its region, as this command sees them. Not the
        # credentials: on a cluster they are each node's own (an instance role, or the
        # variables `ray start` was given), and a local instance inherits this command's
        # environment anyway.
        env.update({k: v for k, v in os.environ.items() if k in _STORE_VARIABLES})
    if settings.ray_address is None:
        # The local instance gets Ray Serve's HAProxy ingress unless told otherwise: on
        # the benchmark machine it answered ten times the requests of Ray's Python proxy
        # (make bench-ray). A cluster's nodes choose when they start (docs: ray.md).
        os.environ.setdefault("RAY_SERVE_ENABLE_HA_PROXY", "1")
    ray.init(
        # "local": a new instance, never a cluster another command left on this machine
        # (Ray would otherwise join the one named in /tmp/ray/ray_current_cluster).
        address=settings.ray_address or "local",
        namespace=APP_NAME,
        logging_level=logging.getLevelName(settings.log_level.upper()),
        include_dashboard=False if settings.ray_address is None else None,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port})
        options: dict[str, Any] = {
            "name": APP_NAME,
            "ray_actor_options": {"num_cpus": 1, "runtime_env": {"env_vars": env}},
            # modelport queues, batches and refuses (429) by itself: Ray Serve's default
            # of 5 requests at a time per replica would leave its batches nearly empty.
            "max_ongoing_requests": _MAX_ONGOING,
            # modelport writes its own access line; Ray's would be a second one per
            # request, shipped to the driver's terminal.
            "logging_config": {"enable_access_log": False},
        }
        if scale is None:
            options["num_replicas"] = settings.replicas
        else:
            options["autoscaling_config"] = {"min_replicas": scale[0], "max_replicas": scale[1]}
        deployment = serve.deployment(**options)(serve.ingress(build_replica_app)(Replica))
        serve.run(deployment.bind(), name=APP_NAME, route_prefix="/")
        count = settings.replicas if scale is None else f"{scale[0]} to {scale[1]}"
        click.echo(
            f"modelport on Ray Serve: {count} replica(s) at http://{settings.host}:"
            f"{settings.port} (Ctrl-C or SIGTERM stops them); V2 gRPC is served by "
            "--engine uvicorn only",
            err=True,
        )
        stop.wait()
    finally:
        click.echo("stopping: deleting the deployment", err=True)
        with contextlib.suppress(Exception):  # Ray may be gone already (its node died)
            serve.delete(APP_NAME)
            serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()


def _replica_settings(settings: Settings) -> Settings:
    """What each replica runs: no port of its own (the proxy has it), no gRPC and no
    metrics port (every replica would bind the same one)."""
    return settings.model_copy(update={"grpc_port": 0, "metrics_port": 0, "workers": 1})


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise click.UsageError(f"--ray-address {address}: give HOST:PORT (e.g. 10.0.0.5:6379)")
    return host.strip("[]"), int(port)


class Replica:
    """The Ray Serve deployment class: the app comes from build_replica_app."""


def build_replica_app() -> Any:
    """Run in each replica: the app from the settings in its environment, its answers
    naming the replica."""
    from ray import serve

    from modelport.api.app import create_app_from_env

    replica = serve.get_replica_context().replica_id.unique_id.encode()
    return NamedReplica(create_app_from_env(), replica)


class NamedReplica:
    """The replica's app: ``X-Modelport-Replica`` on every HTTP answer, and started only
    once every model has been tried, since Ray routes to a replica as soon as it has
    started (uvicorn's users have /health/ready for that; Ray's proxy does not ask)."""

    def __init__(self, app: Any, replica: bytes) -> None:
        self.app = app
        self.header = (REPLICA_HEADER, replica)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._after_models(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), self.header]}
            await send(message)

        await self.app(scope, receive, named)

    def _after_models(self, send: Any) -> Any:
        registry = self.app.services.registry

        async def started(message: Any) -> None:
            if message["type"] == "lifespan.startup.complete":
                # The registry has no event to wait on; a poll of 50 ms costs nothing here.
                while not registry.startup_complete:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await send(message)

        return started
