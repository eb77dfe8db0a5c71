"""The model folder's housekeeping for the management actions: version numbers on disk,
removing a version, and the leftovers a killed process leaves behind."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import time
from datetime import timedelta
from pathlib import Path

from modelport.repository.mlmodel import is_mlflow_folder

__all__ = [
    "STALE_PENDING",
    "UPLOADS_DIR",
    "next_on_disk",
    "remove_folder",
    "sweep_leftovers",
    "version_on_disk",
]

#: Hidden folder under MODEL_DIR where uploads stream before they become a version
#: (same filesystem, so the move into the version folder is a rename).
UPLOADS_DIR = ".uploads"
#: Reserved version numbers older than this, whose upload never finished, are dropped;
#: so are uploads and staging folders this old.
STALE_PENDING = timedelta(hours=1)


def next_on_disk(model_path: Path) -> int:
    """One above the highest version folder on disk (1 for a new model)."""
    if not model_path.is_dir():
        return 1
    numbers = [int(p.name) for p in model_path.iterdir() if p.is_dir() and p.name.isdecimal()]
    return max(numbers, default=0) + 1


def version_on_disk(model_dir: Path, name: str, number: int) -> bool:
    # A server started on one file (or MLflow model folder) serves it as version 1.
    if model_dir.is_file() or is_mlflow_folder(model_dir):
        return number == 1
    if number == 1 and ((model_dir / name).is_file() or is_mlflow_folder(model_dir / name)):
        return True
    return (model_dir / name / str(number)).is_dir()


def remove_folder(folder: Path) -> None:
    """Rename out of sight first (one atomic step), then delete at leisure."""
    if not folder.is_dir():
        return
    hidden = folder.with_name(f".deleted-{folder.name}-{secrets.token_hex(4)}")
    folder.rename(hidden)
    shutil.rmtree(hidden, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # the last version: the model's folder goes too when empty


def sweep_leftovers(model_dir: Path) -> None:
    """Remove uploads and staging folders a killed process left behind (old ones)."""
    cutoff = time.time() - STALE_PENDING.total_seconds()
    candidates = list((model_dir / UPLOADS_DIR).glob("*"))
    if model_dir.is_dir():
        candidates += list(model_dir.glob("*/.tmp-*"))
    for path in candidates:
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
