"""Operator commands: ``modelport upload``, ``modelport models`` and ``modelport tokens``.

``upload`` and ``models`` talk HTTP to a running server (standard library only, so the
core installs nothing more); ``tokens`` works on the database directly, since creating
the first token cannot need a token.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import click

from modelport.access import is_loopback
from modelport.config import ConfigError, load_settings
from modelport.localtoken import read_token

__all__ = ["admin_token_command", "models_command", "tokens", "upload_command"]

_DEFAULT_URL = "http://127.0.0.1:8000"
_CHUNK = 1 << 20


def _url_option(func: Any) -> Any:
    func = click.option(
        "--token",
        envvar="MODELPORT_ADMIN_TOKEN",
        default=None,
        help="Admin bearer token [env MODELPORT_ADMIN_TOKEN; default: the one a server on "
        "this machine saved for you at start].",
    )(func)
    return click.option(
        "--url",
        envvar="MODELPORT_URL",
        default=_DEFAULT_URL,
        show_default=True,
        help="The server [env MODELPORT_URL].",
    )(func)


def _resolve_token(url: str, token: str | None) -> str | None:
    """The token given, else the one a server on this machine saved for this user."""
    if token:
        return token
    parsed = urllib.parse.urlsplit(url)
    if not is_loopback(parsed.hostname):
        return None
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        return None
    return read_token(port)


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise click.UsageError(f"--url must be http(s)://host[:port], got '{url}'")
    kind = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
    return kind(parsed.hostname, parsed.port, timeout=600), parsed.path.rstrip("/")


def _answer(connection: http.client.HTTPConnection) -> tuple[int, Any]:
    response = connection.getresponse()
    body = response.read()
    try:
        return response.status, json.loads(body) if body else None
    except ValueError:
        return response.status, body.decode(errors="replace")


def _request(url: str, method: str, path: str, token: str | None) -> tuple[int, Any]:
    connection, base = _connection(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        connection.request(method, base + path, headers=headers)
        return _answer(connection)
    except OSError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from exc
    finally:
        connection.close()


def _fail(status: int, body: Any) -> None:
    message = body.get("message", body) if isinstance(body, dict) else body
    raise click.ClickException(f"the server answered {status}: {message}")


@click.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "model", required=True, help="Model name (created if new).")
@click.option("--alias", default=None, help="Point this alias (e.g. production) at it.")
@_url_option
def upload_command(file: Path, model: str, alias: str | None, url: str, token: str | None) -> None:
    """Upload FILE as the next version of a model on a running server."""
    token = _resolve_token(url, token)
    query = {"filename": file.name, **({"alias": alias} if alias else {})}
    path = f"/v1/admin/models/{urllib.parse.quote(model, safe='')}/versions"
    path += "?" + urllib.parse.urlencode(query)
    size = file.stat().st_size
    connection, base = _connection(url)
    try:
        connection.putrequest("POST", base + path)
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(size))
        if token:
            connection.putheader("Authorization", f"Bearer {token}")
        connection.endheaders()
        with (
            file.open("rb") as handle,
            click.progressbar(length=size, label=f"uploading {file.name}", file=sys.stderr) as bar,
        ):
            while chunk := handle.read(_CHUNK):
                connection.send(chunk)
                bar.update(len(chunk))
        status, body = _answer(connection)
    except OSError as exc:
        raise click.ClickException(f"upload to {url} failed: {exc}") from exc
    finally:
        connection.close()
    if status != 201:
        _fail(status, body)
    click.echo(
        f"{body['name']} version {body['version']} is ready "
        f"(sha256 {body['sha256'][:12]}..., {body['size']} bytes, loaded in "
        f"{body['load_seconds']:.2f} s)" + (f"; {alias} -> {body['version']}" if alias else "")
    )


@click.command("models")
@_url_option
def models_command(url: str, token: str | None) -> None:
    """Table of a running server's models: versions, state and aliases."""
    token = _resolve_token(url, token)
    status, body = _request(url, "GET", "/v1/models", token)
    if status != 200:
        _fail(status, body)
    rows = [("MODEL", "LATEST", "VERSIONS", "STATE", "ALIASES")]
    for model in body["models"]:
        name = model["name"]
        aliases = "-"
        code, history = _request(url, "GET", f"/v1/admin/models/{name}/versions", token)
        if code == 200:
            pairs = sorted(history["aliases"].items())
            aliases = ", ".join(f"{a}->{v}" for a, v in pairs) or "-"
        versions = ", ".join(
            f"{v['version']}" + ("" if v["state"] == "ready" else f" ({v['state']})")
            for v in model["versions"]
        )
        latest = model.get("latest_version")
        rows.append((name, str(latest or "-"), versions or "-", model["state"], aliases))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@click.command("admin-token")
@click.option(
    "--url",
    envvar="MODELPORT_URL",
    default=_DEFAULT_URL,
    show_default=True,
    help="The server on this machine [env MODELPORT_URL].",
)
def admin_token_command(url: str) -> None:
    """Print the admin token that the server on this machine made at start.

    For curl: -H "Authorization: Bearer $(modelport admin-token)". Only the user who
    started the server can read it; a server started with an admin_token saves none.
    """
    token = _resolve_token(url, None)
    if token is None:
        raise click.ClickException(
            f"no saved admin token for {url}: is a server running there, started by you "
            "without an admin_token? (with one, use that token)"
        )
    click.echo(token)


@click.group("tokens")
def tokens() -> None:
    """Admin tokens, stored hashed in the database (the server's database settings)."""


def _database_options(func: Any) -> Any:
    """The options that name the server's database, as ``serve`` takes them."""
    func = click.option(
        "--data-dir", type=click.Path(path_type=Path), default=None, help="As for serve."
    )(func)
    func = click.option("--database-url", default=None, help="As for serve.")(func)
    return click.option(
        "--model-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="The server's MODEL_DIR, whose .modelport folder holds its SQLite database "
        "when neither --data-dir nor --database-url is given [env MODELPORT_MODEL_DIR; "
        "default: ./models].",
    )(func)


def _settings(model_dir: Path | None, database_url: str | None, data_dir: Path | None) -> Any:
    try:
        return load_settings(model_dir=model_dir, database_url=database_url, data_dir=data_dir)
    except ConfigError as exc:
        raise click.UsageError(exc.message) from exc


def _existing_engine(
    model_dir: Path | None, database_url: str | None, data_dir: Path | None
) -> Any:
    """An engine on the server's database for a command that reads it: one clear line
    (naming the database) and a non-zero exit when there is none; nothing is created."""
    from modelport.db.location import open_existing
    from modelport.errors import ModelportError

    settings = _settings(model_dir, database_url, data_dir)
    try:
        return open_existing(settings)
    except ConfigError as exc:
        raise click.UsageError(exc.message) from exc
    except ModelportError as exc:
        raise click.ClickException(exc.message) from exc


def _engine(model_dir: Path | None, database_url: str | None, data_dir: Path | None) -> Any:
    """An engine on the server's database for a command that writes it (created and
    migrated when new, as the server would); says which database on standard error."""
    from modelport.db import make_engine, migrate
    from modelport.db.location import describe, locate_database
    from modelport.errors import ModelportError

    settings = _settings(model_dir, database_url, data_dir)
    try:
        location = locate_database(settings)
    except ConfigError as exc:
        raise click.UsageError(exc.message) from exc
    if location.source == "default" and not settings.model_dir.exists():
        raise click.ClickException(
            f"model folder {settings.model_dir} does not exist, so neither does its database "
            f"{location.path}: give the server's model folder (--model-dir), --data-dir or "
            "--database-url"
        )
    if location.note:
        click.echo(f"warning: {location.note}", err=True)
    click.echo(f"database: {describe(location, settings)}", err=True)
    engine = make_engine(location.url)
    try:
        migrate(engine)
    except ModelportError as exc:
        engine.dispose()
        raise click.ClickException(exc.message) from exc
    return engine


@tokens.command("create")
@click.argument("name")
@_database_options
def create_token(
    name: str, model_dir: Path | None, database_url: str | None, data_dir: Path | None
) -> None:
    """Create a token called NAME and print it (it is shown only this once)."""
    from modelport.db import store

    engine = _engine(model_dir, database_url, data_dir)
    try:
        click.echo(store.create_token(engine, name))
    finally:
        engine.dispose()
    if os.isatty(2):
        click.echo("keep it now: only its hash is stored", err=True)


@tokens.command("list")
@_database_options
def list_tokens(model_dir: Path | None, database_url: str | None, data_dir: Path | None) -> None:
    """The tokens: id, name, created, last used, revoked."""
    from modelport.db import store

    engine = _existing_engine(model_dir, database_url, data_dir)
    try:
        for info in store.list_tokens(engine):
            used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "-"
            state = "revoked" if info.revoked else "active"
            created = info.created_at.isoformat(timespec="seconds")
            click.echo(f"{info.id}\t{info.name}\t{created}\t{used}\t{state}")
    finally:
        engine.dispose()


@tokens.command("revoke")
@click.argument("name")
@_database_options
def revoke_token(
    name: str, model_dir: Path | None, database_url: str | None, data_dir: Path | None
) -> None:
    """Revoke the token called NAME."""
    from modelport.db import store

    engine = _existing_engine(model_dir, database_url, data_dir)
    try:
        revoked = store.revoke_token(engine, name)
        remaining = any(not info.revoked for info in store.list_tokens(engine))
    finally:
        engine.dispose()
    if not revoked:
        raise click.ClickException(f"no live token called '{name}'")
    click.echo(f"token '{name}' revoked")
    if not remaining:
        # Loud on purpose: who may manage the server has changed.
        click.echo(
            "warning: no database token is left; the management API now takes only the "
            "server's own admin token (its admin_token setting, or the one it made at start)",
            err=True,
        )
