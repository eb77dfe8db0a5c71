"""The one error tree of modelport.

Core code raises only these; ``api/errors.py`` is the single place that turns them into
HTTP responses ``{"error": code, "message": message}``::

    ModelportError (500 internal_error)
    ├── InvalidRequestError (400 bad_request)
    │   └── InvalidInputError (422 invalid_input)
    ├── NotFoundError (404 not_found)
    │   ├── ModelNotFoundError
    │   └── VersionNotFoundError
    ├── UnauthorizedError (401 unauthorized)
    ├── ForbiddenError (403 forbidden)
    ├── ConflictError (409 conflict)
    ├── PayloadTooLargeError (413 payload_too_large)
    ├── QueueFullError (429 queue_full, Retry-After)
    ├── ModelNotReadyError (503 model_not_ready)
    ├── DatabaseUnavailableError (503 database_unavailable)
    ├── ModelStoreError (503 model_store_unavailable: the s3:// model folder)
    ├── PredictionTimeoutError (504 timeout)
    ├── StorageFullError (507 insufficient_storage)
    ├── ModelLoadError (500 model_load_failed)
    │   └── UploadRejectedError (422 model_load_failed: an upload that did not load)
    └── MissingDependencyError (500 missing_dependency)

Each error has a ``message`` (the whole story, for the server log) and a ``public`` text
(what the client is told): the same unless the message holds what only the operator may
see, such as the database's host or the driver's words. A message that quotes a value
the client sent quotes it through :func:`shown`, so a 9 MB value cannot make a 9 MB
answer or log line.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable

__all__ = [
    "PUBLIC_DATABASE_UNAVAILABLE",
    "SHOWN_CHARS",
    "ConflictError",
    "DatabaseUnavailableError",
    "ForbiddenError",
    "InvalidInputError",
    "InvalidRequestError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelNotReadyError",
    "ModelStoreError",
    "ModelportError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PredictionTimeoutError",
    "QueueFullError",
    "StorageFullError",
    "UnauthorizedError",
    "UploadRejectedError",
    "VersionNotFoundError",
    "clip",
    "shown",
]

#: How much of a client's value a message quotes (plus how long it was).
SHOWN_CHARS = 80


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut after ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A client's value as a message quotes it: its repr (quotes and escaped newlines,
    so it cannot pass for the rest of the message or a new log line), each string in it
    clipped, and lists and nesting cut short (a JSON body can nest 1,000 lists deep,
    past what repr() survives)."""
    if isinstance(value, str | bytes):
        return _short(value, limit)
    return clip(_SKETCH.repr(value), 4 * limit)


def _short(value: str | bytes, limit: int) -> str:
    if len(value) <= limit:
        return repr(value)
    # The repr of the start only: a 9 MB value's repr costs as much as the value.
    unit = "characters" if isinstance(value, str) else "bytes"
    return f"{value[:limit]!r}… ({len(value):,} {unit})"


class _Sketch(reprlib.Repr):
    """repr() that clips strings as :func:`shown` does and stops at a few items and
    levels of nesting."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 8
        self.maxother = self.maxstring = SHOWN_CHARS

    def repr_str(self, x: str, level: int) -> str:
        return _short(x, self.maxstring)

    def repr_bytes(self, x: bytes, level: int) -> str:
        return _short(x, self.maxstring)


_SKETCH = _Sketch()


class ModelportError(Exception):
    """Base of every error modelport raises on purpose; unknown ones become a 500."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: What the client is told; the whole ``message`` goes to the server log.
        self.public = message if public is None else public

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers the response must carry (e.g. Retry-After)."""
        return {}


class InvalidRequestError(ModelportError):
    status_code = 400
    code = "bad_request"


class InvalidInputError(InvalidRequestError):
    """The request was well-formed but its data does not fit the model's signature."""

    status_code = 422
    code = "invalid_input"


class NotFoundError(ModelportError):
    status_code = 404
    code = "not_found"


def _known(kind: str, names: Iterable[str]) -> str:
    listed = ", ".join(sorted(names)) or "none"
    return f"known {kind}: {listed}"


class ModelNotFoundError(NotFoundError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"model {shown(name)} not found; {_known('models', known)}")
        self.name = name


class VersionNotFoundError(NotFoundError):
    def __init__(self, name: str, version: str, known: Iterable[str]) -> None:
        super().__init__(
            f"model {shown(name)} has no version {shown(version)}; {_known('versions', known)}"
        )
        self.name = name
        self.version = version


class UnauthorizedError(ModelportError):
    status_code = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class ForbiddenError(ModelportError):
    status_code = 403
    code = "forbidden"


class ConflictError(ModelportError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(ModelportError):
    status_code = 413
    code = "payload_too_large"

    def __init__(self, limit: int, setting: str = "max_body_size") -> None:
        super().__init__(
            f"request body is larger than the limit of {limit} bytes "
            f"(setting {setting}, env MODELPORT_{setting.upper()})"
        )
        self.limit = limit


class QueueFullError(ModelportError):
    status_code = 429
    code = "queue_full"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class ModelNotReadyError(ModelportError):
    status_code = 503
    code = "model_not_ready"


#: All a client learns of a database outage (the log has the host and the driver's words).
PUBLIC_DATABASE_UNAVAILABLE = (
    "the database is unavailable; try again later (the server log says why)"
)


class DatabaseUnavailableError(ModelportError):
    """The database did not answer (down, unreachable, locked too long); try again later.

    The message names the host and quotes the driver, which is for the operator: the
    client is told only that the database is unavailable.
    """

    status_code = 503
    code = "database_unavailable"

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message, public or PUBLIC_DATABASE_UNAVAILABLE)


class PredictionTimeoutError(ModelportError):
    """The model call ran past ``request_timeout``; the caller gets 504 and moves on."""

    status_code = 504
    code = "timeout"


class ModelStoreError(ModelportError):
    """The object store could not be read or written; nothing was changed locally."""

    status_code = 503
    code = "model_store_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            "the model store could not be reached; nothing was changed: try again later "
            "(the server log says why)",
        )


class StorageFullError(ModelportError):
    """The disk (or the user's quota) is full: nothing was written; free space and retry.

    The message names the path, which is the operator's to see; the client is told
    only what to do.
    """

    status_code = 507
    code = "insufficient_storage"

    def __init__(self, what: str, where: str) -> None:
        super().__init__(
            f"no space left on the device holding {where} while writing {what}; nothing "
            "was kept: free some space and try again",
            f"the server has no space left to store {what}; nothing was kept: try again "
            "once space is freed (the server log says where)",
        )


class ModelLoadError(ModelportError):
    """An artifact could not be loaded or failed its warm-up; the served version stays."""

    code = "model_load_failed"


class UploadRejectedError(ModelLoadError):
    """An uploaded artifact failed to load or warm up: the client's file, so a 4xx."""

    status_code = 422


class MissingDependencyError(ModelportError):
    """A model needs a library that is not installed; the message names the extra."""

    code = "missing_dependency"

    def __init__(self, module: str, extra: str, needed_by: str = "this model") -> None:
        super().__init__(
            f"{needed_by} needs the Python package '{module}', which is not installed; "
            f"install it with: pip install 'modelport[{extra}]'"
        )
        self.module = module
        self.extra = extra
