"""Management actions: upload, versions, aliases, reload, load, unload — one per method.

The model files are the source of truth for artifacts; the database records every
version (sha256, size, state, who), the aliases, and an audit entry per action. Each
action changes this process's registry, writes its audit entry (tagged with this
process's ``origin``) and rings the change feed; other workers and servers replay the
entry (:meth:`ModelManager.follow`), so every process converges on the same state.
The API layer authenticates; this module never sees a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from modelport.config import Settings
from modelport.db import default_sqlite_url, make_engine, migrate, store
from modelport.db.records import AuditRecord, VersionRecord
from modelport.errors import (
    ConflictError,
    DatabaseUnavailableError,
    InvalidRequestError,
    ModelportError,
    UploadRejectedError,
)
from modelport.registry import ModelRegistry, ReloadReport
from modelport.repository import ModelConfig, new_version_folder, read_model_yaml
from modelport.repository.model_yaml import MODEL_YAML, parse_model_yaml
from modelport.repository.scan import CODE_FILE, validate_file_name, validate_model_name
from modelport.runtimes.base import runtime_for
from modelport.upload_policy import check_upload_runs_no_code

__all__ = ["UPLOADS_DIR", "Actor", "ModelManager", "Upload"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Hidden folder under MODEL_DIR where uploads stream before they become a version
#: (same filesystem, so the move into the version folder is a rename).
UPLOADS_DIR = ".uploads"
#: Reserved version numbers older than this, whose upload never finished, are dropped.
_STALE_PENDING = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked for an action, for the audit log."""

    name: str
    address: str | None = None


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


class ModelManager:
    """Every management action of one server process, on its registry and the database."""

    def __init__(self, settings: Settings, registry: ModelRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.model_dir = settings.model_dir
        url = settings.database_url or default_sqlite_url(settings.data_dir)
        self.engine: Engine = make_engine(url)
        #: Tags this process's audit entries, so that it does not replay its own.
        self.origin = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        #: Called after each action's audit entry is written (the feed's doorbell).
        self.on_change: Callable[[], Awaitable[None]] | None = None
        self._db_ready = False
        # One action at a time in this process: a reload never races an upload's load.
        self._lock = asyncio.Lock()

    # -- start-up --------------------------------------------------------------------

    async def start(self) -> None:
        """Migrate, load aliases, load every model, then record what is on disk."""
        with contextlib.suppress(DatabaseUnavailableError):
            await self.ensure_db()
        if self._db_ready:
            await self._load_aliases(None)
        # Ready only once the database agrees with the files too: a client that saw
        # /health/ready must find every version in the history.
        await self.registry.load_all(complete_startup=False)
        try:
            if self._db_ready:
                try:
                    await self._db(
                        store.abandon_pending, self.engine, datetime.now(UTC) - _STALE_PENDING
                    )
                    for model in self.registry.models():
                        await self._record_versions(model.name)
                except DatabaseUnavailableError as exc:
                    log.error("could not record the models in the database: %s", exc.message)
            await asyncio.to_thread(self._sweep_leftovers)
        finally:
            self.registry.startup_complete = True

    async def ensure_db(self) -> None:
        """Migrate the database once; DatabaseUnavailableError while it does not answer."""
        if self._db_ready:
            return
        try:
            await asyncio.to_thread(migrate, self.engine)
        except ModelportError:
            raise
        except Exception as exc:  # the driver's connection errors, before the store's guard
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.error("the database is unavailable: %s", reason)
            raise DatabaseUnavailableError(f"the database is unavailable: {reason}") from exc
        self._db_ready = True

    def close(self) -> None:
        self.engine.dispose()

    # -- actions ---------------------------------------------------------------------

    async def upload(self, upload: Upload, actor: Actor) -> dict[str, Any]:
        """Store an artifact as the model's next version, load and warm it up, then serve it.

        A file that fails answers UploadRejectedError (422) and stays on disk as a
        ``failed`` version; the version being served keeps serving.
        """
        name = validate_model_name(upload.name)
        self._check_upload(upload)
        await self.ensure_db()
        model_path = self.model_dir / name
        if model_path.is_file():
            raise ConflictError(
                f"model '{name}' is a bare file ({name}); versions need a folder: move it to "
                f"{name}/1/ first"
            )
        floor = await asyncio.to_thread(_next_on_disk, model_path)
        number = await self._db(
            store.next_version_number,
            self.engine,
            name,
            floor=floor,
            source="upload",
            created_by=actor.name,
        )
        try:
            await asyncio.to_thread(self._write_version, upload, number)
        except BaseException as exc:
            reason = f"upload could not be written: {exc}"
            with contextlib.suppress(ModelportError):
                await self._db(store.discard_version, self.engine, name, number, reason)
            raise
        async with self._lock:
            await self.registry.reload([name])
        served = self.registry.find(name)
        version = served.versions.get(number) if served is not None else None
        error = "the version did not load" if version is None else version.error
        runtime = version.runtime.kind if version and version.runtime else None
        record = await self._db(
            store.record_version,
            self.engine,
            name,
            number,
            sha256=version.artifact_sha256 if version else None,
            size=version.artifact_size if version else None,
            runtime=runtime,
            state="ready" if version is not None and version.ready else "failed",
            error=None if version is not None and version.ready else error,
            source="upload",
        )
        detail = {"version": number, "sha256": record.sha256, "size": record.size}
        if record.state != "ready":
            await self._audit(actor, "upload", name, detail, outcome="failed")
            raise UploadRejectedError(
                f"model '{name}' version {number} ({upload.filename}) did not load: {error}; "
                "it is kept as a failed version, and the versions being served stay"
            )
        if upload.alias is not None:
            await self._db(
                store.set_alias, self.engine, name, upload.alias, number, updated_by=actor.name
            )
            await self._load_aliases(name)
            detail["alias"] = upload.alias
        await self._audit(actor, "upload", name, detail)
        assert version is not None
        return {
            "name": name,
            "version": number,
            "state": "ready",
            "runtime": runtime,
            "sha256": record.sha256,
            "size": record.size,
            "load_seconds": version.load_seconds,
            "alias": upload.alias,
        }

    async def versions(self, name: str, include_deleted: bool = False) -> dict[str, Any]:
        """The model's version history from the database, and what this process serves."""
        validate_model_name(name)
        await self.ensure_db()
        records = await self._db(
            store.list_versions, self.engine, name, include_deleted=include_deleted
        )
        aliases = await self._db(store.get_aliases, self.engine, name)
        served = self.registry.find(name)
        if not records and served is None:
            self.registry.get(name)  # raises ModelNotFoundError naming the known models
        newest = served.newest_ready() if served is not None else None
        return {
            "name": name,
            "latest": newest.version if newest is not None else None,
            "aliases": {alias.alias: alias.version for alias in aliases},
            "versions": [_version_json(r) for r in records if r.state != "pending"],
        }

    async def delete_version(self, name: str, version: int, actor: Actor) -> dict[str, Any]:
        """Delete a version's files and mark it deleted; 409 while an alias points at it."""
        validate_model_name(name)
        await self.ensure_db()
        folder = self.model_dir / name / str(version)
        if (self.model_dir / name).is_file():
            raise ConflictError(f"model '{name}' is a bare file; remove the file instead")
        await self._db(store.delete_version, self.engine, name, version)
        async with self._lock:
            await asyncio.to_thread(_remove_folder, folder)
            self.registry.drop_version(name, version)
        await self._audit(actor, "version.delete", name, {"version": version})
        return {"name": name, "version": version, "state": "deleted"}

    async def set_alias(self, name: str, alias: str, version: int, actor: Actor) -> dict[str, Any]:
        """Point ``alias`` at a ready version (rollback = point it back)."""
        validate_model_name(name)
        await self.ensure_db()
        record = await self._db(
            store.set_alias, self.engine, name, alias, version, updated_by=actor.name
        )
        await self._load_aliases(name)
        await self._audit(actor, "alias.set", name, {"alias": alias, "version": version})
        return {"name": name, "alias": record.alias, "version": record.version}

    async def delete_alias(self, name: str, alias: str, actor: Actor) -> dict[str, Any]:
        validate_model_name(name)
        await self.ensure_db()
        if not await self._db(store.delete_alias, self.engine, name, alias):
            raise InvalidRequestError(f"model '{name}' has no alias '{alias}'")
        await self._load_aliases(name)
        await self._audit(actor, "alias.delete", name, {"alias": alias})
        return {"name": name, "alias": alias, "deleted": True}

    async def reload(self, name: str | None, actor: Actor) -> ReloadReport:
        """Re-scan the repository (one model, or all): load what changed, drop what is gone."""
        if name is not None:
            validate_model_name(name)
            names = {name}
            if not (self.model_dir / name).exists():
                self.registry.get(name)  # 404 unless it is loaded (then it is dropped)
        async with self._lock:
            report = await self.registry.reload(None if name is None else names)
        for changed in report:
            with contextlib.suppress(DatabaseUnavailableError):
                await self._record_versions(changed)
        failed = {n: outcome for n, outcome in report.items() if outcome not in _FINE}
        await self._audit(
            actor, "reload", name or "*", {"report": report}, outcome="failed" if failed else "ok"
        )
        return report

    async def load(self, name: str, actor: Actor) -> None:
        """Load (or reload) one model from the model folder; ModelLoadError if it fails."""
        validate_model_name(name)
        try:
            async with self._lock:
                await self.registry.load_model_by_name(name)
        except ModelportError as exc:
            await self._audit(actor, "load", name, {"error": exc.message}, outcome="failed")
            raise
        with contextlib.suppress(DatabaseUnavailableError):
            await self._record_versions(name)
        await self._audit(actor, "load", name, {})

    async def unload(self, name: str, actor: Actor) -> None:
        """Stop serving a model in every worker; its files stay (load brings it back)."""
        async with self._lock:
            self.registry.unload(name)
        await self._audit(actor, "unload", name, {})

    # -- following the other processes -------------------------------------------------

    async def follow(self, entry: AuditRecord) -> None:
        """Replay another process's action on this process's registry."""
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        if detail.get("origin") == self.origin or entry.action not in _REPLAYED:
            return
        target = entry.target
        async with self._lock:
            if entry.action == "unload":
                if self.registry.find(target) is not None:
                    self.registry.unload(target)
            elif target == "*":
                await self.registry.reload(None)
            else:
                await self.registry.reload([target])
        with contextlib.suppress(DatabaseUnavailableError):
            await self._load_aliases(None if target == "*" else target)
        log.info("followed %s of '%s' by %s", entry.action, target, entry.actor)

    async def files_changed(self, names: set[str]) -> None:
        """Watch mode: entries of the model folder changed; load them like a reload."""
        async with self._lock:
            report = await self.registry.reload(names)
        for name, outcome in sorted(report.items()):
            log.info("watch: model '%s': %s", name, outcome)
            try:
                await self._record_versions(name)
            except DatabaseUnavailableError as exc:
                log.warning("watch: could not record '%s' in the database: %s", name, exc.message)

    # -- tokens --------------------------------------------------------------------------

    async def has_tokens(self) -> bool:
        """Whether the database holds any token that is not revoked."""
        await self.ensure_db()
        tokens = await self._db(store.list_tokens, self.engine)
        return any(not token.revoked for token in tokens)

    async def verify_token(self, token: str) -> str | None:
        """The name of the database token ``token``, or None."""
        await self.ensure_db()
        return await self._db(store.verify_token, self.engine, token)

    # -- helpers -------------------------------------------------------------------------

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(function, *args, **kwargs)

    async def _audit(
        self, actor: Actor, action: str, target: str, detail: dict[str, Any], outcome: str = "ok"
    ) -> None:
        try:
            await self._db(
                store.add_audit,
                self.engine,
                actor=actor.name,
                action=action,
                target=target,
                outcome=outcome,
                client_address=actor.address,
                detail={**detail, "origin": self.origin},
            )
        except DatabaseUnavailableError as exc:
            # The action happened; other workers will not hear of it until they reload.
            log.error("could not audit %s of '%s': %s", action, target, exc.message)
            return
        if self.on_change is not None:
            await self.on_change()

    async def _load_aliases(self, name: str | None) -> None:
        names = await self._db(store.list_model_names, self.engine) if name is None else [name]
        for each in names:
            aliases = await self._db(store.get_aliases, self.engine, each)
            self.registry.set_aliases(each, {a.alias: a.version for a in aliases})

    async def _record_versions(self, name: str) -> None:
        """Make the database agree with the files: record new versions, forget gone ones."""
        if not self._db_ready:
            return
        known: dict[int, VersionRecord] = {
            r.version: r for r in await self._db(store.list_versions, self.engine, name)
        }
        served = self.registry.find(name)
        on_disk = served.versions if served is not None else {}
        for number, version in on_disk.items():
            record = known.get(number)
            state = "ready" if version.ready else "failed"
            if record is not None and (record.state, record.sha256) == (
                state,
                version.artifact_sha256,
            ):
                continue
            await self._db(
                store.record_version,
                self.engine,
                name,
                number,
                sha256=version.artifact_sha256,
                size=version.artifact_size,
                runtime=version.runtime.kind if version.runtime is not None else None,
                state=state,
                error=version.error,
                source=record.source if record is not None else "disk",
            )
        for number, record in known.items():
            if number in on_disk or record.state == "pending":
                continue
            if await asyncio.to_thread(_version_on_disk, self.model_dir, name, number):
                continue  # unloaded here, but its files are there
            dropped = await self._db(
                store.discard_version, self.engine, name, number, "its files are gone"
            )
            log.warning(
                "model '%s' version %d: files gone, marked deleted%s",
                name,
                number,
                f" (aliases {', '.join(dropped)} removed)" if dropped else "",
            )

    def _check_upload(self, upload: Upload) -> None:
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
            shared = self.model_dir / upload.name / MODEL_YAML
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
            self.settings,
        )

    def _write_version(self, upload: Upload, number: int) -> None:
        with new_version_folder(self.model_dir, upload.name, number) as staging:
            os.replace(upload.artifact, staging / upload.filename)
            if upload.model_yaml is not None:
                (staging / MODEL_YAML).write_bytes(upload.model_yaml)
            for name, data in upload.files.items():
                (staging / name).write_bytes(data)
        log.info("model '%s' version %d written (%s)", upload.name, number, upload.filename)

    def _sweep_leftovers(self) -> None:
        """Remove uploads and staging folders a killed process left behind (old ones)."""
        cutoff = time.time() - _STALE_PENDING.total_seconds()
        candidates = list((self.model_dir / UPLOADS_DIR).glob("*"))
        if self.model_dir.is_dir():
            candidates += list(self.model_dir.glob("*/.tmp-*"))
        for path in candidates:
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()


_FINE = ("loaded", "unchanged", "dropped")
_REPLAYED = {"upload", "version.delete", "alias.set", "alias.delete", "reload", "load", "unload"}


def _parse_yaml(data: bytes) -> ModelConfig:
    """Validate an uploaded model.yaml before anything is written."""
    try:
        return parse_model_yaml(data.decode("utf-8"), f"uploaded {MODEL_YAML}")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"uploaded {MODEL_YAML} is not UTF-8 text") from exc
    except ModelportError as exc:
        raise InvalidRequestError(exc.message) from exc


def _next_on_disk(model_path: Path) -> int:
    """One above the highest version folder on disk (1 for a new model)."""
    if not model_path.is_dir():
        return 1
    numbers = [int(p.name) for p in model_path.iterdir() if p.is_dir() and p.name.isdecimal()]
    return max(numbers, default=0) + 1


def _version_on_disk(model_dir: Path, name: str, number: int) -> bool:
    if number == 1 and (model_dir / name).is_file():
        return True
    return (model_dir / name / str(number)).is_dir()


def _remove_folder(folder: Path) -> None:
    """Rename out of sight first (one atomic step), then delete at leisure."""
    if not folder.is_dir():
        return
    hidden = folder.with_name(f".deleted-{folder.name}-{secrets.token_hex(4)}")
    folder.rename(hidden)
    shutil.rmtree(hidden, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # the last version: the model's folder goes too when empty


def _version_json(record: VersionRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "state": record.state,
        "sha256": record.sha256,
        "size": record.size,
        "runtime": record.runtime,
        "error": record.error,
        "source": record.source,
        "created_at": record.created_at.isoformat(),
        "created_by": record.created_by,
    }
