"""A model repository kept in an object store (``s3://bucket/prefix``, or any fsspec URL
whose protocol is installed), mirrored into a local folder by each server process.

Why a mirror rather than reading the store directly: every runtime loads from a local
path (joblib, ONNX Runtime, XGBoost...), the scan and the writer already work on a
folder, and a version, once written, never changes, so a copy never goes stale. The
store is the source of truth; the mirror is a cache any process may rebuild.

How the processes stay in step (the same mechanism as ``--workers``): the database's
change feed. A process that writes a version (an upload) pushes its files to the store
*before* it records the action in the audit log; a process that replays the entry pulls
the model's files first, then reloads it. A deleted version is removed from the store
before its entry too, and each follower removes its own copy when it replays it. A
pull never deletes a local file on its own: a version written here and not yet pushed
must not vanish under its writer.

What a pull compares: a file under a version folder (``NAME/<digits>/...``) is fetched
when it is missing or its size differs (versions are immutable); any other file
(``model.yaml``, a bare model file) also when its modification time differs from the
store's, so an edited ``model.yaml`` is seen. Each file is fetched to a temporary name
and renamed into place, so processes sharing one mirror never read a half-written file.
Folders and files whose name starts with a dot are not mirrored (``.modelport`` and the
writer's temporary folders).

fsspec (with s3fs for ``s3://``) does the talking; credentials and the endpoint come
from the usual AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``...). It is
imported only when a store is used, so the core stays free of it otherwise.
"""

from __future__ import annotations

import logging
import os
import posixpath
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from modelport.errors import MissingDependencyError, ModelStoreError

__all__ = ["ModelStore", "ModelStoreError", "is_store_url"]

log = logging.getLogger(__name__)

#: The extra that brings each protocol's fsspec implementation.
_EXTRAS = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3")}
#: Seconds to wait for a connection to the store before the start or the action fails.
_CONNECT_TIMEOUT_S = 5


def is_store_url(value: str) -> bool:
    """Whether a MODEL_DIR names an object store (``scheme://...``) rather than a path."""
    scheme, sep, _ = value.partition("://")
    return bool(sep) and scheme.isidentifier() and scheme != "file"


class ModelStore:
    """One object-store prefix and the local folder that mirrors it."""

    def __init__(self, url: str, local: Path, fs: Any, root: str) -> None:
        self.url = url
        self.local = local
        self._fs = fs
        self._root = root.rstrip("/")

    @classmethod
    def open(cls, url: str, local: Path) -> ModelStore:
        """The store at ``url``; MissingDependencyError when its fsspec protocol is not
        installed (the message names the extra)."""
        scheme = url.partition("://")[0].lower()
        module, extra = _EXTRAS.get(scheme, (scheme, scheme))
        try:
            import fsspec
        except ImportError as exc:
            raise MissingDependencyError("fsspec", extra, f"the model store {url}") from exc
        options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
        if module == "s3fs":
            # Fail in seconds, not after botocore's minutes of retries, when the store
            # does not answer.
            options["config_kwargs"] = {
                "connect_timeout": _CONNECT_TIMEOUT_S,
                "retries": {"max_attempts": 2},
            }
        try:
            fs, root = fsspec.core.url_to_fs(url, **options)
        except ImportError as exc:
            raise MissingDependencyError(module, extra, f"the model store {url}") from exc
        except ValueError as exc:  # an unknown protocol
            raise ModelStoreError(f"model store {url}: {exc}") from exc
        return cls(url, local, fs, root)

    def check(self) -> None:
        """Reach the store's bucket (or top folder): ModelStoreError saying what is wrong.
        An empty or missing prefix inside it is fine: the server starts with no model."""
        bucket = self._root.split("/", 1)[0]
        try:
            self._fs.ls(bucket, detail=False)
        except FileNotFoundError as exc:
            raise ModelStoreError(
                f"model store {self.url}: the bucket '{bucket}' does not exist; create it "
                "first or correct the URL"
            ) from exc
        except PermissionError as exc:
            raise ModelStoreError(
                f"model store {self.url}: access denied ({exc}); check the credentials "
                "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
            ) from exc
        except Exception as exc:  # botocore's connection and credential errors
            raise ModelStoreError(
                f"model store {self.url} cannot be reached: {_one_line(exc)}"
            ) from exc

    def pull(self, names: Iterable[str] | None = None) -> int:
        """Fetch what the store has and the mirror lacks: every model, or those named
        (a model's folder, or its bare file NAME.ext). Returns the number of files
        fetched; ModelStoreError when the store cannot be read."""
        wanted = None if names is None else set(names)
        try:
            found: dict[str, dict[str, Any]] = self._fs.find(self._root, detail=True)
        except FileNotFoundError:
            return 0
        except Exception as exc:
            raise ModelStoreError(
                f"model store {self.url}: listing failed: {_one_line(exc)}"
            ) from exc
        fetched = 0
        for path, info in sorted(found.items()):
            if info.get("type") != "file":
                continue
            relative = posixpath.relpath(path, self._root)
            parts = relative.split("/")
            if relative.startswith("..") or any(part.startswith(".") for part in parts):
                continue
            if wanted is not None and not ({parts[0], parts[0].split(".")[0]} & wanted):
                continue
            if self._fetch(path, relative, info):
                fetched += 1
        if fetched:
            log.info("model store %s: fetched %d file(s) into %s", self.url, fetched, self.local)
        return fetched

    def _fetch(self, path: str, relative: str, info: dict[str, Any]) -> bool:
        target = self.local / relative
        size = int(info.get("size") or 0)
        stamp = _modified(info)
        parts = relative.split("/")
        immutable = len(parts) > 2 and parts[1].isdigit()
        if target.is_file():
            here = target.stat()
            same_time = stamp is None or abs(here.st_mtime - stamp) < 1
            if here.st_size == size and (immutable or same_time):
                return False
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.pull")
        try:
            self._fs.get_file(path, str(partial))
            if stamp is not None:
                os.utime(partial, (stamp, stamp))
            os.replace(partial, target)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            raise ModelStoreError(
                f"model store {self.url}: fetching {relative} failed: {_one_line(exc)}"
            ) from exc
        return True

    def push(self, relative: str) -> None:
        """Copy a local file or folder of the mirror (``NAME/3``) to the store."""
        source = self.local / relative
        files = (
            [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        )
        protocols = self._fs.protocol
        # Object stores have no folders; a local one (file://, as in the tests) does.
        folders = "file" in (protocols if isinstance(protocols, tuple) else (protocols,))
        try:
            for file in files:
                target = f"{self._root}/{file.relative_to(self.local).as_posix()}"
                if folders:
                    self._fs.makedirs(posixpath.dirname(target), exist_ok=True)
                self._fs.put_file(str(file), target)
        except Exception as exc:
            raise ModelStoreError(
                f"model store {self.url}: storing {relative} failed: {_one_line(exc)}"
            ) from exc

    def remove(self, relative: str) -> None:
        """Delete a file or folder (``NAME/3``) from the store; gone already is fine."""
        try:
            self._fs.rm(f"{self._root}/{relative}", recursive=True)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise ModelStoreError(
                f"model store {self.url}: deleting {relative} failed: {_one_line(exc)}"
            ) from exc


def _modified(info: dict[str, Any]) -> float | None:
    """The store's modification time of a listed file, as a POSIX timestamp."""
    value = info.get("LastModified", info.get("mtime"))
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
