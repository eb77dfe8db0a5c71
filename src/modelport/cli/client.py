"""The HTTP client every operator command shares: server, token, exit codes, output.

Use it in a command like this::

    @click.command("versions")
    @click.argument("name")
    @client_options                      # adds --url, --token and --json
    def versions(name: str) -> None:
        ctx = click.get_current_context()
        answer = call(ctx, "GET", model_path(name) + "/versions")
        emit(answer, wants_json(ctx), lambda: print_table(rows, ["VERSION", "STATE"]))

``call`` returns the server's JSON answer for a 2xx status and otherwise ends the
command with an exit code scripts can trust (one line on standard error, naming the
server's message):

* 0 ok, 1 the server refused (any 4xx/5xx, authentication failures included),
  2 usage (click's own), 3 the server cannot be reached.

The server comes from ``--url`` / MODELPORT_URL; the token from ``--token`` /
MODELPORT_ADMIN_TOKEN, else the one a server on this machine saved for this user at
start. Standard library only, so the core installs nothing more.
"""

from __future__ import annotations

import functools
import http.client
import json
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from modelport.access import is_loopback
from modelport.localtoken import read_token

__all__ = [
    "CANNOT_CONNECT",
    "DEFAULT_URL",
    "SERVER_REFUSED",
    "Refused",
    "Unreachable",
    "call",
    "client_options",
    "connection",
    "emit",
    "model_path",
    "print_table",
    "read_answer",
    "refused",
    "resolve_token",
    "server_of",
    "wants_json",
]

DEFAULT_URL = "http://127.0.0.1:8000"
SERVER_REFUSED = 1
CANNOT_CONNECT = 3
_META = "modelport.client"


class Refused(click.ClickException):
    """The server answered with an error status (exit code 1)."""

    exit_code = SERVER_REFUSED


class Unreachable(click.ClickException):
    """The server could not be reached (exit code 3)."""

    exit_code = CANNOT_CONNECT


def client_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--url``, ``--token`` and ``--json`` to a command; they are kept on the
    click context (read them with ``call``, ``server_of`` and ``wants_json``), so the
    command's function does not take them as parameters."""

    @functools.wraps(func)
    def wrapper(*args: Any, url: str, token: str | None, as_json: bool, **kwargs: Any) -> Any:
        click.get_current_context().meta[_META] = (url, resolve_token(url, token), as_json)
        return func(*args, **kwargs)

    wrapper = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")(
        wrapper
    )
    wrapper = click.option(
        "--token",
        envvar="MODELPORT_ADMIN_TOKEN",
        default=None,
        help="Admin bearer token [env MODELPORT_ADMIN_TOKEN; default: the one a server on "
        "this machine saved for you at start].",
    )(wrapper)
    return click.option(
        "--url",
        envvar="MODELPORT_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="The server [env MODELPORT_URL].",
    )(wrapper)


def server_of(ctx: click.Context) -> tuple[str, str | None]:
    """The server's URL and the token to send it (None: none known)."""
    url, token, _ = ctx.meta[_META]
    return url, token


def wants_json(ctx: click.Context) -> bool:
    """Whether ``--json`` was given."""
    return bool(ctx.meta[_META][2])


def resolve_token(url: str, token: str | None) -> str | None:
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


def connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    """A connection to the server and the URL's path prefix; a bad URL is a usage error."""
    parsed = urllib.parse.urlsplit(url)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if parsed.scheme not in ("http", "https") or not parsed.hostname or port == -1:
        raise click.UsageError(f"--url must be http(s)://host[:port], got '{url}'")
    kind = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
    return kind(parsed.hostname, port, timeout=600), parsed.path.rstrip("/")


def read_answer(conn: http.client.HTTPConnection) -> tuple[int, Any]:
    """The response's status and its body (JSON when it parses, else text)."""
    response = conn.getresponse()
    body = response.read()
    try:
        return response.status, json.loads(body) if body else None
    except ValueError:
        return response.status, body.decode(errors="replace")


def refused(status: int, body: Any) -> Refused:
    """The error for an answer with an error status, with the server's own message."""
    message = body.get("message", body) if isinstance(body, dict) else body
    return Refused(f"the server answered {status}: {message}")


def call(ctx: click.Context, method: str, path: str, body: Any = None) -> Any:
    """Send ``body`` (as JSON) to ``path`` of the server; its JSON answer, or the exit."""
    url, token = server_of(ctx)
    conn, base = connection(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, base + path, body=data, headers=headers)
        status, answer = read_answer(conn)
    except OSError as exc:
        raise Unreachable(f"cannot reach {url}: {exc}") from exc
    finally:
        conn.close()
    if status >= 400:
        raise refused(status, answer)
    return answer


def model_path(name: str) -> str:
    """``/v1/admin/models/NAME``, the name quoted."""
    return f"/v1/admin/models/{urllib.parse.quote(name, safe='')}"


def print_table(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> None:
    """Rows under upper-case column headings, each column as wide as its widest cell;
    None is shown as '-'."""
    cells = [[str(c) for c in columns]]
    cells += [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(line.rstrip())


def emit(obj: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    """``obj`` as JSON (``--json``), else what ``human`` prints (default: JSON too)."""
    if as_json or human is None:
        click.echo(json.dumps(obj, indent=2))
    else:
        human()
