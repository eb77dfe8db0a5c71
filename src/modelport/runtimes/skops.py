"""skops (``.skops``): scikit-learn models in a format that does not run code on load.

skops only rebuilds types it trusts: its own safe defaults (scikit-learn, NumPy, SciPy
basics) plus the names model.yaml lists under ``trusted_types:``. Any other type in the
file is refused with its name, never trusted silently. A trusted type is *called* with
arguments from the file (``posix.system`` would run a command), so an uploaded model.yaml
may list only the operator's ``upload_trusted_types`` (upload_policy.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelport.errors import ModelLoadError
from modelport.runtimes.base import LoadContext, missing_dependency, require
from modelport.runtimes.code import import_code_files, unpickle_with_code
from modelport.runtimes.sklearn import SklearnRuntime

__all__ = ["load"]


def load(artifact: Path, context: LoadContext | None = None) -> SklearnRuntime:
    """Read ``artifact`` with skops, trusting only the defaults and model.yaml's list."""
    context = context or LoadContext()
    sio = require("skops.io", "skops")
    try:
        untrusted = [str(t) for t in sio.get_untrusted_types(file=artifact)]
    except Exception as exc:  # a damaged file fails inside zipfile/json with anything
        raise ModelLoadError(
            f"'{artifact.name}' is not a readable skops file: {type(exc).__name__}: {exc}"
        ) from exc
    refused = [t for t in untrusted if t not in context.trusted_types]
    if refused:
        raise ModelLoadError(
            f"'{artifact.name}' holds types skops does not trust by default: {refused}; "
            "if you trust this file, list them in model.yaml under trusted_types:"
        )
    modules = import_code_files(context.code_files)
    # skops is given the explicit list, never what it found in the file: its own audit
    # then refuses anything else, even a type get_untrusted_types did not report.
    trusted = list(context.trusted_types)
    try:
        model: Any = unpickle_with_code(lambda: sio.load(artifact, trusted=trusted), modules)
    except ModelLoadError:
        raise
    except ModuleNotFoundError as exc:
        raise missing_dependency(exc) from exc
    except Exception as exc:
        raise ModelLoadError(
            f"'{artifact.name}' could not be loaded by skops: {type(exc).__name__}: {exc}"
        ) from exc
    return SklearnRuntime(model, kind="skops")
