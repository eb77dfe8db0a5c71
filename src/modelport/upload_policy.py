"""Which uploads run code when loaded, and their refusal while ``allow_pickle_uploads`` is off.

Loading some model files runs Python as the server's user, so uploading one is as good
as a shell for whoever holds an admin token. With ``allow_pickle_uploads = false`` (the
default) an upload is refused, before anything is written, when:

- its runtime unpickles (``sklearn``: pickle, joblib) or imports Python (``function``);
- it is an MLflow model's ``MLmodel`` file (``mlflow``): which flavor it names, and so
  whether loading runs code (a cloudpickle, a custom ``PythonModel``), depends on files
  the check does not read, so it is refused like a pickle;
- it brings Python files, or its model.yaml (uploaded, or the model's own) lists ``code:``;
- its uploaded model.yaml trusts skops types the operator did not allow in
  ``upload_trusted_types``: skops *calls* a trusted type with arguments read from the
  file, so ``trusted_types: [posix.system]`` runs whatever command the file holds.

The model folder's own model.yaml is the operator's: the types it trusts stay trusted
for uploaded versions without a model.yaml of their own.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NoReturn

from modelport.config import Settings
from modelport.errors import ForbiddenError
from modelport.repository.model_yaml import ModelConfig

__all__ = ["CODE_RUNNING_KINDS", "SAFE_ENDINGS", "check_upload_runs_no_code"]

#: Runtimes whose files run code when loaded.
CODE_RUNNING_KINDS = frozenset({"sklearn", "function", "mlflow"})
#: What an upload may be while code-running uploads are refused (for the message).
SAFE_ENDINGS = (".skops", ".onnx", ".ubj", ".json (xgboost)", ".txt (lightgbm)")
#: Python files: model.py beside an artifact is imported; the others are refused along
#: with it, since only code needs them.
_PYTHON_ENDINGS = (".py", ".pyc", ".pyo", ".pyw", ".pyz")
_SETTING = "allow_pickle_uploads = false"


def check_upload_runs_no_code(
    filename: str,
    kind: str,
    files: Collection[str],
    config: ModelConfig,
    yaml_uploaded: bool,
    settings: Settings,
) -> None:
    """ForbiddenError (403) when the upload would run code and the server refuses that.

    ``config`` is the model.yaml that will apply to the version: the uploaded one when
    ``yaml_uploaded``, else the model folder's.
    """
    if settings.allow_pickle_uploads:
        return
    if kind in CODE_RUNNING_KINDS:
        _refuse(f"'{filename}' is read by the '{kind}' runtime, which runs code when loading it")
    python = sorted(name for name in files if name.lower().endswith(_PYTHON_ENDINGS))
    if python:
        _refuse(f"the upload brings Python files {python}, which are imported when loading")
    if config.code:
        where = "the uploaded model.yaml" if yaml_uploaded else "the model's model.yaml"
        _refuse(f"{where} lists code: {config.code}, which is imported when loading")
    if yaml_uploaded and config.trusted_types:
        allowed = set(settings.upload_trusted_types)
        refused = sorted(set(config.trusted_types) - allowed)
        if refused:
            listed = ", ".join(sorted(allowed)) if allowed else "none"
            raise ForbiddenError(
                f"the uploaded model.yaml trusts skops types {refused} that this server does "
                f"not allow in uploads (setting upload_trusted_types; allowed now: {listed}); "
                "skops calls a trusted type with arguments from the file, so it can run any "
                "code. Leave them out, or ask the operator to add the ones you need to "
                "upload_trusted_types"
            )


def _refuse(reason: str) -> NoReturn:
    raise ForbiddenError(
        f"upload refused: {reason}, and this server refuses uploads that run code as its "
        f"user ({_SETTING}; set allow_pickle_uploads = true only if everyone holding an "
        f"admin token may run code here). Upload a skops, ONNX or native model file "
        f"({', '.join(SAFE_ENDINGS)}) without code"
    )
