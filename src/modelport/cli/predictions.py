"""``modelport predictions export``: a model's prediction log as CSV or Parquet.

Reads the server's database directly (the same ``--model-dir`` / ``--data-dir`` /
``--database-url`` settings as ``serve``), so an export of any size needs no running
server and no paging over HTTP; it never creates a database.
"""

from __future__ import annotations

import itertools
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from modelport.cli.admin import _database_options, _existing_engine, _settings
from modelport.errors import ModelportError

__all__ = ["predictions"]


class _Time(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """An ISO 8601 time; without an offset it is UTC."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-22T10:00:00Z)", param, ctx)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@click.group("predictions")
def predictions() -> None:
    """The prediction log (in the server's database)."""


@predictions.command("export")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="Parquet needs pyarrow: pip install 'modelport[parquet]'.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (CSV defaults to standard output; Parquet needs a file).",
)
@click.option("--since", type=_Time(), default=None, help="Rows logged at or after this time.")
@click.option("--until", type=_Time(), default=None, help="Rows logged before this time.")
@click.option("--version", "version", type=click.IntRange(min=1), default=None, help="One version.")
@click.option(
    "--flatten",
    is_flag=True,
    default=False,
    help="One line per input row and one column per feature (named as in the model's "
    "model.yaml features, else feature_0, ...), with that row's prediction; an input that "
    "has no rows is kept as JSON in the input column.",
)
@_database_options
def export_command(
    name: str,
    fmt: str,
    output: Path | None,
    since: datetime | None,
    until: datetime | None,
    version: int | None,
    flatten: bool,
    model_dir: Path | None,
    database_url: str | None,
    data_dir: Path | None,
) -> None:
    """Write model NAME's logged predictions, oldest first, as CSV or Parquet."""
    from modelport.export import export_csv, export_parquet, iter_predictions

    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet writes a file: give -o/--output PATH")
    engine = _existing_engine(model_dir, database_url, data_dir)
    target = output if output is not None else "standard output"
    if flatten:
        names = _feature_names(_settings(model_dir, database_url, data_dir).model_dir, name)
        try:
            _export_flat(engine, name, fmt, output, names, since, until, version)
        finally:
            engine.dispose()
        return
    try:
        found = iter_predictions(engine, name, since=since, until=until, version=version)
        # The first page is read before any file is opened: an unknown model leaves none.
        first = next(found, None)
        pages = itertools.chain([first] if first else [], found)
        if output is None:  # csv: --format parquet without a file was refused above
            count = export_csv(pages, sys.stdout)
        elif fmt == "parquet":
            count = export_parquet(pages, output)
        else:
            with output.open("w", newline="", encoding="utf-8") as handle:
                count = export_csv(pages, handle)
    except ModelportError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        engine.dispose()
    click.echo(f"exported {count} prediction(s) of '{name}' to {target}", err=True)


def _export_flat(
    engine: Any,
    name: str,
    fmt: str,
    output: Path | None,
    names: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    version: int | None,
) -> None:
    from modelport.export import iter_predictions
    from modelport.export_flat import write_flat_csv, write_flat_parquet

    def pages() -> Any:
        return iter_predictions(engine, name, since=since, until=until, version=version)

    try:
        next(pages(), None)  # an unknown model: said before any file is opened
        if output is None:
            counts = write_flat_csv(pages, sys.stdout, names)
        elif fmt == "parquet":
            counts = write_flat_parquet(pages, output, names)
        else:
            with output.open("w", newline="", encoding="utf-8") as handle:
                counts = write_flat_csv(pages, handle, names)
    except ModelportError as exc:
        raise click.ClickException(exc.message) from exc
    target = output if output is not None else "standard output"
    click.echo(
        f"exported {counts[0]} prediction(s) of '{name}' ({counts[1]} input row(s)) to {target}",
        err=True,
    )


def _feature_names(model_dir: Path, name: str) -> list[str] | None:
    """The model's feature names from its model.yaml in the model folder, if it has them."""
    from modelport.repository.model_yaml import MODEL_YAML, read_model_yaml

    path = model_dir / name / MODEL_YAML
    if not path.is_file():
        return None
    try:
        features = read_model_yaml(path).declared_features()
    except ModelportError:
        return None
    return None if features is None else [feature.name for feature in features]
