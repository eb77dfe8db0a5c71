"""The Runtime protocol every model kind implements, and lookup of a runtime by kind.

A runtime wraps one loaded artifact. It is created in a worker thread (loading may be
slow) and its ``predict``/``predict_proba`` are called from the inference thread pool,
never on the event loop. Adding a model kind = one module + one entry in ``_SPECS``.
Model libraries are imported only inside the loaders, so the core never pays for them
and a missing one fails only the models that need it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

from modelport.errors import MissingDependencyError, ModelLoadError
from modelport.repository.mlmodel import MLMODEL
from modelport.repository.model_yaml import ModelConfig
from modelport.repository.scan import CODE_FILE, VersionSource
from modelport.repository.sniff import sniff_runtime
from modelport.signature import ModelHints
from modelport.types import Batch, NDArray

__all__ = [
    "LoadContext",
    "Runtime",
    "RuntimeSpec",
    "artifact_suffixes",
    "load_context",
    "missing_dependency",
    "require",
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
class LoadContext:
    """What a loader may need besides the artifact: custom code and model.yaml options."""

    #: Python files imported before the artifact is read (model.yaml ``code:``, then the
    #: version folder's model.py), so pickled custom classes resolve.
    code_files: tuple[Path, ...] = ()
    #: skops: type names trusted beyond skops' own safe defaults (model.yaml).
    trusted_types: tuple[str, ...] = ()
    #: scikit-learn: answer a plain linear model with NumPy, without importing scikit-learn
    #: (model.yaml ``numpy_linear``).
    numpy_linear: bool = True


@dataclass(frozen=True, slots=True)
class RuntimeSpec:
    kind: str
    #: Artifact file endings this runtime claims (lower case, with the dot).
    suffixes: tuple[str, ...]
    #: ``module:function`` taking the artifact path and a LoadContext, returning a Runtime;
    #: imported only when needed so the core does not import every model library.
    loader: str
    #: Exact file names this runtime claims (lower case), checked before the endings.
    filenames: tuple[str, ...] = ()

    def load(self, artifact: Path, context: LoadContext | None = None) -> Runtime:
        module_name, _, func_name = self.loader.partition(":")
        load: Callable[[Path, LoadContext], Runtime] = getattr(
            importlib.import_module(module_name), func_name
        )
        return load(artifact, context or LoadContext())


_SPECS: tuple[RuntimeSpec, ...] = (
    RuntimeSpec(
        kind="sklearn",
        suffixes=(".joblib", ".pkl", ".pickle", ".model", ".pgz", ".pkl.gz"),
        loader="modelport.runtimes.sklearn:load",
    ),
    RuntimeSpec(kind="skops", suffixes=(".skops",), loader="modelport.runtimes.skops:load"),
    # XGBoost's JSON and LightGBM's text models are recognised by content (sniff.py):
    # a .json or .txt file beside a model is too often something else.
    RuntimeSpec(kind="xgboost", suffixes=(".ubj",), loader="modelport.runtimes.xgboost:load"),
    RuntimeSpec(kind="lightgbm", suffixes=(), loader="modelport.runtimes.lightgbm:load"),
    RuntimeSpec(kind="onnx", suffixes=(".onnx",), loader="modelport.runtimes.onnx:load"),
    RuntimeSpec(
        kind="function",
        suffixes=(),
        loader="modelport.runtimes.function:load",
        filenames=(CODE_FILE,),
    ),
    # An MLflow model folder: the MLmodel file names the flavor, and so the runtime.
    RuntimeSpec(
        kind="mlflow",
        suffixes=(),
        loader="modelport.runtimes.mlflow:load",
        filenames=(MLMODEL.lower(),),
    ),
)

#: Top-level module -> the extra that installs it, for a clear message when it is missing.
_EXTRAS = {
    "sklearn": "sklearn",
    "joblib": "sklearn",
    "scipy": "sklearn",
    "pandas": "pandas",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnxruntime": "onnx",
    "skops": "skops",
    "mlflow": "mlflow",
}


def runtime_kinds() -> list[str]:
    return [spec.kind for spec in _SPECS]


def artifact_suffixes() -> tuple[str, ...]:
    """Every file ending some runtime claims without model.yaml naming the runtime."""
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
    for spec in _SPECS:
        if name in spec.filenames:
            return spec
    # Longest ending first so that '.pkl.gz' wins over a hypothetical '.gz'.
    claims = sorted(
        ((suffix, spec) for spec in _SPECS for suffix in spec.suffixes),
        key=lambda claim: -len(claim[0]),
    )
    for suffix, claimant in claims:
        if name.endswith(suffix):
            return claimant
    sniffed = sniff_runtime(artifact)  # LightGBM's .txt, XGBoost's .json: by content
    if sniffed is not None:
        return next(spec for spec in _SPECS if spec.kind == sniffed)
    raise ModelLoadError(
        f"no runtime loads '{artifact.name}'; known file endings: {list(artifact_suffixes())}"
    )


def load_context(source: VersionSource, config: ModelConfig) -> LoadContext:
    """The custom code and options one version's loader gets (model.yaml + version folder)."""
    # Each file once, in order: two entries (or a symlink) naming one file import it once.
    files = list(dict.fromkeys(_code_file(source.folder, entry) for entry in config.code or ()))
    for path in source.code:
        if path.resolve() not in files:
            files.append(path)
    return LoadContext(
        code_files=tuple(files),
        trusted_types=tuple(config.trusted_types or ()),
        numpy_linear=config.numpy_linear,
    )


def _code_file(folder: Path, entry: str) -> Path:
    """model.yaml ``code:`` ``entry``, resolved, if it is a file inside the version folder.

    Relative to the version folder, and confined to it: a version, code included, never
    changes, and a model.yaml (an upload's, say) must not import a file from anywhere
    else on the machine. Resolving first refuses an absolute path, ``..`` and a symlink
    pointing out alike.
    """
    root = folder.resolve()
    path = (folder / entry).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ModelLoadError(
            f"model.yaml code: '{entry}' is outside the version folder {folder.name}/; "
            "code files must be inside it (no absolute paths, no '..', no symlinks out)"
        )
    if not path.is_file():
        raise ModelLoadError(f"model.yaml code: '{entry}' is not a file in {folder.name}/")
    return path


def require(module: str, extra: str) -> ModuleType:
    """Import a model library, or fail the model with the ``pip install`` that fixes it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] == module.partition(".")[0]:
            raise MissingDependencyError(module.partition(".")[0], extra) from exc
        raise missing_dependency(exc) from exc
    except ImportError as exc:
        # Installed but broken (a missing shared library, a version clash).
        raise ModelLoadError(
            f"the Python package '{module}' is installed but cannot be imported ({exc}); "
            f"reinstall it with: pip install --force-reinstall 'modelport[{extra}]'"
        ) from exc


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):  # None in sys.modules: blocked
        return False


def missing_dependency(exc: ModuleNotFoundError) -> ModelLoadError | MissingDependencyError:
    """Turn an import failure while loading into a message naming what to install."""
    module = (exc.name or "").partition(".")[0]
    if module and exc.name != module and _installed(module):
        # The package is here but lacks the module: it moved between versions.
        return ModelLoadError(
            f"the artifact needs the module '{exc.name}', which the installed '{module}' "
            "does not have (the model was saved with another version of it)"
        )
    extra = _EXTRAS.get(module)
    if extra is not None:
        return MissingDependencyError(module, extra)
    return ModelLoadError(
        f"the artifact needs the Python module '{exc.name}', which cannot be imported; "
        "install the package that provides it in the server's environment, or put its "
        f"code beside the artifact as {CODE_FILE} (or list it in model.yaml code:)"
    )
