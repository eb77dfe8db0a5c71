"""Where the server's database is, and opening it for the commands that only read it.

``database_url`` when given; else the SQLite file ``modelport.db`` in ``data_dir``; else,
by default, in ``.modelport`` inside the model folder (beside it when MODEL_DIR is one
model file or one MLflow model folder). So a server and the commands that read its
database find the same file from any working directory, given the same MODEL_DIR.

Older versions of modelport kept the default file in the folder the server was started
from (``./modelport.db``). Such a file is still used, with a warning saying how to move
it, as long as the model folder has no database of its own: nobody loses their log on
an upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from modelport.config import Settings
from modelport.db.engine import SQLITE_DEFERRED, make_engine, normalize_url
from modelport.db.errors import DatabaseUnavailableError
from modelport.db.migrate import VERSION_TABLE, migrate
from modelport.db.tx import guarded

__all__ = [
    "DATABASE_FILE",
    "DATABASE_FOLDER",
    "DatabaseLocation",
    "default_data_dir",
    "describe",
    "locate_database",
    "open_existing",
    "shown_url",
    "unreachable",
]

DATABASE_FILE = "modelport.db"
#: How the store's guard starts an outage's message (db/tx.py).
_UNAVAILABLE = "the database is unavailable: "
#: The folder of the default database, inside the model folder (hidden: the repository
#: scan and the watcher skip names starting with a dot).
DATABASE_FOLDER = ".modelport"


@dataclass(frozen=True, slots=True)
class DatabaseLocation:
    """The database that settings name."""

    #: What make_engine takes (with the password, if any).
    url: str
    #: The same for messages: the password hidden.
    shown: str
    #: The SQLite file, when the database is one.
    path: Path | None
    #: How it was chosen, for messages: "database_url", "data_dir", "default" or "legacy".
    source: str
    #: A warning for the operator (the old default place in use or left behind), else None.
    note: str | None = None


def default_data_dir(model_dir: Path) -> Path:
    """``MODEL_DIR/.modelport``; beside MODEL_DIR when it is one file or an MLflow folder."""
    if model_dir.is_file() or (model_dir / "MLmodel").is_file():
        return model_dir.parent / DATABASE_FOLDER
    return model_dir / DATABASE_FOLDER


def shown_url(url: str) -> str:
    """``url`` without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # normalize_url reports it; show no part of it
        return "(an invalid database URL)"


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def locate_database(settings: Settings, cwd: Path | None = None) -> DatabaseLocation:
    """The database ``settings`` name (``cwd``: where to look for the old default file)."""
    if settings.database_url:
        parsed = normalize_url(settings.database_url)
        path = None
        database = parsed.database or ""
        if parsed.get_backend_name() == "sqlite" and database and not database.startswith("file:"):
            path = Path(database).expanduser().resolve()
        return DatabaseLocation(
            settings.database_url, shown_url(settings.database_url), path, "database_url"
        )
    if settings.data_dir is not None:
        path = settings.data_dir / DATABASE_FILE
        return DatabaseLocation(_sqlite_url(path), _sqlite_url(path), path, "data_dir")
    path = default_data_dir(settings.model_dir) / DATABASE_FILE
    legacy = (cwd or Path.cwd()).resolve() / DATABASE_FILE
    if legacy == path or not legacy.is_file():
        return DatabaseLocation(_sqlite_url(path), _sqlite_url(path), path, "default")
    if not path.exists():
        note = (
            f"using {legacy}, the database in the current folder, where modelport kept it "
            f"before; modelport now keeps it in {path.parent}, whatever the current folder. "
            f"To move it, with no server running: mkdir -p {path.parent} && "
            f"mv {legacy}* {path.parent}/ (the -wal and -shm files too, if any); "
            f"or keep it where it is with --data-dir {legacy.parent}"
        )
        return DatabaseLocation(_sqlite_url(legacy), _sqlite_url(legacy), legacy, "legacy", note)
    note = (
        f"{legacy} in the current folder is not used (modelport kept its database there "
        f"before): the database is {path}. Give --data-dir {legacy.parent} to use the "
        "old one instead, or remove it once you no longer need its records"
    )
    return DatabaseLocation(_sqlite_url(path), _sqlite_url(path), path, "default", note)


def describe(location: DatabaseLocation, settings: Settings) -> str:
    """Which database this is and why, for messages: "/m/.modelport/modelport.db (the
    default for model folder /m)"."""
    name = str(location.path) if location.path is not None else location.shown
    if location.source == "default":
        return f"{name} (the default for model folder {settings.model_dir})"
    if location.source == "legacy":
        return f"{name} (found in the current folder)"
    if location.source == "data_dir":
        return f"{name} (in data_dir)"
    return name


def open_existing(settings: Settings, cwd: Path | None = None) -> Engine:
    """An engine on the database ``settings`` name, which must already be modelport's:
    nothing is created. DatabaseUnavailableError (naming the database, no password)
    when it does not exist, cannot be reached or holds no modelport tables. A database
    from an older modelport is brought up to date, as the server would."""
    location = locate_database(settings, cwd)
    where = describe(location, settings)
    if location.path is not None and not location.path.is_file():
        raise DatabaseUnavailableError(
            f"no database at {where}: no modelport server has used it yet. Give the "
            "server's model folder (--model-dir), --data-dir or --database-url"
        )
    engine = make_engine(location.url)
    try:
        if not _has_modelport_tables(engine):
            raise DatabaseUnavailableError(
                f"the database {where} holds no modelport tables: no modelport server has "
                "used it yet. Give the server's model folder (--model-dir), --data-dir or "
                "--database-url"
            )
        migrate(engine)
    except DatabaseUnavailableError as exc:
        engine.dispose()
        raise DatabaseUnavailableError(unreachable(location, settings, exc)) from exc
    except BaseException:
        engine.dispose()
        raise
    return engine


def unreachable(
    location: DatabaseLocation, settings: Settings, exc: DatabaseUnavailableError
) -> str:
    """The message of ``exc`` naming the database (no password), said once."""
    message = exc.message
    if location.shown in message or str(location.path) in message:
        return message
    reason = message.removeprefix(_UNAVAILABLE)
    return f"cannot reach the database {describe(location, settings)}: {reason}"


@guarded
def _has_modelport_tables(engine: Engine) -> bool:
    with engine.connect() as connection:
        connection.execution_options(**{SQLITE_DEFERRED: True})
        return inspect(connection).has_table(VERSION_TABLE)
