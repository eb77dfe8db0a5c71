"""The one Settings object: built once at start-up and passed down.

Precedence, highest first: command-line flags > environment ``MODELPORT_*`` >
``modelport.toml`` (``--config PATH``, else ``./modelport.toml`` when present, else
``MODEL_DIR/modelport.toml``, so a model folder can carry its own settings) > defaults.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from modelport.types import VersionChoice

__all__ = ["DEFAULT_CONFIG_FILE", "ConfigError", "Settings", "load_settings", "settings_to_env"]

DEFAULT_CONFIG_FILE = Path("modelport.toml")
#: An origin as browsers send it: scheme://host[:port], no path.
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s]+$", re.IGNORECASE)


class ConfigError(ValueError):
    """The settings (flags, environment or TOML file) are invalid.

    Not a ModelportError: it stops a start or a command, never answers a request.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Settings(BaseSettings):
    """Every setting of the server. Each field is also a ``modelport serve`` flag."""

    model_config = SettingsConfigDict(
        env_prefix="MODELPORT_",
        extra="forbid",
        validate_default=True,
        frozen=True,
    )

    model_dir: Path = Field(
        default=Path("models"),
        description="Folder holding the model repository (one folder or bare file per model).",
    )
    model_store: str | None = Field(
        default=None,
        description="Object store holding the model repository (s3://bucket/prefix), set "
        "by giving MODEL_DIR as such a URL; model_dir is then this process's local copy "
        "(data_dir/store, or ~/.cache/modelport/stores). Needs database_url.",
    )
    config: Path | None = Field(
        default=None,
        description="TOML settings file; defaults to ./modelport.toml when that file exists.",
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="HTTP port.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes sharing the port; each loads every model.",
    )
    max_requests: int = Field(
        default=0,
        ge=0,
        le=1_000_000_000,
        description="Replace a worker with a fresh one once it has answered this many HTTP "
        "requests, plus a random 0-10% drawn by each worker so that workers started together "
        "are not replaced together. The fresh worker serves before the old one finishes the "
        "requests it has and exits, so none is dropped; with --workers 1 too. 0: never.",
    )
    max_worker_memory_mb: int = Field(
        default=0,
        ge=0,
        le=100_000_000,
        description="Replace a worker the same way once its resident memory passes this many "
        "MiB (looked at every second), e.g. when a model's code leaks memory. 0: no limit.",
    )
    engine: Literal["uvicorn", "ray"] = Field(
        default="uvicorn",
        description="What runs the server: uvicorn (this machine, --workers) or ray (Ray "
        "Serve replicas on this machine or a Ray cluster; pip install 'modelport[ray]').",
    )
    replicas: int = Field(
        default=1, ge=1, le=1024, description="With engine ray: replicas, each one CPU."
    )
    autoscale: str | None = Field(
        default=None,
        pattern=r"^[1-9][0-9]*,[1-9][0-9]*$",
        description="With engine ray: MIN,MAX replicas, scaled by Ray Serve to the load "
        "(instead of replicas).",
    )
    ray_address: str | None = Field(
        default=None,
        description="With engine ray: the Ray cluster to join (HOST:PORT); unset, a local "
        "Ray instance is started and stopped with the server.",
    )
    request_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a prediction may run before the client gets 504.",
    )
    max_body_size: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest accepted request body in bytes; larger bodies get 413.",
    )
    inference_threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Threads that run model calls off the event loop (per worker).",
    )
    switch_interval_ms: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="How long a thread may keep Python's interpreter lock while another "
        "waits for it (sys.setswitchinterval; Python's own 5 ms by default). With a model "
        "whose predict runs Python code, the event loop, which accepts, refuses and answers "
        "every request, waits that long at each step. While a worker refuses requests "
        "(429) it uses 0.5 ms, back to this after 2 s without a refusal: a short interval "
        "throughout costs fast models about a fifth of their throughput.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Logging level."
    )
    access_log: bool = Field(
        default=True,
        description="Log one line per request: method, path, status, duration, client, and "
        "the model, version, protocol and rows of a prediction (written in batches, at most "
        "0.1 s after the answer).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as readable text, or as one JSON object per line (time, "
        "level, logger, message, request_id, and the access line's fields) for log shippers.",
    )
    pid_file: Path | None = Field(
        default=None,
        description="Write the server's process id to this file while it runs.",
    )
    grpc_port: int = Field(
        default=8001,
        ge=0,
        le=65535,
        description="Open Inference Protocol V2 gRPC port; 0 turns gRPC off.",
    )
    metrics: bool = Field(
        default=True,
        description="Serve Prometheus metrics at GET /metrics (with the API token when "
        "api_token is set).",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Serve GET /metrics on this port instead of the API port (0: on the API port).",
    )
    metrics_compat: Annotated[tuple[Literal["triton", "kserve"], ...], NoDecode] = Field(
        default=(),
        description="Also export the core series under other servers' names, for the "
        "dashboards and autoscaling rules already written for them: triton (nv_inference_*) "
        "and/or kserve (request_predict_seconds), comma-separated; empty: none.",
    )
    default_model: str | None = Field(
        default=None,
        description="Model that MLflow's POST /invocations serves (default: the only model).",
    )
    default_version: VersionChoice | None = Field(
        default=None,
        description="Which version answers a request that names none, for models whose "
        "model.yaml sets no `default`: `latest` (the newest ready version) or an alias such "
        "as `production`, so that an upload does not answer until the alias points at it; "
        "none: latest.",
    )
    route_key_parameter: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="A request parameter that keeps a client on one side of a traffic "
        "split, as the X-Modelport-Route-Key header does: e.g. customer_id, sent as "
        '{"instances": [...], "parameters": {"customer_id": "42"}}; none: the header only.',
    )
    batching: bool = Field(
        default=True,
        description="Join concurrent requests for one model version into one model call.",
    )
    max_batch_size: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="Most rows in one batched model call (model.yaml batching overrides).",
    )
    max_latency_ms: float = Field(
        default=2.0,
        ge=0,
        le=10_000,
        description="Longest a request waits for others to join its batch, in ms.",
    )
    max_queue_size: int = Field(
        default=2048,
        ge=1,
        description="Requests waiting per model version before new ones get 429.",
    )
    max_queue_wait_ms: float = Field(
        default=0.0,
        ge=0,
        description="A request is refused with 429 queue_full and Retry-After when the "
        "requests already waiting for its model would take longer than this, or than two "
        "of the model's quickest recent calls if that is longer (measured as it serves), "
        "so that under overload the requests it admits stay fast (10 is a good start). 0, "
        "the default: no such limit, as a closed-loop client at full load would be refused "
        "too.",
    )
    max_concurrent_requests: int = Field(
        default=512,
        ge=0,
        description="Most requests one worker handles at once; past it a request gets 429 "
        "queue_full with Retry-After at once instead of waiting behind the others (health, "
        "metrics and the management API are exempt). 0: no limit.",
    )

    data_dir: Path | None = Field(
        default=None,
        description="Folder for the embedded SQLite database (modelport.db) when no "
        "database_url is given (default: .modelport in model_dir, or beside model_dir "
        "when that is one model file or one MLflow model folder).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database: sqlite:///path.db, "
        "mysql+pymysql://user:pass@host/db or postgresql+psycopg://user@host/db "
        "(default: SQLite in data_dir).",
    )
    database_optional: bool = Field(
        default=False,
        description="Start even when the database cannot be reached, serving predictions "
        "without it: the prediction log waits in memory (log_buffer_size) and uploads, "
        "aliases and tokens work once it answers. Without it such a start stops with "
        "exit code 2.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL (redis://host:6379/0): workers and servers learn of model "
        "changes at once through it (without it they poll the database), and share the "
        "response cache there (without it each worker has its own).",
    )
    admin_token: str | None = Field(
        default=None,
        description="Bearer token for the management API (/v1/admin, the prediction log); "
        "without it the server makes a random one at start, saved for the starting user "
        "only (`modelport admin-token` prints it). Database tokens work as well.",
    )
    api_token: str | None = Field(
        default=None,
        description="Bearer token required by the prediction and metadata endpoints "
        "(default: they are open).",
    )
    watch: bool = Field(
        default=False,
        description="Watch model_dir and load models added or changed there (within 2 s).",
    )
    watch_interval: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="Seconds between two looks at model_dir in watch mode.",
    )
    sync_interval: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="Seconds between two looks at the database for other workers' model "
        "changes (without redis_url; with it, a safety net every 10x this).",
    )
    max_upload_size: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="Largest accepted model upload in bytes; enforced while streaming.",
    )
    allow_pickle_uploads: bool = Field(
        default=False,
        description="Accept uploads that run code when loaded (pickle, joblib, model.py, "
        "model.yaml code: and skops trusted_types); off by default, which leaves skops, "
        "ONNX and the libraries' native formats. Files put in model_dir by hand are not "
        "affected.",
    )
    upload_trusted_types: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="skops types an uploaded model.yaml may list in trusted_types while "
        "allow_pickle_uploads is off (e.g. sklearn.ensemble._forest.RandomForestClassifier), "
        "comma-separated; any other is refused.",
    )
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Host header values the server answers (names or addresses, port "
        "ignored; '*' for any), comma-separated; others get 400, which stops DNS "
        "rebinding. Empty: localhost, 127.0.0.1, ::1 and the bound host; no check when "
        "bound to a wildcard address (0.0.0.0 or ::).",
    )
    proxy_headers: bool = Field(
        default=False,
        description="Trust X-Forwarded-For / X-Forwarded-Proto from the addresses in "
        "forwarded_allow_ips (behind a reverse proxy).",
    )
    forwarded_allow_ips: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("127.0.0.1",),
        description="Proxy addresses (or networks) whose X-Forwarded-* headers are trusted "
        "when proxy_headers is on, comma-separated; '*' trusts any.",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request's headers; slower ones get "
        "408 and the connection is closed.",
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a client may go without sending any of a request's body; "
        "then it gets 408.",
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Open connections and requests in progress per worker; past it new "
        "ones get 503.",
    )
    keep_alive_timeout: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Seconds an idle keep-alive connection is kept open.",
    )

    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Browser origins allowed to call the API (CORS): '*' for any, or "
        "origins like https://app.example.com, comma-separated; empty: CORS off. A custom "
        "route's cors: overrides it.",
    )

    @field_validator(
        "upload_trusted_types",
        "allowed_hosts",
        "forwarded_allow_ips",
        "metrics_compat",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        value = _split_commas(value)
        if isinstance(value, list | tuple):
            bad = [
                o for o in value if not isinstance(o, str) or (o != "*" and not _ORIGIN.match(o))
            ]
            if bad:
                raise ValueError(
                    f"{bad} are not origins: use '*' or scheme://host[:port], e.g. "
                    "https://app.example.com (no path, no trailing '/')"
                )
            return tuple(value)
        return value

    # -- prediction log and response cache (issue 6) --------------------------------------
    log_predictions: bool = Field(
        default=True,
        description="Write every prediction to the database's prediction log, off the "
        "request path (model.yaml `log:` overrides per model).",
    )
    log_sample_rate: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of predictions logged, 0 to 1 (1: every one).",
    )
    log_inputs: Literal["full", "hash"] = Field(
        default="full",
        description="Log each prediction's input rows, or only a hash of them.",
    )
    log_retention_days: float = Field(
        default=7,
        ge=0,
        description="Days logged predictions are kept; older ones are pruned in the "
        "background (0 keeps them forever).",
    )
    log_max_input_bytes: int = Field(
        default=64 * 1024,
        ge=256,
        le=100 * 1024 * 1024,
        description="Most bytes of JSON logged for one prediction's input, and as many for "
        "its output; long strings are cut first, then a part still larger is logged as "
        "its size and sha256 only.",
    )
    log_buffer_size: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="Predictions held in memory waiting to be written (per worker); when "
        "the database is slow or down and it is full, new ones are counted and dropped.",
    )
    log_buffer_rows: int = Field(
        default=100_000,
        ge=1,
        le=100_000_000,
        description="Input rows those buffered predictions may hold in all (per worker): "
        "bounds the buffer's memory when requests are big; past it the oldest are dropped "
        "(counted) as when log_buffer_size is reached.",
    )
    log_flush_interval: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="Seconds between two writes of the prediction log buffer.",
    )
    cache: bool = Field(
        default=False,
        description="Answer repeated identical requests from the response cache, for every "
        "model (model.yaml `cache:` overrides per model).",
    )
    cache_ttl: float = Field(
        default=300.0,
        gt=0,
        le=30 * 86_400,
        description="Seconds a cached response is kept.",
    )
    cache_max_entries: int = Field(
        default=10_000,
        ge=1,
        description="Most responses the in-process cache holds per worker (least recently "
        "used go first); Redis's own memory limit applies there.",
    )
    cache_namespace: str = Field(
        default="modelport",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Prefix of the response cache's keys, so that deployments can share one Redis.",
    )
    cache_max_entry_size: int = Field(
        default=256 * 1024,
        ge=64,
        description="Largest response in bytes that is cached; larger ones are not.",
    )

    @property
    def recycles_workers(self) -> bool:
        """Whether workers are replaced after max_requests or past max_worker_memory_mb."""
        return self.max_requests > 0 or self.max_worker_memory_mb > 0

    @property
    def shares_port(self) -> bool:
        """Whether several worker processes may serve the port at once: --workers above 1,
        or recycling, whose fresh worker starts serving before the old one leaves."""
        return self.workers > 1 or self.recycles_workers

    @model_validator(mode="before")
    @classmethod
    def _store_url(cls, data: Any) -> Any:
        # A MODEL_DIR such as s3://bucket/models names an object store: it becomes
        # model_store, and model_dir the local folder that mirrors it (a Path would
        # fold the URL's "//").
        if not isinstance(data, dict):
            return data
        given = data.get("model_dir")
        if isinstance(given, str) and "://" in given and not given.startswith("file://"):
            data = dict(data)
            data["model_store"] = given
            data["model_dir"] = _mirror_folder(given, data.get("data_dir"))
        return data

    @field_validator("model_dir", "data_dir")
    @classmethod
    def _absolute_dirs(cls, value: Path | None) -> Path | None:
        # Resolved once so that worker processes and log lines agree on one path.
        return None if value is None else value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from modelport.config_file import TomlFileSource  # it needs ConfigError from here

        return (init_settings, env_settings, TomlFileSource(settings_cls))


def _mirror_folder(url: str, data_dir: Any) -> Path:
    """Where a process keeps its copy of an object store's models: one folder per URL,
    under data_dir when given, else the user's cache folder."""
    import hashlib
    import os

    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    if data_dir:
        return Path(data_dir).expanduser() / "store" / digest
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "modelport" / "stores" / digest


def _split_commas(value: Any) -> Any:
    """A flag or an environment variable gives one comma-separated string: split it."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return tuple(value)
    return value


def load_settings(**flags: Any) -> Settings:
    """Build the Settings from flags (None means 'not given'), env and the TOML file."""
    given = {key: value for key, value in flags.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc


def settings_to_env(settings: Settings) -> dict[str, str]:
    """The environment that rebuilds these exact settings in a worker process."""
    return {
        f"MODELPORT_{name.upper()}": ",".join(value) if isinstance(value, tuple) else str(value)
        for name, value in settings.model_dump().items()
        if value is not None
    }
