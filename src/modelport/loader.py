"""Load a model entry from disk (blocking, in a worker thread): every version, warmed up.

Loading never raises for a bad file: a version that cannot load or answer its warm-up
becomes a ``failed`` version carrying the reason. Given the entry as it is served now,
versions whose files did not change (same stamp) are kept instead of loaded again.

A reason often quotes a library (ONNX Runtime: "Load model from /srv/models/x/1/model.onnx
failed"), and the public API shows it to anyone: so each failure keeps a public text too,
with paths under MODEL_DIR made relative to it and every other absolute path hidden.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from modelport.errors import ModelLoadError, ModelportError
from modelport.inputs import to_batch
from modelport.outputs import run_model
from modelport.payloads import Payload, Records, Rows
from modelport.repository import ModelConfig, ModelSource, VersionSource, read_model_yaml
from modelport.repository.mlmodel import MLMODEL, read_mlmodel, with_mlmodel
from modelport.repository.scan import artifact_digest
from modelport.runtimes.base import Runtime, load_context, runtime_for
from modelport.served import FileStamp, ModelVersion, ServedModel
from modelport.signature import Signature, build_signature

__all__ = ["HIDDEN_PATH", "file_stamp", "load_model", "load_version", "public_text"]

log = logging.getLogger(__name__)

#: What the public API shows instead of an absolute path outside MODEL_DIR.
HIDDEN_PATH = "<path>"
#: Where a path can start: not inside a word, a relative path or a URL ("http://a/b").
_PATH_START = r"(?<![\w.~/-])"
#: An absolute path or one in the home folder, up to a space, quote, bracket or separator.
_ABSOLUTE_PATH = re.compile(_PATH_START + r"""(?:~/|/(?!/))[^\s'"`,;:()\[\]{}<>|]+""")


def public_text(text: str, root: Path) -> str:
    """``text`` as the public API may show it: paths under ``root`` (MODEL_DIR) relative
    to it, any other absolute path (a home folder, site-packages...) hidden."""
    for spelling in _spellings(root):
        text = re.sub(_PATH_START + re.escape(spelling) + "/", "", text)
    return _ABSOLUTE_PATH.sub(HIDDEN_PATH, text)


def _spellings(root: Path) -> list[str]:
    """MODEL_DIR as a message may spell it (as given, absolute, symlinks resolved),
    longest first so that a shorter spelling never cuts a longer one."""
    names = {str(root), str(root.absolute()), str(root.resolve())}
    return sorted((n.rstrip("/") for n in names if n.strip("/.")), key=len, reverse=True)


def file_stamp(*paths: Path | None) -> FileStamp:
    """(path, size, mtime_ns) of each existing file: cheap, and changes with any rewrite."""
    stamps = []
    for path in paths:
        if path is None:
            continue
        try:
            stat = os.stat(path)
        except OSError:
            continue
        stamps.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(stamps)


def _version_stamp(source: VersionSource) -> FileStamp:
    return file_stamp(source.artifact, *source.code, source.config_file)


def load_model(source: ModelSource, previous: ServedModel | None = None) -> ServedModel:
    """Load every version of one model entry; reuse ``previous``'s unchanged versions."""
    config_stamp = file_stamp(source.config_file)
    root = source.path.parent
    try:
        config = read_model_yaml(source.config_file) if source.config_file else ModelConfig()
    except ModelLoadError as exc:
        log.error("model '%s' failed: %s", source.name, exc.message)
        return ServedModel(
            source.name,
            source.path,
            error=exc.message,
            public_error=public_text(exc.message, root),
            config_stamp=config_stamp,
        )
    if source.problem is not None and (previous is None or previous.error != source.problem):
        # Said once: a rescan that finds the same problem (a refused name) stays quiet.
        log.error("model '%s' failed: %s", source.name, source.problem)
    reusable = (
        previous.versions if previous is not None and previous.config_stamp == config_stamp else {}
    )
    versions = {}
    for number, version in sorted(source.versions.items()):
        kept = reusable.get(number)
        if kept is not None and kept.stamp and kept.stamp == _version_stamp(version):
            versions[number] = kept
        else:
            versions[number] = load_version(source.name, version, config, root)
    return ServedModel(
        source.name,
        source.path,
        config.description,
        versions,
        error=source.problem,
        public_error=None if source.problem is None else public_text(source.problem, root),
        config_stamp=config_stamp,
        default=config.default,
    )


def load_version(name: str, source: VersionSource, config: ModelConfig, root: Path) -> ModelVersion:
    """Load, inspect and warm up one artifact; a failure becomes a ``failed`` version.

    A version folder's own model.yaml (an upload's) replaces ``config`` for it; ``root``
    is MODEL_DIR, which the failure's public text shows paths relative to.
    """
    started = time.monotonic()
    stamp = _version_stamp(source)
    try:
        if source.artifact is None:
            raise ModelLoadError(source.problem or "no artifact")
        if source.config_file is not None:
            config = read_model_yaml(source.config_file)
        if source.artifact.name == MLMODEL:
            config = with_mlmodel(config, read_mlmodel(source.artifact))
        size, sha256 = _digest(source.artifact)
        spec = runtime_for(source.artifact, config.runtime)
        runtime = spec.load(source.artifact, load_context(source, config))
        signature = build_signature(
            runtime.hints,
            config.declared_features(),
            config.labels,
            allow_missing=config.allow_missing,
            coerce=config.coerce,
            example=config.example,
        )
        _warm_up(runtime, signature, config)
    except ModelportError as exc:
        return _failed(name, source, exc.message, stamp, root)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        # A broken artifact may raise anything while unpickling: sys.exit() or
        # KeyboardInterrupt too, from its own code. Outside the main thread (where a real
        # Ctrl-C never arrives) that is a version that fails, not a server stopping: it
        # once escaped a load asked for through gRPC and stopped the server.
        if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is (
            threading.main_thread()
        ):
            raise
        log.exception("model '%s' version %d: unexpected load failure", name, source.version)
        return _failed(name, source, f"{type(exc).__name__}: {exc}", stamp, root)
    elapsed = round(time.monotonic() - started, 4)
    log.info("model '%s' version %d ready (%s, %.3fs)", name, source.version, runtime.kind, elapsed)
    return ModelVersion(
        name,
        source.version,
        "ready",
        source.artifact,
        runtime=runtime,
        signature=signature,
        load_seconds=elapsed,
        loaded_at=datetime.now(UTC),
        artifact_size=size,
        artifact_sha256=sha256,
        batching=config.batching,
        stamp=stamp,
        cache=config.cache,
        log=config.log,
        monitor=config.monitor,
        fingerprint=_fingerprint(sha256, config, source),
        warnings=runtime.hints.warnings,
    )


def _fingerprint(sha256: str | None, config: ModelConfig, source: VersionSource) -> str:
    """What this version's answers depend on besides the input: the artifact, model.yaml
    (labels, features...) and the code files. Same files, same fingerprint, in any process."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update((sha256 or "").encode())
    digest.update(config.model_dump_json().encode())
    for path in (*source.code, *(source.folder / name for name in config.code or ())):
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(str(path).encode())
    return digest.hexdigest()


def _failed(
    name: str, source: VersionSource, reason: str, stamp: FileStamp, root: Path
) -> ModelVersion:
    log.error("model '%s' version %d failed to load: %s", name, source.version, reason)
    size, sha256 = _digest(source.artifact) if source.artifact else (None, None)
    return ModelVersion(
        name,
        source.version,
        "failed",
        source.artifact,
        error=reason,
        public_error=public_text(reason, root),
        artifact_size=size,
        artifact_sha256=sha256,
        stamp=stamp,
    )


def _digest(artifact: Path) -> tuple[int, str] | tuple[None, None]:
    try:
        return artifact_digest(artifact)
    except OSError:
        return None, None  # the loader names the problem; metadata just stays empty


def _warm_up(runtime: Runtime, signature: Signature, config: ModelConfig) -> None:
    """Answer one prediction before serving, so a model that cannot predict never serves."""
    payload: Payload | None = None
    if isinstance(config.example, dict):
        payload = Records([config.example])
    elif isinstance(config.example, list):
        payload = Rows([config.example])
    elif signature.all_numeric and signature.n_features is not None:
        payload = Rows([[0.0] * signature.n_features])
    if payload is None:
        return
    try:
        run_model(runtime, signature, to_batch(payload, signature), 1, probabilities=True)
    except ModelportError as exc:
        raise ModelLoadError(f"warm-up prediction failed: {exc.message}") from exc
    except Exception as exc:
        raise ModelLoadError(f"warm-up prediction failed: {type(exc).__name__}: {exc}") from exc
