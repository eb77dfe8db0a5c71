"""``modelport serve s3://bucket/prefix``: what an object-store MODEL_DIR needs, checked
before anything starts, and the models fetched once into this machine's copy.

Why a shared database is required: the default SQLite file lives in model_dir's
``.modelport`` folder, which is a local copy here, different on every machine; the
processes learn of each other's uploads through the database's change feed, so they
must all use one (``--database-url``: MariaDB, PostgreSQL, or an SQLite file when every
process runs on this machine).

Why ``--watch`` is refused: it looks at a local folder every half second; looking at a
bucket that often costs a request per look and process. Files put in the store by hand
are loaded by ``modelport reload`` (POST /v1/admin/reload), which looks at the store
again, and uploads reach every process by themselves.
"""

from __future__ import annotations

import click

from modelport.config import Settings
from modelport.errors import ModelportError

__all__ = ["check_model_store"]


class _StoreStartError(click.ClickException):
    """One line and exit code 2, like a usage error without the usage text."""

    exit_code = 2


def check_model_store(settings: Settings) -> None:
    """Refuse what cannot work with an object store, reach it, and fill this machine's
    copy (the workers then find it current)."""
    url = settings.model_store
    if url is None:
        return
    if settings.database_url is None:
        raise click.UsageError(
            f"MODEL_DIR {url} is an object store: give --database-url, the database every "
            "server process shares (mysql+pymysql://..., postgresql+psycopg://..., or "
            "sqlite:////path/modelport.db when they all run on this machine); the default "
            "SQLite file would be each machine's own, and uploads would not reach the others"
        )
    if settings.watch:
        raise click.UsageError(
            f"--watch looks at a local folder; with the object store {url}, put files "
            "there and run `modelport reload` (uploads reach every server by themselves)"
        )
    from modelport.repository.objectstore import ModelStore

    try:
        store = ModelStore.open(url, settings.model_dir)
        store.check()
        settings.model_dir.mkdir(parents=True, exist_ok=True)
        store.pull()
    except ModelportError as exc:
        raise _StoreStartError(exc.message) from exc
    except OSError as exc:  # the local copy's folder
        raise _StoreStartError(
            f"cannot write the local copy of {url} in {settings.model_dir}: "
            f"{exc.strerror or exc}; give --data-dir a folder modelport may write to"
        ) from exc
