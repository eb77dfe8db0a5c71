"""The ``modelport`` command: serve, train-examples.

``serve`` has one flag per Settings field, generated from the fields themselves, so the
help text, the environment variables and the TOML keys can never drift apart.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import logging
import os
import signal
import sys
import tempfile
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import uvicorn
from pydantic.fields import FieldInfo
from uvicorn.config import LOGGING_CONFIG

from modelport import __version__
from modelport.cli.transport import server_options
from modelport.config import ConfigError, Settings, load_settings, settings_to_env
from modelport.errors import ModelportError
from modelport.localtoken import forget_token, new_token, save_token

__all__ = ["main"]

#: Settings fields that are not flags of their own (model_dir is the positional argument;
#: model_store is set by giving it an object store's URL).
_NOT_FLAGS = {"model_dir", "model_store"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="modelport")
def main() -> None:
    """Serve trained machine-learning models behind a fast, safe, standard HTTP API."""


def _click_type(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)])
    if isinstance(annotation, types.UnionType) and len(args) == 1:
        return _click_type(args[0])
    if annotation is Path:
        return click.Path(path_type=Path)
    return annotation if annotation in (int, float, str, bool) else str


def _setting_options(func: Any) -> Any:
    """Decorate ``func`` with one ``--flag`` per Settings field."""
    fields: dict[str, FieldInfo] = Settings.model_fields
    for name in reversed(list(fields)):
        if name in _NOT_FLAGS:
            continue
        field = fields[name]
        default = field.default if field.default is not None else "none"
        help_text = f"{field.description} [env MODELPORT_{name.upper()}; default: {default}]"
        flag = name.replace("_", "-")
        if field.annotation is bool:  # --watch / --no-watch, as on any command line
            func = click.option(f"--{flag}/--no-{flag}", name, default=None, help=help_text)(func)
            continue
        func = click.option(
            f"--{flag}", name, type=_click_type(field.annotation), default=None, help=help_text
        )(func)
    return func


def _log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["modelport"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    config["formatters"]["default"]["fmt"] = "%(levelprefix)s %(name)s: %(message)s"
    # Every record gets the id of the request it belongs to ("-" outside one).
    config["filters"] = {"request_id": {"()": "modelport.accesslog.RequestIdFilter"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    if log_format == "json":
        for name in config["formatters"]:
            config["formatters"][name] = {"()": "modelport.accesslog.JsonFormatter"}
    return config


@main.command()
@click.argument("model_dir", required=False)
@_setting_options
def serve(model_dir: str | None, **flags: Any) -> None:
    """Serve every model under MODEL_DIR (default ./models) over HTTP.

    MODEL_DIR may also be one model file (modelport serve model.pkl): it is served as
    the model named after its stem; or one MLflow model folder (the one holding an
    MLmodel file), served as the model named after the folder. A MODEL_DIR that does
    not exist stops the command (exit code 2) unless --watch is given. MODEL_DIR may
    be an object store too (s3://bucket/prefix, with the s3 extra and --database-url).

    Settings come from these flags, then MODELPORT_* environment variables, then
    modelport.toml (--config), then the defaults shown.
    """
    from modelport.repository.objectstore import is_store_url

    # An object store's URL stays a string (a Path would fold its "//").
    given = None if model_dir is None else Path(model_dir)
    try:
        settings = load_settings(
            model_dir=model_dir if model_dir and is_store_url(model_dir) else given, **flags
        )
    except ConfigError as exc:
        raise click.UsageError(exc.message) from exc
    if settings.model_store is not None:
        given = None
        from modelport.cli.objectstore import check_model_store

        check_model_store(settings)
    else:
        _check_model_dir(settings, given=model_dir is not None)
    from modelport.cli.ray_engine import check_engine_settings

    check_engine_settings(settings)
    from modelport.cli.recycle import check_recycle_settings

    check_recycle_settings(settings)
    _check_database_url(settings)
    settings = _open_database(settings)
    log_config = _log_config(settings.log_level, settings.log_format)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": log_config,
        "log_level": settings.log_level,
        "server_header": False,
        # modelport writes its own access line (modelport.access), with the model.
        "access_log": False,
        "timeout_graceful_shutdown": max(1, int(settings.request_timeout)),
        # Read deadlines, the connection bound and proxy headers, for every worker too.
        **server_options(settings),
    }
    settings, generated = _with_admin_token(settings)
    _exit_zero_after_graceful_shutdown()
    with _pid_file(settings.pid_file), _saved_token(settings, generated):
        if settings.engine == "ray":
            from modelport.cli.ray_engine import serve_on_ray

            serve_on_ray(settings, given)
            return
        # Recycling needs the supervisor, even for one worker (see cli/recycle.py).
        if settings.workers == 1 and not settings.recycles_workers:
            with _collector_paused():
                from modelport.api import create_app

                app = create_app(settings)
            uvicorn.run(app, **common)
            return
        # Worker processes rebuild the very same Settings from the environment.
        os.environ.update(settings_to_env(settings))
        factory = "modelport.api.app:create_app_from_env"
        with _shared_metrics(settings):
            if settings.recycles_workers:
                from modelport.cli.recycle import serve_recycling

                serve_recycling(factory, settings, common)
                return
            uvicorn.run(factory, factory=True, workers=settings.workers, **common)


@contextlib.contextmanager
def _shared_metrics(settings: Settings) -> Iterator[None]:
    """One folder for every worker's metric values (prometheus-client's multiprocess
    mode), made fresh for this run and removed after it, so that a scrape of any worker
    sums them all and no value of an earlier run survives."""
    if not settings.metrics or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="modelport-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _check_database_url(settings: Settings) -> None:
    """A database URL modelport cannot use stops the start with one line (exit 2)."""
    if settings.database_url is None:
        return
    from modelport.db.engine import normalize_url

    try:
        normalize_url(settings.database_url)
    except ConfigError as exc:
        raise click.UsageError(exc.message) from exc


class _StartError(click.ClickException):
    """A start that cannot go on: one line, exit code 2 (as a usage error, without the
    usage text)."""

    exit_code = 2


def _open_database(settings: Settings) -> Settings:
    """Reach the database (created and migrated when new) before serving: one line and
    exit code 2 when it cannot be, unless database_optional. Returns the settings with
    the SQLite file's folder pinned, so that every worker opens the very same file."""
    from modelport.db import make_engine, migrate
    from modelport.db.location import describe, locate_database, unreachable
    from modelport.errors import DatabaseUnavailableError

    location = locate_database(settings)
    if location.note:
        _say(settings, f"warning: {location.note}")
    if location.path is not None and settings.database_url is None:
        settings = settings.model_copy(update={"data_dir": location.path.parent})
    if location.source == "default" and not settings.model_dir.exists():
        _say(
            settings,
            f"creating the model folder {settings.model_dir} to hold its database in "
            f"{location.path}; put models in it (or give --data-dir for the database)",
        )
    try:
        engine = make_engine(location.url)
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise _StartError(
            f"cannot create the database {describe(location, settings)}: {exc.strerror or exc}; "
            "give --data-dir a folder modelport may write to, or --database-url"
        ) from exc
    try:
        migrate(engine)
    except DatabaseUnavailableError as exc:
        message = unreachable(location, settings, exc)
        if not settings.database_optional:
            raise _StartError(
                f"{message}. Start it or correct --database-url, or add --database-optional "
                "to serve predictions without it"
            ) from exc
        _say(
            settings,
            f"warning: {message}; serving without it (database_optional): predictions are "
            "answered, but until it answers the prediction log only waits in memory "
            "(log_buffer_size) and model uploads, deletes, aliases and database tokens fail",
        )
    except ModelportError as exc:  # e.g. a database migrated by a newer modelport
        raise _StartError(f"database {location.shown}: {exc.message}") from exc
    finally:
        engine.dispose()
    return settings


def _check_model_dir(settings: Settings, *, given: bool) -> None:
    """Say what will be served; stop (exit 2) when there is nothing to serve."""
    from modelport.repository.mlmodel import is_mlflow_folder
    from modelport.repository.scan import is_model_file, single_file_name, single_folder_name
    from modelport.runtimes.base import artifact_suffixes

    path = settings.model_dir
    if path.is_file():
        if not is_model_file(path, artifact_suffixes()):
            raise click.UsageError(
                f"{path} is not a model file modelport reads: known endings are "
                f"{', '.join(artifact_suffixes())}, plus XGBoost's .json and LightGBM's .txt "
                "models; for another file, make a folder NAME/1/ holding it and a model.yaml "
                "naming its runtime"
            )
        _say(settings, f"serving the file {path.name} as model '{single_file_name(path)}'")
        return
    if path.is_dir():
        if is_mlflow_folder(path):
            _say(
                settings,
                f"serving the MLflow model folder {path.name} as model "
                f"'{single_folder_name(path)}'",
            )
        elif not any(not entry.name.startswith(".") for entry in path.iterdir()):
            _say(settings, _empty_folder_hint(path, given))
        return
    if settings.watch:
        _say(settings, f"model folder {path} does not exist yet; watching for it")
        return
    default = "" if given else " (the default: no MODEL_DIR was given)"
    raise click.UsageError(
        f"model folder {path}{default} does not exist: create it and put models in it, "
        "give a folder that exists or one model file (modelport serve model.pkl), or add "
        "--watch to start with none and load models as they appear there; "
        "`modelport train-examples` writes example models into ./models"
    )


def _empty_folder_hint(path: Path, given: bool) -> str:
    shown = str(path) if given else "models"
    return (
        f"model folder {path} is empty: the server starts with no model. Put one in it "
        f"(a file such as {shown}/NAME/1/model.joblib, or {shown}/NAME.pkl), upload one "
        f"(modelport upload), or stop and run `modelport train-examples {shown}` for "
        "example models to try"
    )


def _say(settings: Settings, text: str) -> None:
    """A line for the operator at start: as it is, or a JSON log line (--log-format json),
    so that every line a log shipper reads parses."""
    if settings.log_format == "json":
        from modelport.accesslog import JsonFormatter

        record = logging.makeLogRecord(
            {"name": "modelport.cli", "levelname": "INFO", "msg": text, "request_id": "-"}
        )
        text = JsonFormatter().format(record)
    click.echo(text, err=True)


def _with_admin_token(settings: Settings) -> tuple[Settings, bool]:
    """The settings with an admin token: the operator's, or a new one (then True)."""
    if settings.admin_token is not None:
        from modelport.access import admin_mode

        _say(settings, admin_mode(settings, generated=False))
        return settings, False
    # No address is trusted, so a server without a token makes one (as Jupyter does).
    return settings.model_copy(update={"admin_token": new_token()}), True


@contextlib.contextmanager
def _saved_token(settings: Settings, generated: bool) -> Iterator[None]:
    """Keep a generated admin token where this user's ``modelport`` commands find it."""
    if not generated:
        yield
        return
    token = settings.admin_token
    if token is None:  # _with_admin_token made one: nothing to save otherwise
        yield
        return
    from modelport.access import admin_mode

    _say(settings, admin_mode(settings, generated=True))
    saved = save_token(settings.port, token)
    if saved is not None:
        _say(
            settings,
            f"admin token saved in {saved} (readable by you only); `modelport upload` and "
            "`modelport models` use it; for curl: "
            '-H "Authorization: Bearer $(modelport admin-token)"',
        )
    # The terminal's owner may see the token; a log file collected elsewhere may not.
    if saved is None or sys.stderr.isatty():
        click.echo(f"admin token: {token}", err=True)
    try:
        yield
    finally:
        forget_token(settings.port, token)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while the web stack is imported and the app is built.

    That creates hundreds of thousands of long-lived objects and next to no garbage, so
    the collections it would trigger only cost time (about 0.1 s of a start, measured
    with bench/coldstart.py). The app's lifespan sets the thresholds for serving.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _exit_zero_after_graceful_shutdown() -> None:
    """uvicorn finishes in-flight requests on SIGTERM/SIGINT, then re-raises the signal
    with the handlers it found; these turn that into a normal exit, so `finally` blocks
    run (the pid file is removed) and process managers see status 0."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, leave)


@contextlib.contextmanager
def _pid_file(path: Path | None) -> Iterator[None]:
    """Hold ``path`` with this process's id while serving (for process managers)."""
    if path is None:
        yield
        return
    if path.exists():
        text = path.read_text().strip()
        if text.isdigit() and _alive(int(text)):
            raise click.UsageError(f"pid file {path} names running process {text}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.read_text().strip() == str(os.getpid()):
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@main.command("train-examples")
@click.argument("target", required=False, type=click.Path(path_type=Path), default=Path("models"))
def train_examples_command(target: Path) -> None:
    """Train the example models into TARGET (default ./models).

    iris-lr, iris-dt, iris-xgb, iris-onnx, diabetes-xgb, loan-rf and compute; an example
    whose library is not installed is skipped with a warning.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from modelport.train_examples import train_examples

    try:
        written = train_examples(target)
    except ModelportError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    for name in written:
        click.echo(f"wrote {target / name}")
    if not written:
        click.echo(f"every example model is already in {target}")


def _register_admin_commands() -> None:
    from modelport.cli.admin import admin_token_command, models_command, tokens, upload_command

    for command in (upload_command, models_command, tokens, admin_token_command):
        main.add_command(command)
    from modelport.cli.predictions import predictions

    main.add_command(predictions)
    from modelport.cli import rollout

    rollout.register(main)
    from modelport.cli import manage

    manage.register(main)


_register_admin_commands()
