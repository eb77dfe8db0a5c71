"""The Runtime protocol every model kind implements, and lookup of a runtime by kind.

A runtime wraps one loaded artifact. It is created in a worker thread (loading may be
slow) and its ``predict``/``predict_proba`` are called from the inference thread pool,
never on the event loop. Adding a model kind = one module + one entry in ``_SPECS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelport.errors import MissingDependencyError, ModelLoadError
from modelport.signature import ModelHints
from modelport.types import Batch, NDArray

__all__ = [
    "Runtime",
    "RuntimeSpec",
    "artifact_suffixes",
    "missing_dependency",
    "runtime_for",
    "runtime_kinds",
]


class Runtime(Protocol):
    """One loaded model, ready to answer."""

    kind: str

    @property
    def hints(self) -> ModelHints:
        """What the model says about its inputs and classes."""
        ...

    def predict(self, batch: Batch) -> NDArray:
        """One prediction per row (labels, values or rows of values)."""
        ...

    def predict_proba(self, batch: Batch) -> NDArray:
        """Class probabilities ``[rows, classes]``; only called when ``hints.has_proba``."""
        ...


@dataclass(frozen=True, slots=True)
class RuntimeSpec:
    kind: str
    #: Artifact file endings this runtime claims (lower case, with the dot).
    suffixes: tuple[str, ...]
    #: ``module:function`` taking the artifact path and returning a Runtime; imported
    #: only when needed so the core does not import every model library.
    loader: str

    def load(self, artifact: Path) -> Runtime:
        module_name, _, func_name = self.loader.partition(":")
        load: Callable[[Path], Runtime] = getattr(importlib.import_module(module_name), func_name)
        return load(artifact)


_SPECS: tuple[RuntimeSpec, ...] = (
    RuntimeSpec(
        kind="sklearn",
        suffixes=(".joblib", ".pkl", ".pickle", ".model", ".pgz", ".pkl.gz"),
        loader="modelport.runtimes.sklearn:load",
    ),
)

#: Top-level module -> the extra that installs it, for a clear message when it is missing.
_EXTRAS = {"sklearn": "sklearn", "joblib": "sklearn", "pandas": "pandas"}


def runtime_kinds() -> list[str]:
    return [spec.kind for spec in _SPECS]


def artifact_suffixes() -> tuple[str, ...]:
    """Every file ending some runtime can load."""
    return tuple(suffix for spec in _SPECS for suffix in spec.suffixes)


def runtime_for(artifact: Path, declared_kind: str | None = None) -> RuntimeSpec:
    """The runtime named by ``model.yaml`` ``runtime:``, else the one claiming the file."""
    if declared_kind is not None:
        for spec in _SPECS:
            if spec.kind == declared_kind:
                return spec
        raise ModelLoadError(
            f"model.yaml names runtime '{declared_kind}'; known runtimes: {runtime_kinds()}"
        )
    name = artifact.name.lower()
    # Longest ending first so that '.pkl.gz' wins over a hypothetical '.gz'.
    claims = sorted(
        ((suffix, spec) for spec in _SPECS for suffix in spec.suffixes),
        key=lambda claim: -len(claim[0]),
    )
    for suffix, claimant in claims:
        if name.endswith(suffix):
            return claimant
    raise ModelLoadError(
        f"no runtime loads '{artifact.name}'; known file endings: {list(artifact_suffixes())}"
    )


def missing_dependency(exc: ModuleNotFoundError) -> ModelLoadError | MissingDependencyError:
    """Turn an import failure while loading into a message naming what to install."""
    module = (exc.name or "").partition(".")[0]
    extra = _EXTRAS.get(module)
    if extra is not None:
        return MissingDependencyError(module, extra)
    return ModelLoadError(
        f"the artifact needs the Python module '{exc.name}', which cannot be imported; "
        "install the package that provides it in the server's environment"
    )
