"""What the registry holds: a served model, its versions, and each version's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from modelport.contracts import VersionMetadata, VersionSummary
from modelport.repository import BatchingConfig
from modelport.repository.model_yaml import LogConfig
from modelport.repository.monitor_config import MonitorConfig
from modelport.runtimes.base import Runtime
from modelport.signature import Signature

__all__ = ["FileStamp", "ModelVersion", "ServedModel", "VersionState"]

VersionState = Literal["ready", "failed"]
#: (path, size, mtime_ns) of every file a version was loaded from: equal stamps mean
#: nothing on disk changed, so a reload can keep the loaded version.
FileStamp = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a model: loaded and ready, or failed with the reason."""

    name: str
    version: int
    state: VersionState
    artifact: Path | None
    runtime: Runtime | None = None
    signature: Signature | None = None
    #: Why the version failed, in full: for the server log and the management API.
    error: str | None = None
    #: ``error`` as the public API shows it: paths under MODEL_DIR relative to it, any
    #: other absolute path hidden (see loader.public_text).
    public_error: str | None = None
    load_seconds: float | None = None
    loaded_at: datetime | None = None
    #: Size in bytes and sha256 of the artifact file, as loaded (None when unreadable).
    artifact_size: int | None = None
    artifact_sha256: str | None = None
    #: model.yaml's batching block (unset fields fall back to the server settings).
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    stamp: FileStamp = ()
    #: model.yaml's cache switch and log block (unset: the server settings decide).
    cache: bool | None = None
    log: LogConfig = field(default_factory=LogConfig)
    #: model.yaml's monitor block: thresholds, window, interval, webhook.
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    #: Digest of everything an answer depends on (artifact, model.yaml, code files):
    #: response-cache keys carry it, so a changed version never meets an old entry.
    fingerprint: str = ""
    #: What loading warned of (e.g. a pickle from another scikit-learn version).
    warnings: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def summary(self) -> VersionSummary:
        """What the public API says of this version."""
        return {
            "version": self.version,
            "state": self.state,
            "runtime": self.runtime.kind if self.runtime is not None else None,
            "artifact": self.artifact.name if self.artifact is not None else None,
            "error": self.public_error,
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "load_seconds": self.load_seconds,
            "size_bytes": self.artifact_size,
            "sha256": self.artifact_sha256,
            "warnings": list(self.warnings),
        }

    def describe(self) -> VersionMetadata:
        """Metadata of this version, with its signature when ready."""
        summary = self.summary()
        return VersionMetadata(
            name=self.name,
            version=summary["version"],
            state=summary["state"],
            runtime=summary["runtime"],
            artifact=summary["artifact"],
            error=summary["error"],
            loaded_at=summary["loaded_at"],
            load_seconds=summary["load_seconds"],
            size_bytes=summary["size_bytes"],
            sha256=summary["sha256"],
            warnings=summary["warnings"],
            signature=self.signature.to_dict() if self.signature else None,
        )


@dataclass(frozen=True, slots=True)
class ServedModel:
    name: str
    path: Path
    description: str = ""
    versions: dict[int, ModelVersion] = field(default_factory=dict)
    #: A problem with the model as a whole (bad model.yaml, no versions).
    error: str | None = None
    #: ``error`` as the public API shows it (as ModelVersion.public_error).
    public_error: str | None = None
    #: Stamp of the model-level model.yaml: when it changes, every version reloads.
    config_stamp: FileStamp = ()
    #: model.yaml's ``default``: which version answers a request that names none
    #: (unset: the server's ``default_version``).
    default: str | None = None

    def newest_ready(self) -> ModelVersion | None:
        ready = [v for v in self.versions.values() if v.ready]
        return max(ready, key=lambda v: v.version) if ready else None

    @property
    def state(self) -> VersionState:
        return "ready" if self.newest_ready() is not None else "failed"

    def failure_reason(self, *, public: bool = False) -> str:
        """Why no version is ready: in full, or as the public API shows it."""
        if self.error is not None:
            return str(self.public_error) if public else self.error
        errors = [
            f"version {v.version}: {v.public_error if public else v.error}"
            for v in self.versions.values()
            if v.error
        ]
        return "; ".join(errors) or "no version is ready"
