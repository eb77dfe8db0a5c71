"""An upload: checked before anything is written (names, alias, model.yaml, runtime, the
upload policy), then written as a version folder in one rename."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelport.config import Settings
from modelport.db import store
from modelport.errors import InvalidRequestError, ModelportError
from modelport.repository import ModelConfig, new_version_folder, read_model_yaml
from modelport.repository.model_yaml import MODEL_YAML, parse_model_yaml
from modelport.repository.scan import CODE_FILE, validate_file_name
from modelport.runtimes.base import runtime_for
from modelport.upload_policy import check_upload_runs_no_code

__all__ = ["Upload", "check_upload", "write_version"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Upload:
    """An artifact already streamed to ``artifact`` (under MODEL_DIR/.uploads)."""

    name: str
    filename: str
    artifact: Path
    model_yaml: bytes | None = None
    #: Extra files for the version folder (custom code), by file name.
    files: Mapping[str, bytes] = field(default_factory=dict)
    alias: str | None = None


def check_upload(upload: Upload, settings: Settings) -> None:
    """InvalidRequestError (or the upload policy's refusal) before anything is written."""
    validate_file_name(upload.filename)
    if upload.alias is not None:
        # Before anything is written: a bad alias found after the version went live
        # would answer 400 for an upload that had in fact happened.
        store.check_alias(upload.alias)
    for extra in upload.files:
        validate_file_name(extra)
        if extra == MODEL_YAML or extra == upload.filename:
            raise InvalidRequestError(f"file '{extra}' is given twice")
    config = ModelConfig()
    if upload.model_yaml is not None:
        config = _parse_yaml(upload.model_yaml)
    else:
        shared = settings.model_dir / upload.name / MODEL_YAML
        if shared.is_file():
            with contextlib.suppress(ModelportError):
                config = read_model_yaml(shared)
    try:
        kind = runtime_for(Path(upload.filename), config.runtime).kind
    except ModelportError as exc:
        raise InvalidRequestError(
            f"cannot serve '{upload.filename}': {exc.message}; name a runtime in model.yaml"
        ) from exc
    if upload.filename == CODE_FILE:
        kind = "function"
    check_upload_runs_no_code(
        upload.filename,
        kind,
        upload.files,
        config,
        upload.model_yaml is not None,
        settings,
    )


def write_version(model_dir: Path, upload: Upload, number: int) -> None:
    """Blocking: the upload as version ``number``'s folder (staged, then renamed)."""
    with new_version_folder(model_dir, upload.name, number) as staging:
        os.replace(upload.artifact, staging / upload.filename)
        if upload.model_yaml is not None:
            (staging / MODEL_YAML).write_bytes(upload.model_yaml)
        for name, data in upload.files.items():
            (staging / name).write_bytes(data)
    log.info("model '%s' version %d written (%s)", upload.name, number, upload.filename)


def _parse_yaml(data: bytes) -> ModelConfig:
    """Validate an uploaded model.yaml before anything is written."""
    try:
        return parse_model_yaml(data.decode("utf-8"), f"uploaded {MODEL_YAML}")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"uploaded {MODEL_YAML} is not UTF-8 text") from exc
    except ModelportError as exc:
        raise InvalidRequestError(exc.message) from exc
