"""The rollout actions: a model's traffic split and its shadow version, each stored in the
database, audited, and replayed by every other process (``following.py``)."""

from __future__ import annotations

from typing import Any

from modelport.contracts import ModelRollout
from modelport.db import store
from modelport.db.database import Database
from modelport.errors import ConflictError, InvalidRequestError, VersionNotFoundError
from modelport.management.audit import Actor, AuditTrail
from modelport.registry import ModelRegistry
from modelport.repository.scan import validate_model_name
from modelport.rollout import LATEST, check_traffic, rollout_of
from modelport.types import version_choice_error

__all__ = ["RolloutActions"]


class RolloutActions:
    """Set a model's traffic split or shadow version, in this process and the database."""

    def __init__(self, registry: ModelRegistry, database: Database, audit: AuditTrail) -> None:
        self.registry = registry
        self.database = database
        self.audit = audit

    async def set_traffic(self, name: str, traffic: Any, actor: Actor) -> ModelRollout:
        """Split the default traffic: ``{"production": 90, "candidate": 10}``; ``{}`` ends it."""
        name = self._name(name)
        split = check_traffic(traffic)
        for target, _ in split:
            self._check_target(name, target)
        await self.database.ready()
        record = await self.database.run(
            store.set_rollout, name, updated_by=actor.name, traffic=dict(split) or None
        )
        self.registry.set_rollout(name, rollout_of(record))
        await self.audit.record(actor, "traffic.set", name, {"traffic": dict(split)})
        return self.describe(name)

    async def set_shadow(
        self, name: str, target: str | None, sample_rate: float, actor: Actor
    ) -> ModelRollout:
        """Copy each request (a ``sample_rate`` share of them) to ``target``; None ends it."""
        name = self._name(name)
        if target is not None:
            self._check_target(name, target)
        if not 0 < sample_rate <= 1:
            raise InvalidRequestError(
                f"sample_rate must be above 0 and at most 1, not {sample_rate}"
            )
        await self.database.ready()
        record = await self.database.run(
            store.set_rollout,
            name,
            updated_by=actor.name,
            shadow=target,
            shadow_sample_rate=None if target is None else sample_rate,
        )
        self.registry.set_rollout(name, rollout_of(record))
        detail = {"shadow": target, "sample_rate": sample_rate if target else None}
        await self.audit.record(actor, "shadow.set", name, detail)
        return self.describe(name)

    def refuse_in_use(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> None:
        """409 when the model's split or shadow names this version (by number or through an
        alias) or this alias: removing it would fail the requests sent there."""
        rollout = self.registry.rollout(name)
        aliases = self.registry.aliases(name)
        uses = [(target, f"its traffic split ({percent}%)") for target, percent in rollout.traffic]
        if rollout.shadow is not None:
            uses.append((rollout.shadow, "its shadow"))
        for target, where in uses:
            named = target == alias or (
                version is not None
                and (target == str(version) or (alias is None and aliases.get(target) == version))
            )
            if named:
                what = f"alias '{alias}'" if alias is not None else f"version {version}"
                raise ConflictError(
                    f"{what} of model '{name}' is in {where} as '{target}': change that first "
                    f"(modelport traffic {name} ... / modelport shadow {name} off)"
                )

    def describe(self, name: str) -> ModelRollout:
        model = self.registry.get(name)
        return {"name": model.name, **self.registry.default_of(model.name)}

    def _name(self, name: str) -> str:
        name = self.registry.canonical(validate_model_name(name))
        self.registry.get(name)  # 404 naming the known models
        return name

    def _check_target(self, name: str, target: str) -> None:
        """A target must answer now: a ready version, or an alias set on one."""
        problem = version_choice_error(target)
        if problem is not None or target == LATEST:
            raise InvalidRequestError(
                f"{target!r}: name an alias or a version number"
                + ("" if problem is None else f" ({problem})")
            )
        aliases = self.registry.aliases(name)
        if not target.isdigit() and target not in aliases:
            versions = self.registry.get(name).versions
            raise VersionNotFoundError(name, target, [*sorted(aliases), *map(str, versions)])
        self.registry.resolve(name, target)  # 404 / 503 when that version does not answer
