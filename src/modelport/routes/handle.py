"""What a route function gets besides the request: a handle on the server.

``server.predict("iris-lr", {...})`` goes through ``InferenceService.predict``, the very
path every protocol takes (validation, batching, cache, prediction log, metrics).
``server.database`` is the server's SQLAlchemy engine and ``server.store`` its key-value
store. ``server.reload`` / ``server.upload`` are the management actions of
``ModelManager``, open only to routes declared ``admin: true`` (whose callers passed the
admin rule before the function ran).

Route functions declared with ``def`` run in a thread, where these methods block until
done; ``async def`` functions run on the event loop and await the ``a``-prefixed ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from modelport.contracts import UploadedVersion
from modelport.errors import ForbiddenError, InvalidInputError
from modelport.inference import InferenceService, PredictRequest
from modelport.kvstore import KeyValueStore
from modelport.management.actions import ModelManager
from modelport.management.audit import Actor
from modelport.management.files import UPLOADS_DIR
from modelport.management.uploads import Upload
from modelport.payloads import Columns, Payload, Records, Rows, Split, Tensors
from modelport.repository.scan import validate_file_name, validate_model_name
from modelport.repository.writer import disk_full_is_an_error

__all__ = ["Prediction", "ServerHandle", "to_payload"]

T = TypeVar("T")
_PAYLOADS = (Rows, Records, Columns, Split, Tensors)


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer: one prediction per row (labels mapped), probabilities if asked."""

    model: str
    version: int
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None


class ServerHandle:
    """One route call's view of the server; built per request by the API layer."""

    def __init__(
        self,
        inference: InferenceService,
        manager: ModelManager,
        store: KeyValueStore,
        loop: asyncio.AbstractEventLoop,
        actor: Actor | None = None,
        route: str = "",
        request_id: str | None = None,
        client: str | None = None,
    ) -> None:
        self._inference = inference
        #: The route call's request id and client, for the prediction log's rows.
        self._request_id = request_id
        self._client = client
        self._manager = manager
        self._loop = loop
        #: The caller, for routes declared admin: true (None otherwise).
        self.actor = actor
        self.route = route
        self.store = store

    @property
    def database(self) -> Engine:
        """The server's SQLAlchemy engine (MODELPORT_DATABASE_URL, else SQLite)."""
        return self._manager.database.engine

    @property
    def model_dir(self) -> Path:
        return self._manager.model_dir

    # -- predictions --------------------------------------------------------------------

    async def apredict(
        self,
        model: str,
        inputs: Any,
        *,
        version: str | int | None = None,
        probabilities: bool = False,
    ) -> Prediction:
        """Predict with a served model; ``inputs`` is one row (a list of values or an
        object keyed by feature) or a list of rows."""
        request = PredictRequest(
            model,
            to_payload(inputs),
            None if version is None else str(version),
            probabilities,
            protocol="route",
            request_id=self._request_id,
            client=self._client,
        )
        result = await self._inference.predict(request)
        return Prediction(
            result.model_name,
            result.model_version,
            result.outputs.predictions,
            result.outputs.probabilities,
        )

    def predict(
        self,
        model: str,
        inputs: Any,
        *,
        version: str | int | None = None,
        probabilities: bool = False,
    ) -> Prediction:
        """:meth:`apredict` for ``def`` routes (blocks this thread until answered)."""
        return self._block(
            self.apredict(model, inputs, version=version, probabilities=probabilities)
        )

    # -- management (admin routes only) ---------------------------------------------------

    async def areload(self, model: str | None = None) -> dict[str, str]:
        """Re-scan the model folder (one model, or all): what happened to each model."""
        actor = self._admin("reload")
        return await self._manager.reload(model, actor)

    def reload(self, model: str | None = None) -> dict[str, str]:
        return self._block(self.areload(model))

    async def aupload(self, model: str, filename: str, data: bytes) -> UploadedVersion:
        """Store ``data`` as the model's next version and serve it once it loads."""
        actor = self._admin("upload")
        validate_model_name(model)
        validate_file_name(filename)
        uploads = self._manager.model_dir / UPLOADS_DIR
        staged = uploads / f"{model}-{secrets.token_hex(8)}.part"
        try:
            # In the try: a full disk can leave part of the file behind.
            await asyncio.to_thread(_write, staged, data)
            return await self._manager.upload(Upload(model, filename, staged), actor)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)

    def upload(self, model: str, filename: str, data: bytes) -> UploadedVersion:
        return self._block(self.aupload(model, filename, data))

    # -- helpers --------------------------------------------------------------------------

    def _admin(self, action: str) -> Actor:
        if self.actor is None:
            raise ForbiddenError(
                f"route {self.route} may not {action} models: declare it with admin: true "
                "(its callers then need the admin token)"
            )
        return self.actor

    def _block(self, work: Coroutine[Any, Any, T]) -> T:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: a 'def' route, as it should be
            running = None
        if running is self._loop:
            work.close()
            raise RuntimeError(
                "an 'async def' route must await the server's a-methods "
                "(await server.apredict(...)); the blocking ones are for 'def' routes"
            )
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()


def to_payload(inputs: Any) -> Payload:
    """One row (values or an object) or a list of rows -> the payload the core takes."""
    if isinstance(inputs, _PAYLOADS):
        return inputs
    if hasattr(inputs, "to_dict") and hasattr(inputs, "columns"):  # a pandas DataFrame
        return Records(inputs.to_dict(orient="records"))
    if hasattr(inputs, "tolist") and getattr(inputs, "ndim", 0) in (1, 2):  # NumPy
        inputs = inputs.tolist()
    if isinstance(inputs, Mapping):
        return Records([dict(inputs)])
    if isinstance(inputs, Sequence) and not isinstance(inputs, str | bytes):
        rows = list(inputs)
        if rows and all(isinstance(row, Mapping) for row in rows):
            return Records(rows)
        if rows and all(isinstance(row, list | tuple) for row in rows):
            return Rows([list(row) for row in rows])
        if all(not isinstance(v, Mapping | list | tuple) for v in rows):
            return Rows([rows] if rows else [])
    raise InvalidInputError(
        "inputs must be one row (a list of values, or an object keyed by feature) or a "
        "list of such rows"
    )


def _write(path: Path, data: bytes) -> None:
    with disk_full_is_an_error("the upload", path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
