"""``model.yaml``: what a model folder may declare about its model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from modelport.errors import ModelLoadError
from modelport.repository.monitor_config import MonitorConfig
from modelport.repository.route_spec import RouteSpec
from modelport.repository.yaml_file import parse_yaml_mapping
from modelport.signature import Feature
from modelport.types import FeatureType, VersionChoice

__all__ = [
    "MODEL_YAML",
    "BatchingConfig",
    "FeatureSpec",
    "LogConfig",
    "ModelConfig",
    "MonitorConfig",
    "parse_model_yaml",
    "read_model_yaml",
]

MODEL_YAML = "model.yaml"


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    type: FeatureType = "float"


class BatchingConfig(BaseModel):
    """Per-model micro-batching; unset fields take the server's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    max_batch_size: int | None = Field(default=None, ge=1, le=100_000)
    max_latency_ms: float | None = Field(default=None, ge=0, le=10_000)


class LogConfig(BaseModel):
    """Per-model prediction log; unset fields take the server's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    sample_rate: float | None = Field(default=None, ge=0, le=1)
    inputs: Literal["full", "hash"] | None = None


class ModelConfig(BaseModel):
    """The schema of ``model.yaml``; unknown keys are refused so typos do not go unseen."""

    # YAML reads `labels: {0: setosa}` with integer keys; they name classes all the same.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    description: str = ""
    runtime: str | None = Field(
        default=None, description="Runtime kind; by default chosen from the file ending."
    )
    features: list[str | FeatureSpec] | None = Field(
        default=None, description="Input features in column order: names, or {name, type}."
    )
    labels: list[str] | dict[str, str] | None = Field(
        default=None,
        description="Display names of the classes: a list in classes_ order, or a map.",
    )
    example: list[Any] | dict[str, Any] | None = Field(
        default=None, description="One input row, used as the warm-up prediction."
    )
    allow_missing: bool | None = Field(
        default=None,
        description="Let null (NaN) values reach the model; unset: yes for models that "
        "handle missing values themselves (XGBoost, LightGBM, scikit-learn's "
        "HistGradientBoosting), no for the others.",
    )
    coerce: bool = Field(
        default=False,
        description='Take numbers sent as strings ("5.1", as a form or CSV gives them) as '
        "numbers for numeric features.",
    )
    code: list[str] | None = Field(
        default=None,
        description="Python files (relative to the version folder, and inside it: no "
        "absolute paths, '..' or symlinks out) imported before the artifact is loaded, e.g. "
        "a custom transformer's module; model.py is always imported.",
    )
    trusted_types: list[str] | None = Field(
        default=None,
        description="skops: fully qualified type names to trust beyond skops' safe defaults "
        "(skops calls them while loading; an upload may list only the server's "
        "upload_trusted_types unless allow_pickle_uploads).",
    )
    numpy_linear: bool = Field(
        default=True,
        description="scikit-learn LogisticRegression, LinearRegression and Ridge: answer "
        "with NumPy alone, without importing scikit-learn (same labels, starts ~1 s sooner "
        "in ~90 MB less); false: always unpickle with scikit-learn.",
    )
    batching: BatchingConfig = Field(
        default_factory=BatchingConfig, description="Micro-batching for this model."
    )
    routes: list[RouteSpec] = Field(
        default_factory=list,
        description="Custom routes (METHOD /path -> a function in a file of the model's "
        "folder); read from the model folder's model.yaml at start-up.",
    )
    cache: bool | None = Field(
        default=None,
        description="Answer repeated identical requests from the response cache (default: "
        "the server's setting `cache`).",
    )
    log: LogConfig = Field(
        default_factory=LogConfig,
        description="Prediction log for this model: `false`, or {enabled, sample_rate, inputs}.",
    )
    monitor: MonitorConfig = Field(
        default_factory=MonitorConfig,
        description="Drift and data-quality monitoring: `false`, or {enabled, interval, "
        "window, reference_rows, min_rows, webhook, psi, ks, ...} (see How-to: monitoring).",
    )
    default: VersionChoice | None = Field(
        default=None,
        description="Which version answers a request that names none: `latest` (the newest "
        "ready version), an alias such as `production` (an upload then answers only once the "
        "alias points at it) or a version number; unset: the server's `default_version`.",
    )

    @field_validator("log", mode="before")
    @classmethod
    def _log_shorthand(cls, value: Any) -> Any:
        # `log: false` reads better than `log: {enabled: false}` for the common case.
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("monitor", mode="before")
    @classmethod
    def _monitor_shorthand(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value

    def declared_features(self) -> list[Feature] | None:
        if self.features is None:
            return None
        return [
            Feature(f) if isinstance(f, str) else Feature(f.name, f.type) for f in self.features
        ]


def read_model_yaml(path: Path) -> ModelConfig:
    """Parse and validate one ``model.yaml``; any problem is a ModelLoadError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path.name}: cannot read: {exc}") from exc
    return parse_model_yaml(text, path.name)


def parse_model_yaml(text: str, where: str = MODEL_YAML) -> ModelConfig:
    """Validate ``model.yaml`` text (e.g. an upload's); problems are ModelLoadErrors."""
    return parse_yaml_mapping(text, ModelConfig, where, "a mapping of settings at the top")
