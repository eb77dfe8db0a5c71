"""Find the models under MODEL_DIR.

Layout::

    models/
      iris-lr/1/model.joblib     <- NAME/VERSION/artifact (versions are integers)
      iris-lr/model.yaml         <- optional, applies to every version
      iris-lr/2/model.yaml       <- optional, this version's own (wins over the model's)
      breast-cancer.joblib       <- a bare file: model "breast-cancer", version 1

A bare file's model is named after the file without its ending, and also answers to the
file's full name (``breast-cancer.joblib``), which older releases served it as. When
that shorter name is taken (a folder ``iris/`` beside ``iris.joblib``, or ``iris.pkl``
beside ``iris.joblib``), the files involved keep their full names.

A server started on one file (``modelport serve model.pkl``) serves that file alone, as
the model named after its stem ("model"); one started on an MLflow model folder
(``modelport serve mlruns/.../artifacts/model``) serves that folder alone, as the model
named after the folder.

An MLflow model folder (an ``MLmodel`` file beside the artifact, as
``mlflow.<flavor>.save_model`` writes it) is a version folder as a whole: its artifact is
the ``MLmodel`` file, which says where the rest is (see mlmodel.py). It may be a version
folder (``churn/1/MLmodel``), or the model folder itself (``churn/MLmodel``): then it is
the model's one version, 1.

A version folder's artifact is its one file with a known ending. Beside it, ``model.py``
is custom code imported before the artifact is loaded; alone, ``model.py`` is the model
(a Python function model). A file without a known ending is taken when its content is
LightGBM's or XGBoost's own format (``model.txt``, ``model.json``, see sniff.py), or when
``model.yaml`` names a ``runtime:``.

Scanning never loads anything and never raises for one bad entry: problems (a name the
server refuses, a folder without versions) are recorded on the entry
(``ModelSource.problem`` / ``VersionSource.problem``), which the loader logs once when it
loads that entry and ``GET /v1/models`` shows as failed; the scan, which runs again at
every change in watch mode, does not log them itself.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from modelport.errors import InvalidRequestError, shown
from modelport.repository.mlmodel import MLMODEL, is_mlflow_folder
from modelport.repository.model_yaml import MODEL_YAML
from modelport.repository.sniff import sniff_runtime

__all__ = [
    "CODE_FILE",
    "FUNCTION_RUNTIME",
    "ModelSource",
    "VersionSource",
    "artifact_digest",
    "bare_file_name",
    "is_model_file",
    "scan_repository",
    "single_file_name",
    "single_folder_name",
    "validate_file_name",
    "validate_model_name",
]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
#: Files beside an artifact that are never the artifact itself.
_AUXILIARY_SUFFIXES = (".py", ".yaml", ".yml", ".md", ".txt")
#: Never the artifact, even when model.yaml names the runtime.
_NEVER_ARTIFACTS = (".py", ".yaml", ".yml", ".md")
#: Custom code beside an artifact, or on its own a Python function model.
CODE_FILE = "model.py"
#: The runtime kind of a Python function model (model.yaml ``runtime: function``).
FUNCTION_RUNTIME = "function"


def validate_model_name(name: str) -> str:
    """Model names are URL-safe: lowercase letters, digits, '-', '_' and '.'."""
    if not _NAME.match(name) or name in {".", ".."}:
        raise InvalidRequestError(
            f"invalid model name {shown(name)}: use 1-128 lowercase letters, digits, "
            "'-', '_' or '.', starting with a letter or digit"
        )
    return name


def suggested_name(text: str) -> str:
    """``text`` made a valid model name: lower case, other characters as '-'."""
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:128]
    return name or "model"


def single_file_name(path: Path) -> str:
    """The name of the model a server started on one file serves: the file's stem."""
    return suggested_name(path.name.split(".", 1)[0])


def single_folder_name(path: Path) -> str:
    """The name of the model a server started on one MLflow model folder serves."""
    return suggested_name(path.resolve().name)


def is_model_file(path: Path, suffixes: Collection[str]) -> bool:
    """A file some runtime reads without model.yaml: by its ending, or by its content."""
    return _has_suffix(path, suffixes) or sniff_runtime(path) is not None


def validate_file_name(name: str) -> str:
    """A file name from a client: one plain name, never a path (no '/', '..', or '~')."""
    if not _FILE_NAME.match(name) or ".." in name:
        raise InvalidRequestError(
            f"invalid file name {shown(name)}: use 1-255 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit; no folders, no '..'"
        )
    return name


@dataclass(frozen=True, slots=True)
class VersionSource:
    version: int
    #: The artifact file; None when the folder holds no loadable file (see problem).
    artifact: Path | None
    folder: Path
    problem: str | None = None
    #: The version folder's model.py when it sits beside another artifact.
    code: tuple[Path, ...] = ()
    #: The version's own model.yaml (an upload's), which replaces the model's for it.
    config_file: Path | None = None


@dataclass(frozen=True, slots=True)
class ModelSource:
    name: str
    #: The model's folder, or the bare file itself.
    path: Path
    config_file: Path | None = None
    versions: dict[int, VersionSource] = field(default_factory=dict)
    #: Set when the entry as a whole cannot be served (e.g. no version folders).
    problem: str | None = None
    #: Other names the model answers to: a bare file's full name, ending included.
    also_known_as: tuple[str, ...] = ()


def scan_repository(model_dir: Path, suffixes: Collection[str]) -> list[ModelSource]:
    """Every model entry under ``model_dir`` (or the one file it is), sorted by name."""
    if model_dir.is_file():
        version = VersionSource(1, model_dir, model_dir.parent)
        return [ModelSource(single_file_name(model_dir), model_dir, versions={1: version})]
    if not model_dir.is_dir():
        return []
    if is_mlflow_folder(model_dir):
        version = VersionSource(1, model_dir / MLMODEL, model_dir)
        return [ModelSource(single_folder_name(model_dir), model_dir, versions={1: version})]
    found: list[ModelSource] = []
    for entry in sorted(model_dir.iterdir()):
        if _ignored(entry):
            continue
        if entry.is_file() and not is_model_file(entry, suffixes):
            continue
        try:
            validate_model_name(entry.name)
        except InvalidRequestError as exc:
            # Listed as failed, so the file does not vanish without a trace.
            found.append(ModelSource(entry.name, entry, problem=_renaming(entry, exc.message)))
            continue
        if entry.is_file():
            found.append(
                ModelSource(entry.name, entry, versions={1: VersionSource(1, entry, model_dir)})
            )
        elif entry.is_dir():
            found.append(_scan_model_folder(entry, suffixes))
    return _short_names(found, suffixes)


def _short_names(found: list[ModelSource], suffixes: Collection[str]) -> list[ModelSource]:
    """Bare files renamed to their name without the ending, where no one else claims it."""
    short = {
        source.name: bare_file_name(source.path.name, suffixes)
        for source in found
        if source.path.is_file() and source.problem is None
    }
    claims: dict[str, int] = {}
    for source in found:
        name = short.get(source.name, source.name)
        claims[name] = claims.get(name, 0) + 1
        if name != source.name:
            claims[source.name] = claims.get(source.name, 0) + 1
    renamed = [
        replace(source, name=short[source.name], also_known_as=(source.name,))
        if source.name in short
        and short[source.name] != source.name
        and claims[short[source.name]] == 1
        else source
        for source in found
    ]
    return sorted(renamed, key=lambda source: source.name)


def bare_file_name(file_name: str, suffixes: Collection[str]) -> str:
    """``breast-cancer.joblib`` -> ``breast-cancer``: the longest known ending dropped (else
    the last one, for a file known by its content); the name itself when nothing is left."""
    lower = file_name.lower()
    endings = [s for s in suffixes if lower.endswith(s) and len(s) < len(file_name)]
    stem = file_name[: -max(map(len, endings))] if endings else file_name.rpartition(".")[0]
    try:
        return validate_model_name(stem)
    except InvalidRequestError:
        return file_name


def _renaming(entry: Path, rule: str) -> str:
    """The problem of an entry whose name the server refuses, with a name it accepts."""
    if entry.is_file():
        stem, dot, ending = entry.name.partition(".")
        better = suggested_name(stem) + dot + ending.lower()
    else:
        better = suggested_name(entry.name)
    return f"{rule}; rename it to {better!r} to serve it"


def _scan_model_folder(folder: Path, suffixes: Collection[str]) -> ModelSource:
    config = folder / MODEL_YAML
    if is_mlflow_folder(folder):
        # The MLflow folder is the model's one version; it has no version folders.
        return ModelSource(
            folder.name,
            folder,
            config_file=config if config.is_file() else None,
            versions={1: VersionSource(1, folder / MLMODEL, folder)},
        )
    declared = _declared_runtime(config)
    versions: dict[int, VersionSource] = {}
    stray: list[str] = []
    for entry in sorted(folder.iterdir()):
        if _ignored(entry):
            continue
        if entry.is_dir() and entry.name.isdecimal() and int(entry.name) > 0:
            own = entry / MODEL_YAML
            versions[int(entry.name)] = _scan_version_folder(
                int(entry.name),
                entry,
                suffixes,
                _declared_runtime(own) if own.is_file() else declared,
                own if own.is_file() else None,
            )
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


def _scan_version_folder(
    version: int,
    folder: Path,
    suffixes: Collection[str],
    declared: str | None,
    config_file: Path | None,
) -> VersionSource:
    source = _find_artifact(version, folder, suffixes, declared)
    return replace(source, config_file=config_file) if config_file else source


def _find_artifact(
    version: int, folder: Path, suffixes: Collection[str], declared: str | None
) -> VersionSource:
    if is_mlflow_folder(folder):
        return VersionSource(version, folder / MLMODEL, folder)
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and not _ignored(p)]
    code = next((p for p in files if p.name == CODE_FILE), None)
    if declared == FUNCTION_RUNTIME and code is not None:
        return VersionSource(version, code, folder)
    candidates = [p for p in files if is_model_file(p, suffixes)]
    if not candidates and declared is not None:
        # The declared runtime decides how to read it; only code and notes are skipped.
        candidates = [p for p in files if not p.name.lower().endswith(_NEVER_ARTIFACTS)]
    if len(candidates) == 1:
        return VersionSource(version, candidates[0], folder, code=(code,) if code else ())
    if not candidates and code is not None:
        return VersionSource(version, code, folder)
    if not candidates:
        others = [p.name for p in files if not p.name.lower().endswith(_AUXILIARY_SUFFIXES)]
        detail = f"; found {others}" if others else ""
        native = [p.name for p in files if p.name.lower().endswith((".json", ".txt", ".bin"))]
        if native:
            detail += (
                f"; if {native[0]} is an XGBoost or LightGBM model, add `runtime: xgboost` "
                f"(or `runtime: lightgbm`) to {MODEL_YAML}"
            )
        problem = f"no model file with a known ending {sorted(suffixes)} and no {CODE_FILE}{detail}"
    else:
        problem = f"several model files {[p.name for p in candidates]}; keep one per version"
    return VersionSource(version, None, folder, problem=problem)


def _declared_runtime(config: Path) -> str | None:
    """model.yaml's ``runtime:``, read leniently: the loader reports a bad model.yaml."""
    if not config.is_file():
        return None
    try:
        data: Any = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    runtime = data.get("runtime") if isinstance(data, dict) else None
    return runtime if isinstance(runtime, str) else None


def artifact_digest(path: Path) -> tuple[int, str]:
    """Size in bytes and sha256 (hex) of an artifact, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _ignored(entry: Path) -> bool:
    # Hidden entries include the temporary files of atomic writes.
    return entry.name.startswith((".", "_", "~")) or entry.name == "__pycache__"


def _has_suffix(path: Path, suffixes: Collection[str]) -> bool:
    return path.name.lower().endswith(tuple(suffixes))
