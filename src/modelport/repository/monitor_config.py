"""``model.yaml``'s ``monitor:`` block: when and how a model's inputs and outputs are
compared with its reference, and the thresholds that make a score warn or alert."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MonitorConfig", "Threshold"]


class Threshold(BaseModel):
    """A score's two limits: at or above ``warn`` it warns, at or above ``alert`` it alerts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warn: float = Field(ge=0, description="At or above this value the score warns.")
    alert: float = Field(ge=0, description="At or above this value the score alerts.")

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.alert < self.warn:
            raise ValueError(f"alert ({self.alert}) must not be below warn ({self.warn})")
        return self


def _limits(warn: float, alert: float, text: str) -> Any:
    """A threshold field with its defaults and its description (for the reference page)."""
    return Field(
        default_factory=lambda: Threshold(warn=warn, alert=alert),
        description=f"{text} Default: warn {warn}, alert {alert}.",
    )


class MonitorConfig(BaseModel):
    """Per-model monitoring. The defaults follow common practice: PSI 0.1 / 0.25 (a
    moderate / a major shift), KS distance 0.1 / 0.2."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Monitor this model at all.")
    interval: float = Field(
        default=60.0, gt=0, le=86_400, description="Seconds between two computations."
    )
    window: int = Field(
        default=5_000,
        ge=10,
        le=100_000,
        description="Most recent logged input rows compared with the reference.",
    )
    reference_rows: int = Field(
        default=1_000,
        ge=10,
        le=100_000,
        description="Without a reference sample: the first this many logged input rows "
        "of the version become its reference.",
    )
    min_rows: int = Field(
        default=500,
        ge=1,
        description="Fewer live rows than this: every status stays ok (too few to tell "
        "drift from chance).",
    )
    webhook: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="URL that receives a POSTed JSON report whenever a status changes.",
    )
    # Each: the defaults for warn and alert, and what the score measures.
    psi: Threshold = _limits(
        0.1, 0.25, "Population stability index of a feature's bin (or category) shares."
    )
    ks: Threshold = _limits(
        0.1, 0.2, "Kolmogorov-Smirnov distance of a numeric feature's live and reference CDFs."
    )
    output_shift: Threshold = _limits(
        0.1, 0.2, "How far a classifier's class shares moved: half the sum of the changes."
    )
    missing: Threshold = _limits(
        0.05, 0.2, "Rise in the share of missing values over the reference's share."
    )
    out_of_range: Threshold = _limits(
        0.05, 0.2, "Share of numeric live values outside the reference's minimum and maximum."
    )
    unseen: Threshold = _limits(
        0.001, 0.05, "Share of categorical live values in categories the reference never had."
    )
