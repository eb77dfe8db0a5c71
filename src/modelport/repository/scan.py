"""Find the models under MODEL_DIR.

Layout::

    models/
      iris-lr/1/model.joblib     <- NAME/VERSION/artifact (versions are integers)
      iris-lr/model.yaml         <- optional, applies to every version
      lr_iris.model              <- a bare file: model "lr_iris.model", version 1

Scanning never loads anything and never raises for one bad entry: problems are recorded
on the entry (``ModelSource.problem`` / ``VersionSource.problem``) and logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from modelport.errors import InvalidRequestError
from modelport.repository.model_yaml import MODEL_YAML

__all__ = ["ModelSource", "VersionSource", "scan_repository", "validate_model_name"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
#: Files beside an artifact that are never the artifact itself.
_AUXILIARY_SUFFIXES = (".py", ".yaml", ".yml", ".md", ".txt")


def validate_model_name(name: str) -> str:
    """Model names are URL-safe: lowercase letters, digits, '-', '_' and '.'."""
    if not _NAME.match(name) or name in {".", ".."}:
        raise InvalidRequestError(
            f"invalid model name '{name}': use 1-128 lowercase letters, digits, "
            "'-', '_' or '.', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True)
class VersionSource:
    version: int
    #: The artifact file; None when the folder holds no loadable file (see problem).
    artifact: Path | None
    folder: Path
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ModelSource:
    name: str
    #: The model's folder, or the bare file itself.
    path: Path
    config_file: Path | None = None
    versions: dict[int, VersionSource] = field(default_factory=dict)
    #: Set when the entry as a whole cannot be served (e.g. no version folders).
    problem: str | None = None


def scan_repository(model_dir: Path, suffixes: Collection[str]) -> list[ModelSource]:
    """Every model entry under ``model_dir``, sorted by name."""
    if not model_dir.is_dir():
        log.warning("model directory %s does not exist; serving no models", model_dir)
        return []
    found: list[ModelSource] = []
    for entry in sorted(model_dir.iterdir()):
        if _ignored(entry):
            continue
        if entry.is_file() and not _has_suffix(entry, suffixes):
            log.debug("ignoring %s: not a model file", entry)
            continue
        try:
            validate_model_name(entry.name)
        except InvalidRequestError as exc:
            log.warning("skipping %s: %s", entry, exc.message)
            continue
        if entry.is_file():
            found.append(
                ModelSource(entry.name, entry, versions={1: VersionSource(1, entry, model_dir)})
            )
        elif entry.is_dir():
            found.append(_scan_model_folder(entry, suffixes))
    return found


def _scan_model_folder(folder: Path, suffixes: Collection[str]) -> ModelSource:
    config = folder / MODEL_YAML
    versions: dict[int, VersionSource] = {}
    stray: list[str] = []
    for entry in sorted(folder.iterdir()):
        if _ignored(entry):
            continue
        if entry.is_dir() and entry.name.isdecimal() and int(entry.name) > 0:
            versions[int(entry.name)] = _scan_version_folder(int(entry.name), entry, suffixes)
        elif entry.is_file() and _has_suffix(entry, suffixes):
            stray.append(entry.name)
        elif entry.is_dir():
            log.warning("ignoring %s: version folders are positive integers", entry)
    problem = None
    if not versions:
        hint = f" (move {stray[0]} into {folder.name}/1/)" if stray else ""
        problem = f"no version folders: put the artifact in {folder.name}/1/{hint}"
    return ModelSource(
        folder.name,
        folder,
        config_file=config if config.is_file() else None,
        versions=versions,
        problem=problem,
    )


def _scan_version_folder(version: int, folder: Path, suffixes: Collection[str]) -> VersionSource:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and not _ignored(p)]
    candidates = [p for p in files if _has_suffix(p, suffixes)]
    if len(candidates) == 1:
        return VersionSource(version, candidates[0], folder)
    if not candidates:
        others = [p.name for p in files if not p.name.lower().endswith(_AUXILIARY_SUFFIXES)]
        detail = f"; found {others}" if others else ""
        problem = f"no model file with a known ending {sorted(suffixes)}{detail}"
    else:
        problem = f"several model files {[p.name for p in candidates]}; keep one per version"
    return VersionSource(version, None, folder, problem=problem)


def _ignored(entry: Path) -> bool:
    # Hidden entries include the temporary files of atomic writes.
    return entry.name.startswith((".", "_", "~")) or entry.name == "__pycache__"


def _has_suffix(path: Path, suffixes: Collection[str]) -> bool:
    return path.name.lower().endswith(tuple(suffixes))
