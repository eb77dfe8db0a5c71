"""Write a new version folder atomically: build it under a hidden temporary name, then
rename it into place, so a scan or a watcher never sees half a version."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from modelport.errors import ConflictError, StorageFullError
from modelport.repository.scan import validate_model_name

__all__ = ["disk_full_is_an_error", "new_version_folder", "write_file_atomically"]

#: A full disk, or a full quota: the same for whoever is writing.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextlib.contextmanager
def disk_full_is_an_error(what: str, where: Path) -> Iterator[None]:
    """Turn a full disk met in the block into StorageFullError (507), naming ``what``
    was being written; any other OSError goes on as it is."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise StorageFullError(what, str(where)) from exc
        raise


@contextlib.contextmanager
def new_version_folder(model_dir: Path, name: str, version: int) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it becomes ``model_dir/name/version``.

    On any exception the temporary folder is removed and nothing appears.
    """
    validate_model_name(name)
    model_folder = model_dir / name
    created = not model_folder.exists()
    what = f"model '{name}' version {version}"
    with disk_full_is_an_error(what, model_dir):
        model_folder.mkdir(parents=True, exist_ok=True)
    final = model_folder / str(version)
    if final.exists():
        raise ConflictError(f"model '{name}' version {version} already exists")
    try:
        with disk_full_is_an_error(what, model_dir):
            staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_folder))
    except BaseException:
        _remove_if_new(model_folder, created)
        raise
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a version is readable like any file
        with disk_full_is_an_error(what, model_dir):
            yield staging
            for path in staging.rglob("*"):
                if path.is_file():
                    with path.open("rb") as handle:
                        os.fsync(handle.fileno())
        # rename() refuses a non-empty target but would replace an empty folder, and the
        # standard library has no no-replace rename: check, then rename. Writers of one
        # model are serialised by the caller, so the window between the two is not raced.
        if final.exists():
            raise ConflictError(f"model '{name}' version {version} already exists")
        try:
            staging.rename(final)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                # Not a race with another writer (a full disk, a read-only mount): saying
                # "conflict" would send the client retrying what cannot succeed.
                with disk_full_is_an_error(what, model_dir):
                    raise
            raise ConflictError(
                f"model '{name}' version {version} appeared while it was being written"
            ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_if_new(model_folder, created)
        raise


def _remove_if_new(model_folder: Path, created: bool) -> None:
    # A failed first version must not leave an empty, failing model behind.
    if created:
        with contextlib.suppress(OSError):
            model_folder.rmdir()


def write_file_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename; readers see the old or the new file."""
    with disk_full_is_an_error(path.name, path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with disk_full_is_an_error(path.name, path.parent), os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staging, 0o644)  # mkstemp makes it private
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)
        raise
