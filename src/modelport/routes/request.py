"""What a route function gets: the request, already read and parsed (no web framework).

The API layer fills it from the HTTP request; route code and tests can build one by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from modelport.clienttext import decimal
from modelport.errors import InvalidRequestError, shown

__all__ = ["RouteRequest", "UploadedFile", "is_json_document"]

T = TypeVar("T")
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One file of a multipart form."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class RouteRequest:
    """The parsed request. ``query`` and ``form`` hold the last value given for each name
    (``query_lists`` holds all); ``headers`` has lower-case names."""

    method: str
    path: str
    url: str
    query: Mapping[str, str] = field(default_factory=dict)
    query_lists: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    form: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, UploadedFile] = field(default_factory=dict)
    client: str | None = None
    request_id: str = "-"

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when there is no body (or it is a form).

        A body that parses as a JSON object or array is taken as JSON whatever the
        Content-Type says (``curl -d`` sends form's), as Flask's ``get_json(force=True)``
        does. Any other body that is not valid JSON is the client's mistake: 400.
        """
        if not self.body.strip():
            return None
        if self.content_type in _FORM_TYPES:
            return orjson.loads(self.body) if is_json_document(self.body) else None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequestError(f"the body is not valid JSON: {exc}") from exc

    def arg(self, name: str, default: Any = _MISSING, type: type[T] = str) -> T:  # type: ignore[assignment]
        """A query (or form) value converted to ``type``, like Tornado's ``get_argument``.

        Missing without a default, or not convertible: 400 naming the parameter.
        """
        raw = self.query.get(name, self.form.get(name))
        if raw is None:
            if default is _MISSING:
                raise InvalidRequestError(f"missing parameter '{name}'")
            return default  # type: ignore[no-any-return]
        return _convert(raw, name, type)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header by name, in any letter case."""
        return self.headers.get(name.lower(), default)


_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def is_json_document(body: bytes) -> bool:
    """``body`` is a JSON object or array (a form body never parses as one)."""
    if body.lstrip()[:1] not in (b"{", b"["):
        return False
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(raw: str, name: str, kind: type[T]) -> T:
    if kind is str:
        return raw  # type: ignore[return-value]
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE  # type: ignore[return-value]
        raise InvalidRequestError(f"parameter '{name}' must be true or false, got {shown(raw)}")
    if kind is int:  # int() would spend time on thousands of digits before refusing them
        number = decimal(raw.strip(), signed=True)
        if number is None:
            raise InvalidRequestError(
                f"parameter '{name}' must be a whole number, got {shown(raw)}"
            )
        return number  # type: ignore[return-value]
    try:
        value = kind(raw.strip())  # type: ignore[call-arg]
    except (TypeError, ValueError):
        what = "a number" if kind is float else kind.__name__
        raise InvalidRequestError(f"parameter '{name}' must be {what}, got {shown(raw)}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequestError(f"parameter '{name}' must be a finite number, got {shown(raw)}")
    return value
