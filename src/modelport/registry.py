"""Served models: name -> versions -> loaded runtime, aliases, and which version answers.

Loading (slow, blocking) happens in worker threads (loader.py); the registry's maps are
only changed on the event loop, by swapping a whole entry in, so a request sees either
the old entry or the new one, never a half-built one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path

from modelport.clienttext import bounded_int
from modelport.errors import (
    ModelLoadError,
    ModelNotFoundError,
    ModelNotReadyError,
    ModelportError,
    NotFoundError,
    VersionNotFoundError,
    shown,
)
from modelport.loader import load_model
from modelport.repository import ModelSource, scan_repository
from modelport.rollout import LATEST, DefaultPolicy, Rollout, pick_target, policy_of
from modelport.runtimes.base import artifact_suffixes
from modelport.served import ModelVersion, ServedModel

__all__ = ["LATEST", "ModelRegistry", "ModelVersion", "ReloadReport", "ServedModel", "load_model"]

log = logging.getLogger(__name__)

_NO_ROLLOUT = Rollout()
#: Said after a failure that did not replace what serves.
_STILL_SERVING = "the files loaded before keep serving until this is fixed"
#: name -> what happened: "loaded", "unchanged", "dropped", or the failure reason.
ReloadReport = dict[str, str]


class ModelRegistry:
    """The models this process serves, and their aliases (``production`` -> 3)."""

    def __init__(
        self,
        model_dir: Path,
        on_change: Callable[[str], None] | None = None,
        default_version: str | None = None,
    ) -> None:
        self.model_dir = model_dir
        #: The server's default policy for models whose model.yaml sets none (None: latest).
        self.default_version = default_version
        self._models: dict[str, ServedModel] = {}
        self._aliases: dict[str, dict[str, int]] = {}
        #: Other names a model answers to (a bare file's full name) -> its name.
        self._also_known_as: dict[str, str] = {}
        #: name -> its traffic split and shadow (they live in the database; this is the copy).
        self._rollouts: dict[str, Rollout] = {}
        #: True once every model found at start-up has been tried (ready or failed).
        self.startup_complete = False
        #: Called with a model's name whenever what it serves changes (versions, aliases);
        #: the response cache drops the model's entries then.
        self.on_change = on_change

    def complete_startup(self) -> None:
        """Every model found at start-up has been tried: from now on, an unknown name
        is not found rather than not loaded yet."""
        self.startup_complete = True

    def models(self) -> list[ServedModel]:
        return [self._models[name] for name in sorted(self._models)]

    def canonical(self, name: str) -> str:
        """The model's own name for ``name``, which may be another name it answers to."""
        return name if name in self._models else self._also_known_as.get(name, name)

    def find(self, name: str) -> ServedModel | None:
        return self._models.get(self.canonical(name))

    def get(self, name: str) -> ServedModel:
        # One lookup on a prediction's path; the other names only when it misses.
        model = self._models.get(name)
        if model is None and self._also_known_as:
            model = self._models.get(self._also_known_as.get(name, name))
        if model is None:
            if not self.startup_complete:
                raise ModelNotReadyError(
                    f"model {shown(name)} is not loaded yet: the server is still loading models"
                )
            raise ModelNotFoundError(name, self._models)
        return model

    def aliases(self, name: str) -> dict[str, int]:
        return dict(self._aliases.get(name, {}))

    def set_aliases(self, name: str, aliases: Mapping[str, int]) -> None:
        """Replace the model's aliases (they live in the database; this is the copy)."""
        before = self._aliases.get(name, {})
        if aliases:
            self._aliases[name] = dict(aliases)
        else:
            self._aliases.pop(name, None)
        if before != dict(aliases):
            self._changed(name)

    def rollout(self, name: str) -> Rollout:
        return self._rollouts.get(name, _NO_ROLLOUT)

    def rollouts(self) -> dict[str, Rollout]:
        """Every model's rollout that is not the default (no split, no shadow)."""
        return dict(self._rollouts)

    def set_rollout(self, name: str, rollout: Rollout) -> None:
        """Replace the model's rollout (it lives in the database; this is the copy)."""
        before = self._rollouts.get(name, _NO_ROLLOUT)
        if rollout == _NO_ROLLOUT:
            self._rollouts.pop(name, None)
        else:
            self._rollouts[name] = rollout
        if before != rollout:
            self._changed(name)

    def resolve(
        self, name: str, version: str | None = None, route_key: str | None = None
    ) -> ModelVersion:
        """The version that answers ``name`` + a version number, alias or 'latest'; with
        no version, the model's traffic split (by ``route_key``) or its default policy."""
        model = self.get(name)
        name = model.name
        if version is None:
            traffic = self._rollouts[name].traffic if name in self._rollouts else ()
            if traffic:
                return self.resolve(name, pick_target(traffic, route_key))
            policy, _ = policy_of(model.default, self.default_version)
            if policy != LATEST:
                return self._resolve_default(model, policy)
        if version is None or version == LATEST:
            chosen = model.newest_ready()
            if chosen is None:
                why = f"model '{name}' has no ready version: "
                raise ModelNotReadyError(
                    why + model.failure_reason(), why + model.failure_reason(public=True)
                )
            return chosen
        aliases = self._aliases.get(name, {})
        number = bounded_int(version, "version") if version.isdigit() else aliases.get(version)
        found = model.versions.get(number) if number is not None else None
        if found is None:
            known = [LATEST, *sorted(aliases), *(str(v) for v in sorted(model.versions))]
            if number is not None and not version.isdigit():
                raise ModelNotReadyError(
                    f"alias '{version}' of model '{name}' points at version {number}, "
                    "which this server does not have loaded"
                )
            raise VersionNotFoundError(name, version, known)
        if not found.ready:
            why = f"version {found.version} of model '{name}' is not ready: "
            raise ModelNotReadyError(why + str(found.error), why + str(found.public_error))
        return found

    def _resolve_default(self, model: ServedModel, policy: str) -> ModelVersion:
        if not policy.isdigit() and policy not in self._aliases.get(model.name, {}):
            # Never the newest instead: that would put an upload live behind the policy.
            raise ModelNotReadyError(
                f"model '{model.name}' answers requests that name no version with its alias "
                f"'{policy}', which points at no version yet: point it at one (modelport "
                f"alias set {model.name} {policy} VERSION, or upload with --alias {policy}), "
                "or name a version in the request"
            )
        return self.resolve(model.name, policy)

    def default_of(self, name: str) -> DefaultPolicy:
        """The default policy and rollout of a model, and the versions they resolve to now."""
        model = self.get(name)
        policy, source = policy_of(model.default, self.default_version)
        rollout = self.rollout(model.name)
        shadow = rollout.shadow
        return {
            "policy": policy,
            "source": source,
            "version": self._version_now(model.name, None if policy == LATEST else policy),
            "traffic": [
                {
                    "target": target,
                    "percent": percent,
                    "version": self._version_now(model.name, target),
                }
                for target, percent in rollout.traffic
            ],
            "shadow": None
            if shadow is None
            else {
                "target": shadow,
                "version": self._version_now(model.name, shadow),
                "sample_rate": rollout.shadow_sample_rate,
            },
        }

    def _version_now(self, name: str, target: str | None) -> int | None:
        try:
            if target is None:
                return self.resolve(name, LATEST).version
            if not target.isdigit() and target not in self._aliases.get(name, {}):
                return None
            return self.resolve(name, target).version
        except ModelportError:
            return None

    def put(self, model: ServedModel) -> None:
        """Swap one model entry in (on the event loop)."""
        self._models[model.name] = model
        self._changed(model.name)

    def _changed(self, name: str) -> None:
        if self.on_change is not None:
            self.on_change(name)

    def drop_version(self, name: str, version: int) -> None:
        model = self._models.get(name)
        if model is None or version not in model.versions:
            return
        rest = {n: v for n, v in model.versions.items() if n != version}
        if rest:
            self.put(replace(model, versions=rest))
        else:
            del self._models[name]
            self._changed(name)

    async def load_all(self, *, complete_startup: bool = True) -> None:
        """Scan the repository and load every model, one at a time, in a worker thread.

        ``complete_startup=False`` leaves ``startup_complete`` to the caller, who has more
        to do before the process may call itself ready.
        """
        sources = await self._scan()
        log.info("found %d model(s) in %s", len(sources), self.model_dir)
        for source in sources:
            self.put(await asyncio.to_thread(load_model, source))
        if complete_startup:
            self.startup_complete = True
        ready = sum(1 for m in self._models.values() if m.state == "ready")
        log.info("%d of %d model(s) ready", ready, len(self._models))

    async def _scan(self) -> list[ModelSource]:
        sources = await asyncio.to_thread(scan_repository, self.model_dir, artifact_suffixes())
        self._also_known_as = {old: s.name for s in sources for old in s.also_known_as}
        return sources

    async def names_on_disk(self) -> list[str]:
        """Names of the model entries in the model folder now (nothing is loaded)."""
        return [source.name for source in await self._scan()]

    async def reload(self, names: Collection[str] | None = None) -> ReloadReport:
        """Re-scan the repository; load what changed, drop what is gone (None: every model).

        A version that fails to load never replaces a ready one being served.
        """
        sources = {source.name: source for source in await self._scan()}
        wanted = (
            set(sources) | set(self._models)
            if names is None
            else {self.canonical(name) for name in names}
        )
        report: ReloadReport = {}
        for name in sorted(wanted):
            source = sources.get(name)
            if source is None:
                if self._models.pop(name, None) is not None:
                    self._changed(name)
                    log.info("model '%s' is gone from %s; dropped", name, self.model_dir)
                    report[name] = "dropped"
                continue
            report[name] = await self._reload_one(source)
        return report

    async def _reload_one(self, source: ModelSource) -> str:
        old = self._models.get(source.name)
        fresh = await asyncio.to_thread(load_model, source, old)
        # Failures of what was loaded just now (a kept, unchanged failure is old news).
        problems = [
            f"version {n}: {v.error}"
            for n, v in sorted(fresh.versions.items())
            if not v.ready and (old is None or old.versions.get(n) is not v)
        ]
        if fresh.error is not None and (old is None or old.error != fresh.error):
            problems.insert(0, fresh.error)
        if old is not None and old.newest_ready() is not None:
            fresh = _keep_serving(old, fresh)
        if old != fresh:
            self.put(fresh)
        if problems:
            return "; ".join(problems)
        if old == fresh:
            return "unchanged"
        return "loaded" if fresh.newest_ready() is not None else fresh.failure_reason()

    async def load_model_by_name(self, name: str) -> ServedModel:
        """Load (or reload) one model from the model folder and swap in what loaded.

        Any failure is raised as ModelLoadError, naming the versions and why; a folder
        with no version at all is NotFoundError.
        """
        sources = await self._scan()
        name = self.canonical(name)
        if name not in {source.name for source in sources}:
            raise ModelNotFoundError(name, [s.name for s in sources])
        served = name in self._models and self._models[name].newest_ready() is not None
        outcome = (await self.reload([name]))[name]
        model = self._models.get(name)
        if outcome == "unchanged" and model is not None:
            failed = model.error is not None or any(not v.ready for v in model.versions.values())
            if failed or model.newest_ready() is None:
                outcome = model.failure_reason()  # nothing changed, and it still fails
        if model is None or outcome not in ("loaded", "unchanged"):
            if not next(s for s in sources if s.name == name).versions:
                # An empty folder (its last version deleted, or none put in yet): nothing
                # to load is the client's to fix, not a failure of the server.
                raise NotFoundError(f"model '{name}' has nothing to load: {outcome}")
            raise ModelLoadError(
                f"model '{name}' failed to load: {outcome}"
                + ("; the versions being served stay" if served else "")
            )
        return model

    def unload(self, name: str) -> ServedModel:
        """Stop serving a model (its files stay; load_model_by_name brings it back)."""
        model = self.get(name)
        del self._models[model.name]
        self._changed(model.name)
        log.info("model '%s' unloaded", model.name)
        return model


def _keep_serving(old: ServedModel, fresh: ServedModel) -> ServedModel:
    """``fresh``, but a ready version of ``old`` stays wherever its files now fail, and
    when nothing of ``fresh`` is ready (a broken model.yaml) ``old`` stays whole. Either
    way the model's ``error`` says what failed, so its metadata shows it while it serves."""
    if fresh.newest_ready() is None:
        return replace(
            old,
            error=f"{fresh.failure_reason()}; {_STILL_SERVING}",
            public_error=f"{fresh.failure_reason(public=True)}; {_STILL_SERVING}",
        )
    kept = {
        number: version
        for number, version in old.versions.items()
        if version.ready and number in fresh.versions and not fresh.versions[number].ready
    }
    if not kept:
        return fresh
    failed = [fresh.versions[number] for number in sorted(kept)]
    errors = [f"version {v.version}: {v.error}" for v in failed]
    public = [f"version {v.version}: {v.public_error}" for v in failed]
    if fresh.error is not None:
        errors.insert(0, fresh.error)
        public.insert(0, str(fresh.public_error))
    return replace(
        fresh,
        versions={**fresh.versions, **kept},
        error=f"{'; '.join(errors)}; {_STILL_SERVING}",
        public_error=f"{'; '.join(public)}; {_STILL_SERVING}",
    )
