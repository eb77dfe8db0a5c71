"""The typed shapes of the protocols' JSON answers, one source for the core and OpenAPI.

TypedDicts, so the core returns plain dicts that orjson encodes with no model
validation on the request's path; ``api/`` names them as a route's documented answer
(``responses={200: {"model": ...}}``) and FastAPI generates their JSON Schema. This
module imports nothing from modelport, so every layer can use it (tests/test_layering.py).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

# pydantic reads TypedDicts from typing_extensions on Python < 3.12.
from typing_extensions import TypedDict

__all__ = [
    "AliasDeleted",
    "AliasSet",
    "CompareReport",
    "DefaultPolicy",
    "Live",
    "ModelHistory",
    "ModelList",
    "ModelMetadata",
    "ModelRollout",
    "ModelStateChange",
    "ModelSummary",
    "MonitorFeature",
    "MonitorReport",
    "Ready",
    "ReloadAnswer",
    "ShadowTarget",
    "TrafficShare",
    "UploadedVersion",
    "V2Live",
    "V2ModelMetadata",
    "V2ModelReady",
    "V2Ready",
    "V2RepositoryEntry",
    "V2ServerMetadata",
    "V2TensorMetadata",
    "VersionDeleted",
    "VersionHistoryEntry",
    "VersionMetadata",
    "VersionSummary",
]


class V2Live(TypedDict):
    """GET /v2/health/live."""

    live: bool


class V2Ready(TypedDict):
    """GET /v2/health/ready; ``error`` says why not."""

    ready: bool
    error: NotRequired[str]


class V2ModelReady(TypedDict):
    """GET /v2/models/{name}[/versions/{version}]/ready; ``error`` says why not (400)."""

    name: str
    ready: bool
    error: NotRequired[str]


class V2ServerMetadata(TypedDict):
    """GET /v2: the server's name, version and protocol extensions."""

    name: str
    version: str
    extensions: list[str]


class V2TensorMetadata(TypedDict):
    """One input or output tensor of a model's metadata; -1 is any length."""

    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(TypedDict):
    """GET /v2/models/{name}[/versions/{version}]: ready versions, runtime, tensors."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2RepositoryEntry(TypedDict):
    """One entry of POST /v2/repository/index: a version, or a model with none loaded."""

    name: str
    state: Literal["READY", "UNAVAILABLE"]
    version: NotRequired[str]
    reason: NotRequired[str]


# -- the native API (KServe V1 compatible) ------------------------------------------------


class VersionSummary(TypedDict):
    """One version as the native API lists it. ``state`` is ready or failed; ``size_bytes``
    and ``sha256`` (hex) are the artifact file's."""

    version: int
    state: str
    runtime: str | None
    artifact: str | None
    error: str | None
    loaded_at: str | None
    load_seconds: float | None
    size_bytes: int | None
    sha256: str | None
    #: What loading warned of, e.g. a pickle saved by another scikit-learn version.
    warnings: list[str]


class VersionMetadata(VersionSummary):
    """GET /v1/models/{name}/versions/{version}: the summary, the name and the signature."""

    name: str
    signature: dict[str, Any] | None


class ModelSummary(TypedDict):
    """One model as GET /v1/models lists it."""

    name: str
    state: str
    ready: bool
    description: str
    latest_version: int | None
    error: str | None
    versions: list[VersionSummary]


class TrafficShare(TypedDict):
    """One target of a traffic split: an alias or version, its percent and version now."""

    target: str
    percent: int
    version: int | None


class ShadowTarget(TypedDict):
    """The shadow version: its alias or number, its version now, and its sample rate."""

    target: str
    version: int | None
    sample_rate: float


class DefaultPolicy(TypedDict):
    """Which version answers a request that names none, and the version that is now."""

    #: ``latest``, an alias or a version number.
    policy: str
    #: Where the policy comes from: the model's model.yaml or the server's setting.
    source: Literal["model.yaml", "server"]
    #: The version it resolves to now (None: none ready, or the alias is not set).
    version: int | None
    #: The traffic split, which answers instead of the policy when set (empty: none).
    traffic: list[TrafficShare]
    #: The version that gets a copy of each request, when one does.
    shadow: ShadowTarget | None


class ModelRollout(DefaultPolicy):
    """PUT /v1/admin/models/{name}/traffic and /shadow: the model's rollout now."""

    name: str


class CompareReport(TypedDict):
    """GET /v1/admin/models/{name}/compare: the shadow's answers beside the served ones."""

    name: str
    since_seconds: float
    #: Requests answered by both (a served row and a shadow row with one request id).
    pairs: int
    #: Prediction rows compared (a request may hold several).
    rows: int
    #: Pairs whose shadow failed (raised, or ran past the timeout).
    shadow_failures: int
    version: int | None
    shadow_version: int | None
    #: Share of rows where both gave the same class (None for regressors).
    agreement: float | None
    #: served class -> shadow class -> rows.
    confusion: dict[str, dict[str, int]]
    #: Regressors: mean of |served - shadow| (None for classifiers).
    mean_absolute_difference: float | None


class ModelMetadata(ModelSummary):
    """GET /v1/models/{name}: the summary, the newest ready version's signature, and
    which version answers a request that names none."""

    signature: dict[str, Any] | None
    default: DefaultPolicy


class ModelList(TypedDict):
    """GET /v1/models."""

    models: list[ModelSummary]


# -- the management API -------------------------------------------------------------------


class UploadedVersion(TypedDict):
    """POST /v1/admin/models/{name}/versions (201): the version written and loaded."""

    name: str
    version: int
    state: Literal["ready"]
    runtime: str | None
    sha256: str | None
    size: int | None
    load_seconds: float | None
    alias: str | None


class VersionHistoryEntry(TypedDict):
    """One version as the database records it; ``created_at`` is ISO 8601."""

    version: int
    state: Literal["pending", "ready", "failed", "deleted"]
    sha256: str | None
    size: int | None
    runtime: str | None
    error: str | None
    source: str
    created_at: str
    created_by: str | None


class ModelHistory(TypedDict):
    """GET /v1/admin/models/{name}/versions: the history, aliases and the served newest."""

    name: str
    latest: int | None
    aliases: dict[str, int]
    versions: list[VersionHistoryEntry]


class VersionDeleted(TypedDict):
    """DELETE /v1/admin/models/{name}/versions/{version}."""

    name: str
    version: int
    state: Literal["deleted"]


class AliasSet(TypedDict):
    """PUT /v1/admin/models/{name}/aliases/{alias}."""

    name: str
    alias: str
    version: int


class LiveNumbers(TypedDict):
    """GET /v1/models/{name}/live: the model's counters since each worker started, summed
    over workers (the numbers of GET /metrics); ``time`` in seconds since the epoch."""

    model: str
    time: float
    requests: dict[str, float]
    #: [upper bound in seconds (null: +Inf), cumulative count], bounds ascending.
    latency_buckets: list[list[float | None]]
    batch_rows: dict[str, float]
    cache: dict[str, float]


MonitorStatus = Literal["ok", "warn", "alert"]


class MonitorFeature(TypedDict):
    """One feature (or the output) in a monitor report: its main score (PSI), its status
    (the worst of its checks), the checks of its kind, and both histograms."""

    feature: NotRequired[str]
    kind: Literal["numeric", "categorical"]
    score: float
    status: MonitorStatus
    psi: float
    missing_rate: float
    #: numeric: Kolmogorov-Smirnov distance and p-value, share outside the reference range.
    ks: NotRequired[float]
    ks_p_value: NotRequired[float]
    out_of_range_rate: NotRequired[float]
    mean: NotRequired[float | None]
    reference_mean: NotRequired[float]
    reference_std: NotRequired[float]
    #: categorical: chi-square against the reference shares, categories never seen.
    chi_square: NotRequired[float]
    chi_square_p_value: NotRequired[float]
    unseen_rate: NotRequired[float]
    unseen: NotRequired[list[str]]
    #: the output of a classifier: how far the class shares moved (0 to 1).
    output_shift: NotRequired[float]
    #: numeric: inner bin edges; categorical: categories; with reference and live shares.
    histogram: dict[str, list[Any]]


class MonitorReport(TypedDict):
    """GET /v1/models/{name}/monitor: a version's newest logged rows against its reference,
    the most drifted features first."""

    model: str
    version: int
    enabled: bool
    computed_at: str
    interval_seconds: float
    status: MonitorStatus
    #: {"source": "reference.csv" | "first logged predictions", "rows": n[, "needed"]}.
    reference: dict[str, Any] | None
    #: {"rows", "size", "enough_rows", "min_rows", "first_id", "last_id", "since", "until"}.
    window: dict[str, Any] | None
    features: list[MonitorFeature]
    output: MonitorFeature | None


class AuditEntry(TypedDict):
    """One management action as the audit log keeps it; ``at`` is ISO 8601 (UTC)."""

    id: int
    at: str
    actor: str
    action: str
    target: str
    outcome: str
    client_address: str | None
    detail: Any


class AuditLog(TypedDict):
    """GET /v1/admin/audit: entries, newest first."""

    entries: list[AuditEntry]


class AliasDeleted(TypedDict):
    """DELETE /v1/admin/models/{name}/aliases/{alias}."""

    name: str
    alias: str
    deleted: Literal[True]


class ReloadAnswer(TypedDict):
    """POST /v1/admin/reload and /v1/admin/models/{name}/reload: model -> what happened."""

    models: dict[str, str]


class ModelStateChange(TypedDict):
    """POST /v1/admin/models/{name}/load and .../unload."""

    name: str
    state: Literal["loaded", "unloaded"]


# -- health ---------------------------------------------------------------------------------


class Live(TypedDict):
    """GET /health/live."""

    status: Literal["live"]


class Ready(TypedDict):
    """GET /health/ready (200): model -> state."""

    status: Literal["ready"]
    models: dict[str, str]
