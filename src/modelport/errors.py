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
    ├── PredictionTimeoutError (504 timeout)
    ├── ModelLoadError (500 model_load_failed)
    │   └── UploadRejectedError (422 model_load_failed: an upload that did not load)
    └── MissingDependencyError (500 missing_dependency)
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConflictError",
    "DatabaseUnavailableError",
    "ForbiddenError",
    "InvalidInputError",
    "InvalidRequestError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelNotReadyError",
    "ModelportError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PredictionTimeoutError",
    "QueueFullError",
    "UnauthorizedError",
    "UploadRejectedError",
    "VersionNotFoundError",
]


class ModelportError(Exception):
    """Base of every error modelport raises on purpose; unknown ones become a 500."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

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
        super().__init__(f"model '{name}' not found; {_known('models', known)}")
        self.name = name


class VersionNotFoundError(NotFoundError):
    def __init__(self, name: str, version: str, known: Iterable[str]) -> None:
        super().__init__(f"model '{name}' has no version '{version}'; {_known('versions', known)}")
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


class DatabaseUnavailableError(ModelportError):
    """The database did not answer (down, unreachable, locked too long); try again later."""

    status_code = 503
    code = "database_unavailable"


class PredictionTimeoutError(ModelportError):
    """The model call ran past ``request_timeout``; the caller gets 504 and moves on."""

    status_code = 504
    code = "timeout"


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
