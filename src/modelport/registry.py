"""Served models: name -> versions -> loaded runtime, and which version answers a request.

Loading (slow, blocking) happens in worker threads through :func:`load_model`; the
registry's maps are only changed on the event loop, by swapping a whole entry in, so a
request sees either the old entry or the new one, never a half-built one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from modelport.errors import (
    ModelLoadError,
    ModelNotFoundError,
    ModelNotReadyError,
    ModelportError,
    VersionNotFoundError,
)
from modelport.inputs import Payload, Records, Rows, to_batch
from modelport.outputs import run_model
from modelport.repository import (
    BatchingConfig,
    ModelConfig,
    ModelSource,
    VersionSource,
    read_model_yaml,
    scan_repository,
)
from modelport.repository.scan import artifact_digest
from modelport.runtimes.base import Runtime, artifact_suffixes, load_context, runtime_for
from modelport.signature import Signature, build_signature

__all__ = ["ModelRegistry", "ModelVersion", "ServedModel", "load_model"]

log = logging.getLogger(__name__)

VersionState = Literal["ready", "failed"]
LATEST = "latest"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a model: loaded and ready, or failed with the reason."""

    name: str
    version: int
    state: VersionState
    artifact: Path | None
    runtime: Runtime | None = None
    signature: Signature | None = None
    error: str | None = None
    load_seconds: float | None = None
    loaded_at: datetime | None = None
    #: Size in bytes and sha256 of the artifact file, as loaded (None when unreadable).
    artifact_size: int | None = None
    artifact_sha256: str | None = None
    #: model.yaml's batching block (unset fields fall back to the server settings).
    batching: BatchingConfig = field(default_factory=BatchingConfig)

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "state": self.state,
            "runtime": self.runtime.kind if self.runtime is not None else None,
            "artifact": self.artifact.name if self.artifact is not None else None,
            "error": self.error,
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "load_seconds": self.load_seconds,
            "size_bytes": self.artifact_size,
            "sha256": self.artifact_sha256,
        }

    def describe(self) -> dict[str, Any]:
        """Metadata of this version, with its signature when ready."""
        return {
            "name": self.name,
            **self.summary(),
            "signature": self.signature.to_dict() if self.signature else None,
        }


@dataclass(frozen=True, slots=True)
class ServedModel:
    name: str
    path: Path
    description: str = ""
    versions: dict[int, ModelVersion] = field(default_factory=dict)
    #: A problem with the model as a whole (bad model.yaml, no versions).
    error: str | None = None

    def newest_ready(self) -> ModelVersion | None:
        ready = [v for v in self.versions.values() if v.ready]
        return max(ready, key=lambda v: v.version) if ready else None

    @property
    def state(self) -> VersionState:
        return "ready" if self.newest_ready() is not None else "failed"

    def failure_reason(self) -> str:
        if self.error is not None:
            return self.error
        errors = [f"version {v.version}: {v.error}" for v in self.versions.values() if v.error]
        return "; ".join(errors) or "no version is ready"


class ModelRegistry:
    """The models this process serves."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self._models: dict[str, ServedModel] = {}
        #: True once every model found at start-up has been tried (ready or failed).
        self.startup_complete = False

    def models(self) -> list[ServedModel]:
        return [self._models[name] for name in sorted(self._models)]

    def get(self, name: str) -> ServedModel:
        model = self._models.get(name)
        if model is None:
            if not self.startup_complete:
                raise ModelNotReadyError(
                    f"model '{name}' is not loaded yet: the server is still loading models"
                )
            raise ModelNotFoundError(name, self._models)
        return model

    def resolve(self, name: str, version: str | None = None) -> ModelVersion:
        """The version that answers ``name`` (+ optional version number or 'latest')."""
        model = self.get(name)
        if version is None or version == LATEST:
            chosen = model.newest_ready()
            if chosen is None:
                raise ModelNotReadyError(
                    f"model '{name}' has no ready version: {model.failure_reason()}"
                )
            return chosen
        number = int(version) if version.isdecimal() else None
        found = model.versions.get(number) if number is not None else None
        if found is None:
            raise VersionNotFoundError(
                name, version, [LATEST, *(str(v) for v in sorted(model.versions))]
            )
        if not found.ready:
            raise ModelNotReadyError(
                f"version {found.version} of model '{name}' is not ready: {found.error}"
            )
        return found

    def put(self, model: ServedModel) -> None:
        """Swap one model entry in (on the event loop)."""
        self._models[model.name] = model

    async def load_all(self) -> None:
        """Scan the repository and load every model, one at a time, in a worker thread."""
        sources = await asyncio.to_thread(scan_repository, self.model_dir, artifact_suffixes())
        log.info("found %d model(s) in %s", len(sources), self.model_dir)
        for source in sources:
            self.put(await asyncio.to_thread(load_model, source))
        self.startup_complete = True
        ready = sum(1 for m in self._models.values() if m.state == "ready")
        log.info("%d of %d model(s) ready", ready, len(self._models))

    # -- the model repository extension (Open Inference Protocol load / unload) ---------

    async def names_on_disk(self) -> list[str]:
        """Names of the model entries in the model folder now (nothing is loaded)."""
        sources = await asyncio.to_thread(scan_repository, self.model_dir, artifact_suffixes())
        return [source.name for source in sources]

    async def load_model_by_name(self, name: str) -> ServedModel:
        """Load (or reload) one model from the model folder and swap in what loaded.

        A version that fails to load never replaces a ready one being served; any failure
        is then raised as ModelLoadError, naming the versions and why.
        """
        sources = await asyncio.to_thread(scan_repository, self.model_dir, artifact_suffixes())
        source = next((s for s in sources if s.name == name), None)
        if source is None:
            raise ModelNotFoundError(name, [s.name for s in sources])
        fresh = await asyncio.to_thread(load_model, source)
        problems = [f"version {n}: {v.error}" for n, v in sorted(fresh.versions.items()) if v.error]
        if fresh.error is not None:
            problems.insert(0, fresh.error)
        old = self._models.get(name)
        served = old is not None and old.newest_ready() is not None
        if old is not None:
            kept = {
                number: version
                for number, version in old.versions.items()
                if version.ready and number in fresh.versions and not fresh.versions[number].ready
            }
            if kept:
                fresh = replace(fresh, versions={**fresh.versions, **kept})
        if fresh.newest_ready() is not None or not served:
            self.put(fresh)
        if problems or fresh.newest_ready() is None:
            raise ModelLoadError(
                f"model '{name}' failed to load: {'; '.join(problems) or 'no version is ready'}"
                + ("; the versions being served stay" if served else "")
            )
        return fresh

    def unload(self, name: str) -> ServedModel:
        """Stop serving a model (its files stay; load_model_by_name brings it back)."""
        model = self.get(name)
        del self._models[name]
        log.info("model '%s' unloaded", name)
        return model


def load_model(source: ModelSource) -> ServedModel:
    """Load every version of one model entry (blocking); never raises for a bad file."""
    try:
        config = read_model_yaml(source.config_file) if source.config_file else ModelConfig()
    except ModelLoadError as exc:
        log.error("model '%s' failed: %s", source.name, exc.message)
        return ServedModel(source.name, source.path, error=exc.message)
    if source.problem is not None:
        log.error("model '%s' failed: %s", source.name, source.problem)
    versions = {
        number: load_version(source.name, version, config)
        for number, version in sorted(source.versions.items())
    }
    return ServedModel(source.name, source.path, config.description, versions, error=source.problem)


def load_version(name: str, source: VersionSource, config: ModelConfig) -> ModelVersion:
    """Load, inspect and warm up one artifact; a failure becomes a ``failed`` version."""
    started = time.monotonic()
    try:
        if source.artifact is None:
            raise ModelLoadError(source.problem or "no artifact")
        size, sha256 = _digest(source.artifact)
        spec = runtime_for(source.artifact, config.runtime)
        runtime = spec.load(source.artifact, load_context(source, config))
        signature = build_signature(
            runtime.hints,
            config.declared_features(),
            config.labels,
            allow_missing=config.allow_missing,
        )
        _warm_up(runtime, signature, config)
    except ModelportError as exc:
        return _failed(name, source, exc.message)
    except Exception as exc:  # a broken artifact may raise anything while unpickling
        log.exception("model '%s' version %d: unexpected load failure", name, source.version)
        return _failed(name, source, f"{type(exc).__name__}: {exc}")
    elapsed = round(time.monotonic() - started, 4)
    log.info("model '%s' version %d ready (%s, %.3fs)", name, source.version, runtime.kind, elapsed)
    return ModelVersion(
        name,
        source.version,
        "ready",
        source.artifact,
        runtime=runtime,
        signature=signature,
        load_seconds=elapsed,
        loaded_at=datetime.now(UTC),
        artifact_size=size,
        artifact_sha256=sha256,
        batching=config.batching,
    )


def _failed(name: str, source: VersionSource, reason: str) -> ModelVersion:
    log.error("model '%s' version %d failed to load: %s", name, source.version, reason)
    size, sha256 = _digest(source.artifact) if source.artifact else (None, None)
    return ModelVersion(
        name,
        source.version,
        "failed",
        source.artifact,
        error=reason,
        artifact_size=size,
        artifact_sha256=sha256,
    )


def _digest(artifact: Path) -> tuple[int, str] | tuple[None, None]:
    try:
        return artifact_digest(artifact)
    except OSError:
        return None, None  # the loader names the problem; metadata just stays empty


def _warm_up(runtime: Runtime, signature: Signature, config: ModelConfig) -> None:
    """Answer one prediction before serving, so a model that cannot predict never serves."""
    payload: Payload | None = None
    if isinstance(config.example, dict):
        payload = Records([config.example])
    elif isinstance(config.example, list):
        payload = Rows([config.example])
    elif signature.all_numeric and signature.n_features is not None:
        payload = Rows([[0.0] * signature.n_features])
    if payload is None:
        return
    try:
        run_model(runtime, signature, to_batch(payload, signature), 1, probabilities=True)
    except ModelportError as exc:
        raise ModelLoadError(f"warm-up prediction failed: {exc.message}") from exc
    except Exception as exc:
        raise ModelLoadError(f"warm-up prediction failed: {type(exc).__name__}: {exc}") from exc
