"""The server's database as one service: its engine, migrated once, and the way the
rest of modelport runs the store's blocking functions off the event loop.

Built once by the composition root (``modelport.services``) and given to every part that
reads or writes rows: the model manager, the prediction log, the change feed. Here a
database that does not answer is no failure: models are served from the files, and each
part asks :meth:`Database.ready` again before its next use (``modelport serve`` itself
stops when it cannot reach the database at start, unless ``database_optional``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine

from modelport.config import Settings
from modelport.db.engine import make_engine
from modelport.db.location import locate_database
from modelport.db.migrate import migrate
from modelport.errors import DatabaseUnavailableError, ModelportError

__all__ = ["Database"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class Database:
    """One engine, migrated the first time it answers."""

    def __init__(self, engine: Engine, *, migrated: bool = False) -> None:
        self.engine = engine
        #: True once the schema is known to be current (``migrated``: the caller knows).
        self._migrated = migrated

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """``database_url``, else SQLite in ``data_dir``, else in the model folder's
        ``.modelport`` (the embedded default; see location.py)."""
        # A statement waits for another connection's lock at most request_timeout: a
        # request behind it is a 503 within that, not a hang (the log's writes retry).
        return cls(make_engine(locate_database(settings).url, lock_wait_s=settings.request_timeout))

    @property
    def is_ready(self) -> bool:
        return self._migrated

    async def ready(self) -> None:
        """Migrate once; DatabaseUnavailableError while the database does not answer."""
        if self._migrated:
            return
        try:
            await asyncio.to_thread(migrate, self.engine)
        except ModelportError:
            raise
        except Exception as exc:  # the driver's connection errors, before the store's guard
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.error("the database is unavailable: %s", reason)
            raise DatabaseUnavailableError(f"the database is unavailable: {reason}") from exc
        self._migrated = True

    async def run(
        self, function: Callable[Concatenate[Engine, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``function(engine, *args, **kwargs)`` (a store function) in a worker thread."""
        return await asyncio.to_thread(function, self.engine, *args, **kwargs)

    def close(self) -> None:
        self.engine.dispose()
