"""A served model's monitor report: its reference profile (cached per version) against
the newest window of its prediction log. Every worker computes the same report from the
same rows, so the endpoint answers alike from each."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.db.database import Database
from modelport.errors import MissingDependencyError
from modelport.monitor.files import find_reference
from modelport.monitor.window import read_window
from modelport.registry import ModelRegistry
from modelport.repository.monitor_config import MonitorConfig
from modelport.served import ModelVersion

if TYPE_CHECKING:
    import pandas as pd

    from modelport.monitor.profile import Profile

__all__ = ["MonitorService", "require_analysis"]


def require_analysis() -> None:
    """The analysis needs pandas and SciPy, which a server of the core install lacks: they
    are imported when the first report is asked for, never at start (a server that never
    monitors pays nothing for them)."""
    for module in ("pandas", "scipy"):
        try:
            __import__(module)
        except ImportError as exc:
            raise MissingDependencyError(module, "monitor", "drift monitoring") from exc


#: How long one process reuses a report before it reads the log again (at most).
REUSE_SECONDS = 1.0


@dataclass(frozen=True)
class _Cached:
    at: float
    report: dict[str, Any]


def _features(served: ModelVersion, reference: pd.DataFrame | None) -> list[str]:
    from modelport.monitor.profile import OUTPUT

    signature = served.signature
    if signature is not None and signature.features:
        return [feature.name for feature in signature.features]
    if reference is not None:
        return [str(c) for c in reference.columns if c != OUTPUT]
    count = signature.n_features if signature is not None else None
    return [str(i) for i in range(count or 0)]


def _outputs_are_classes(served: ModelVersion) -> bool:
    return served.signature is not None and served.signature.classes is not None


class MonitorService:
    """Reports for served models; profiles are built once per model version."""

    def __init__(self, registry: ModelRegistry, database: Database) -> None:
        self._registry = registry
        self._database = database
        self._profiles: dict[tuple[str, int, str], Profile] = {}
        self._cached: dict[tuple[str, int], _Cached] = {}

    async def report(self, name: str, version: str | None = None) -> dict[str, Any]:
        """The report of ``version`` of ``name`` (a number or alias; by default the version
        that answers, the same in every worker under a traffic split)."""
        served = self._registry.resolve(name, version, route_key="monitor")
        return await self.report_version(served)

    async def report_version(self, served: ModelVersion) -> dict[str, Any]:
        config = served.monitor
        key = (served.name, served.version)
        cached = self._cached.get(key)
        now = time.monotonic()
        if cached is not None and now - cached.at < min(REUSE_SECONDS, config.interval):
            return cached.report
        report = await self._compute(served, config)
        self._cached[key] = _Cached(now, report)
        return report

    async def _compute(self, served: ModelVersion, config: MonitorConfig) -> dict[str, Any]:
        head: dict[str, Any] = {
            "model": served.name,
            "version": served.version,
            "enabled": config.enabled,
            "computed_at": datetime.now(UTC).isoformat(),
            "interval_seconds": config.interval,
        }
        if not config.enabled:
            return {**head, "status": "ok", "reference": None, "window": None, "features": []}
        profile = await self._profile(served, config)
        if profile is None:
            return {
                **head,
                "status": "ok",
                "reference": {
                    "source": "first logged predictions",
                    "rows": 0,
                    "needed": config.reference_rows,
                },
                "window": None,
                "features": [],
                "output": None,
            }
        require_analysis()
        from modelport.monitor.report import evaluate
        from modelport.monitor.window import to_frame

        await self._database.ready()
        logged = await self._database.run(
            read_window, served.name, served.version, config.window, newest=True
        )
        frame, outputs, used = await asyncio.to_thread(
            to_frame, [(row[0], row[1]) for row in logged], profile.order, config.window
        )
        logged = logged[:used]
        result = await asyncio.to_thread(evaluate, profile, frame, outputs, config)
        window = {
            "rows": result.pop("rows"),
            "size": config.window,
            "enough_rows": result.pop("enough_rows"),
            "min_rows": config.min_rows,
            "first_id": logged[-1][2] if logged else None,
            "last_id": logged[0][2] if logged else None,
            "since": logged[-1][3].isoformat() if logged else None,
            "until": logged[0][3].isoformat() if logged else None,
        }
        reference = {"source": profile.source, "rows": profile.rows}
        return {**head, "reference": reference, "window": window, **result}

    async def _profile(self, served: ModelVersion, config: MonitorConfig) -> Profile | None:
        key = (served.name, served.version, served.fingerprint)
        known = self._profiles.get(key)
        if known is not None:
            return known
        profile = await asyncio.to_thread(self._from_file, served)
        if profile is None:
            profile = await self._from_log(served, config)
        if profile is not None:
            self._profiles[key] = profile
        return profile

    def _from_file(self, served: ModelVersion) -> Profile | None:
        folder = self._version_folder(served)
        path = find_reference(folder) if folder is not None else None
        if path is None:
            return None
        require_analysis()
        from modelport.monitor.profile import build_profile, read_reference

        reference = read_reference(path)
        return build_profile(
            reference,
            _features(served, reference),
            path.name,
            output_numeric=None if not _outputs_are_classes(served) else False,
        )

    @staticmethod
    def _version_folder(served: ModelVersion) -> Path | None:
        # A bare model file sits in the model folder itself: no place of its own.
        if served.artifact is None or not served.artifact.parent.name.isdigit():
            return None
        return served.artifact.parent

    async def _from_log(self, served: ModelVersion, config: MonitorConfig) -> Profile | None:
        await self._database.ready()
        logged = await self._database.run(
            read_window, served.name, served.version, config.reference_rows, newest=False
        )
        # Until N rows are logged the reference would keep moving: no profile yet (and
        # no pandas needed to say so).
        if len(logged) < config.reference_rows:
            return None
        require_analysis()
        from modelport.monitor.profile import build_profile
        from modelport.monitor.window import to_frame

        features = _features(served, None)
        frame, outputs, _ = to_frame(
            [(r[0], r[1]) for r in logged], features, config.reference_rows
        )
        # Until N rows are logged the reference would keep moving: no profile yet.
        if len(frame) < config.reference_rows:
            return None
        return build_profile(
            frame,
            features,
            "first logged predictions",
            output=outputs if outputs.notna().any() else None,
            output_numeric=None if not _outputs_are_classes(served) else False,
        )
