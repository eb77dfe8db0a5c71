"""Operator commands: ``modelport upload``, ``modelport models`` and ``modelport tokens``.

``upload`` and ``models`` talk HTTP to a running server through the shared client
(``cli/client.py``: --url, --token, --json, exit codes); ``tokens`` works on the
database directly, since creating the first token cannot need a token.
"""

from __future__ import annotations

import os
import secrets
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from modelport.cli.client import (
    DEFAULT_URL,
    Unreachable,
    call,
    client_options,
    connection,
    emit,
    model_path,
    print_table,
    read_answer,
    refused,
    resolve_token,
    server_of,
    wants_json,
)
from modelport.config import ConfigError, load_settings

__all__ = ["admin_token_command", "models_command", "tokens", "upload_command"]

_CHUNK = 1 << 20


@click.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "model", required=True, help="Model name (created if new).")
@click.option(
    "--yaml",
    "model_yaml",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The version's model.yaml (e.g. its runtime, for a .json or .txt model).",
)
@click.option(
    "--code",
    "code",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Python file the model needs (its classes, for a pickle); repeatable.",
)
@click.option("--alias", default=None, help="Point this alias (e.g. production) at it.")
@client_options
def upload_command(
    file: Path, model: str, model_yaml: Path | None, code: tuple[Path, ...], alias: str | None
) -> None:
    """Upload FILE as the next version of a model on a running server, with its
    model.yaml (--yaml) and code files (--code) when it needs them."""
    ctx = click.get_current_context()
    url, token = server_of(ctx)
    query = {"filename": file.name, **({"alias": alias} if alias else {})}
    path = model_path(model) + "/versions"
    parts = [("file", file)]
    if model_yaml is not None:
        parts.append(("model_yaml", model_yaml))
    parts += [("files", extra) for extra in code]
    if len(parts) == 1:
        path += "?" + urllib.parse.urlencode(query)
        pieces: list[bytes | Path] = [file]
        content_type = "application/octet-stream"
    else:
        path += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if k == "alias"})
        pieces, content_type = _multipart(parts)
    size = sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in pieces)
    conn, base = connection(url)
    try:
        conn.connect()
    except OSError as exc:
        conn.close()
        raise Unreachable(f"cannot reach {url}: {exc}") from exc
    try:
        conn.putrequest("POST", base + path)
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(size))
        if token:
            conn.putheader("Authorization", f"Bearer {token}")
        conn.endheaders()
        # A bar for a person at a terminal; a script's standard error gets only errors.
        with click.progressbar(
            length=size,
            label=f"uploading {file.name}",
            file=sys.stderr,
            hidden=not sys.stderr.isatty(),
        ) as bar:
            for piece in pieces:
                for chunk in _chunks(piece):
                    conn.send(chunk)
                    bar.update(len(chunk))
        status, body = read_answer(conn)
    except OSError as exc:
        raise Unreachable(f"upload to {url} failed: {exc}") from exc
    finally:
        conn.close()
    if status != 201:
        raise refused(status, body)
    emit(
        body,
        wants_json(ctx),
        lambda: click.echo(
            f"{body['name']} version {body['version']} is ready "
            f"(sha256 {body['sha256'][:12]}..., {body['size']} bytes, loaded in "
            f"{body['load_seconds']:.2f} s)" + (f"; {alias} -> {body['version']}" if alias else "")
        ),
    )


def _multipart(parts: list[tuple[str, Path]]) -> tuple[list[bytes | Path], str]:
    """A multipart/form-data body as pieces (files are streamed, not read whole)."""
    boundary = f"modelport-{secrets.token_hex(16)}"
    pieces: list[bytes | Path] = []
    for field, path in parts:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        pieces += [head.encode(), path, b"\r\n"]
    pieces.append(f"--{boundary}--\r\n".encode())
    return pieces, f"multipart/form-data; boundary={boundary}"


def _chunks(piece: bytes | Path) -> Iterator[bytes]:
    if isinstance(piece, bytes):
        yield piece
        return
    with piece.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


@click.command("models")
@client_options
def models_command() -> None:
    """Table of a running server's models: versions, state and aliases."""
    ctx = click.get_current_context()
    listing = call(ctx, "GET", "/v1/models")
    rows = []
    for entry in listing["models"]:
        # A management call: a wrong or missing token is an error, not a table without aliases.
        history = call(ctx, "GET", model_path(entry["name"]) + "/versions")
        entry["aliases"] = history["aliases"]
        versions = ", ".join(
            f"{v['version']}" + ("" if v["state"] == "ready" else f" ({v['state']})")
            for v in entry["versions"]
        )
        aliases = ", ".join(f"{a}->{v}" for a, v in sorted(history["aliases"].items()))
        rows.append(
            (
                entry["name"],
                entry.get("latest_version"),
                versions or None,
                entry["state"],
                aliases or None,
            )
        )
    emit(
        listing,
        wants_json(ctx),
        lambda: print_table(rows, ["MODEL", "LATEST", "VERSIONS", "STATE", "ALIASES"]),
    )


@click.command("admin-token")
@click.option(
    "--url",
    envvar="MODELPORT_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The server on this machine [env MODELPORT_URL].",
)
def admin_token_command(url: str) -> None:
    """Print the admin token that the server on this machine made at start.

    For curl: -H "Authorization: Bearer $(modelport admin-token)". Only the user who
    started the server can read it; a server started with an admin_token saves none.
    """
    token = resolve_token(url, None)
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
