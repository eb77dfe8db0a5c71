"""``modelport predict`` and ``modelport status``: thin clients of the native predict
endpoint and of the health, models and management endpoints (cli/client.py)."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
from typing import Any

import click

from modelport.cli.client import (
    Refused,
    call,
    client_options,
    emit,
    print_table,
    server_of,
    wants_json,
)

__all__ = ["predict_command", "status_command"]


def _number(text: str) -> Any:
    """A CSV cell as a number when it is one (models want numbers), else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse_rows(text: str) -> list[Any]:
    """Rows from JSON (a list of rows, or an object with "instances") or from CSV with a
    header line (each line a {column: value} row)."""
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        try:
            document = json.loads(stripped)
        except ValueError as exc:
            raise click.UsageError(f"the rows are not valid JSON: {exc}") from exc
        rows = document.get("instances") if isinstance(document, dict) else document
        if not isinstance(rows, list):
            raise click.UsageError('give JSON rows as a list, or as {"instances": [...]}')
        return rows
    reader = csv.DictReader(io.StringIO(text))
    rows = [{key: _number(value) for key, value in row.items()} for row in reader]
    if not rows:
        raise click.UsageError("no rows: give a CSV file with a header line and rows, or JSON")
    return rows


@click.command("predict")
@click.argument("name")
@click.option("--version", "version", default=None, help="A version number or alias.")
@click.option(
    "-f",
    "--file",
    "source",
    type=click.File("r"),
    default="-",
    show_default=True,
    help="Rows as CSV (with a header line) or JSON (.json, or '-' for standard input).",
)
@click.option("--probabilities", is_flag=True, help="Also each class's probability.")
@client_options
def predict_command(name: str, version: str | None, source: Any, probabilities: bool) -> None:
    """Predict with model NAME on rows from a CSV or JSON file and print a table."""
    ctx = click.get_current_context()
    rows = parse_rows(source.read())
    quoted = urllib.parse.quote(name, safe="")
    path = f"/v1/models/{quoted}"
    if version is not None:
        path += f"/versions/{urllib.parse.quote(version, safe='')}"
    path += ":predict" + ("?probabilities=true" if probabilities else "")
    answer = call(ctx, "POST", path, {"instances": rows})
    emit(answer, wants_json(ctx), lambda: _prediction_table(answer))


def _prediction_table(answer: dict[str, Any]) -> None:
    predictions = answer["predictions"]
    shares = answer.get("probabilities") or []
    classes: list[str] = []
    if shares and isinstance(shares[0], dict):
        classes = list(shares[0])
    elif shares and isinstance(shares[0], list):
        classes = [str(i) for i in range(len(shares[0]))]
    table = []
    for index, prediction in enumerate(predictions):
        row: list[Any] = [index, _cell(prediction)]
        if index < len(shares):
            share = shares[index]
            values = [share[c] for c in classes] if isinstance(share, dict) else share
            row += [f"{value:.4f}" for value in values]
        table.append(row)
    print_table(table, ["ROW", "PREDICTION", *(c.upper() for c in classes)])
    click.echo(f"model {answer['model_name']} version {answer['model_version']}", err=True)


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@click.command("status")
@client_options
def status_command() -> None:
    """The server at a glance: health, models, workers, database and cache."""
    ctx = click.get_current_context()
    status = call(ctx, "GET", "/v1/admin/status")

    def human() -> None:
        url, _ = server_of(ctx)
        database = status["database"]
        cache = status["cache"]
        click.echo(f"server:   {url} (modelport {status['modelport']})")
        click.echo(f"health:   {status['health']}")
        click.echo(f"workers:  {status['workers']}")
        click.echo(
            f"database: {database['backend']}, "
            + ("answering" if database["ready"] else f"not answering ({database['error']})")
        )
        click.echo(
            "cache:    "
            + ("on" if cache["enabled"] else "off")
            + f", {'shared (redis)' if cache['shared'] else 'per worker'}"
        )
        rows = [(m["name"], m["state"], m["latest_version"]) for m in status["models"]]
        print_table(rows, ["MODEL", "STATE", "LATEST"])

    emit(status, wants_json(ctx), human)
    if status["health"] != "ready":
        raise Refused(f"the server is {status['health']}")
