"""What the store functions take and return: frozen dataclasses, never ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "VERSION_STATES",
    "AliasRecord",
    "AuditRecord",
    "NewPrediction",
    "PredictionRecord",
    "RolloutRecord",
    "TokenInfo",
    "VersionRecord",
    "VersionState",
]

# pending: number reserved, artifact being written; ready/failed: loaded or not;
# deleted: kept as history so that its number is never handed out again.
VersionState = Literal["pending", "ready", "failed", "deleted"]
VERSION_STATES: tuple[VersionState, ...] = ("pending", "ready", "failed", "deleted")


@dataclass(frozen=True, slots=True)
class VersionRecord:
    name: str
    version: int
    sha256: str | None
    size: int | None
    runtime: str | None
    state: VersionState
    error: str | None
    source: str
    created_at: datetime
    created_by: str | None


@dataclass(frozen=True, slots=True)
class AliasRecord:
    name: str
    alias: str
    version: int
    updated_at: datetime
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class RolloutRecord:
    name: str
    #: Targets (aliases or version numbers) -> percent of the default traffic; None: off.
    traffic: dict[str, int] | None
    shadow: str | None
    shadow_sample_rate: float | None
    updated_at: datetime
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    client_address: str | None
    outcome: str
    detail: Any


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token's metadata; the token itself is shown once, at creation, and never stored."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class NewPrediction:
    """One prediction to log; ``input`` may be None when only its hash is kept."""

    request_id: str
    at: datetime
    model: str
    version: int | None
    protocol: str
    input: Any
    input_hash: str | None
    output: Any
    latency_ms: float
    status: str
    client_address: str | None = None
    #: What was left out of a too-big input or output (predlog_rows.py), else None.
    truncation: dict[str, Any] | None = None
    #: The message the client got when the prediction failed, else None.
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    id: int
    request_id: str
    at: datetime
    model: str
    version: int | None
    protocol: str
    input: Any
    input_hash: str | None
    output: Any
    latency_ms: float
    status: str
    client_address: str | None
    #: {"input": {"bytes", "sha256"[, "strings_cut"]}, "output": {...}} for the parts that
    #: were too big to log whole; None for a row logged in full.
    truncation: dict[str, Any] | None = None
    #: The message the client got when the prediction failed (status not "ok").
    error: str | None = None
