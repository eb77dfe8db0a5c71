"""Rollout commands: ``modelport traffic``, ``modelport shadow`` and ``modelport compare``.

Thin clients of the rollout endpoints under /v1/admin, with the connection, token, exit
codes and ``--json`` of the other operator commands (``cli/client.py``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import click

from modelport.cli.client import call, client_options, emit, model_path, print_table, wants_json

__all__ = ["compare_command", "register", "shadow_command", "traffic_command"]


def _version(version: int | None) -> str:
    return "not set" if version is None else f"version {version}"


def _show(rollout: dict[str, Any]) -> None:
    name = rollout["name"]
    if rollout["traffic"]:
        shares = ", ".join(
            f"{share['target']} ({_version(share['version'])}) {share['percent']}%"
            for share in rollout["traffic"]
        )
        click.echo(f"{name}: traffic {shares}")
    else:
        click.echo(
            f"{name}: no traffic split; the default ({rollout['policy']}) answers: "
            f"{_version(rollout['version'])}"
        )
    shadow = rollout["shadow"]
    if shadow is not None:
        click.echo(
            f"{name}: shadow {shadow['target']} ({_version(shadow['version'])}), "
            f"{shadow['sample_rate']:.0%} of requests"
        )


def _split(shares: tuple[str, ...]) -> dict[str, int]:
    """``production=90 candidate=10`` as {"production": 90, "candidate": 10}; ``off``: {}."""
    if shares == ("off",):
        return {}
    split: dict[str, int] = {}
    for share in shares:
        target, equals, percent = share.partition("=")
        if not equals or not target or not percent.isdigit():
            raise click.UsageError(
                f"'{share}': give each target as ALIAS=PERCENT or VERSION=PERCENT, e.g. "
                "production=90 candidate=10 (or 'off' to end the split)"
            )
        split[target] = int(percent)
    return split


@click.command("traffic")
@click.argument("name")
@click.argument("shares", nargs=-1, required=True)
@client_options
def traffic_command(name: str, shares: tuple[str, ...]) -> None:
    """Split a model's default traffic: NAME production=90 candidate=10 (percents summing
    to 100; aliases or version numbers), or NAME off."""
    ctx = click.get_current_context()
    answer = call(ctx, "PUT", model_path(name) + "/traffic", {"traffic": _split(shares)})
    emit(answer, wants_json(ctx), lambda: _show(answer))


@click.command("shadow")
@click.argument("name")
@click.argument("version")
@click.option(
    "--sample-rate",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="The share of requests copied to the shadow version.",
)
@client_options
def shadow_command(name: str, version: str, sample_rate: float) -> None:
    """Copy a model's requests to a shadow VERSION (an alias or number), or 'off'. The
    default version still answers; both outputs go to the prediction log."""
    ctx = click.get_current_context()
    body = {"version": None if version == "off" else version, "sample_rate": sample_rate}
    answer = call(ctx, "PUT", model_path(name) + "/shadow", body)
    emit(answer, wants_json(ctx), lambda: _show(answer))


@click.command("compare")
@click.argument("model")
@click.option(
    "--since",
    default=3600.0,
    type=click.FloatRange(min=1),
    show_default=True,
    help="Seconds of prediction log to compare.",
)
@client_options
def compare_command(model: str, since: float) -> None:
    """Compare a model's answers with its shadow's: agreement rate, per-class confusion
    and, for regressors, the mean absolute difference."""
    ctx = click.get_current_context()
    query = urllib.parse.urlencode({"since": since})
    report = call(ctx, "GET", model_path(model) + f"/compare?{query}")
    emit(report, wants_json(ctx), lambda: _print_report(report))


def _print_report(report: dict[str, Any]) -> None:
    click.echo(
        f"{report['name']}: {report['pairs']} request(s) answered by version "
        f"{report['version']} and by shadow version {report['shadow_version']} "
        f"({report['rows']} rows)"
    )
    if report["shadow_failures"]:
        click.echo(f"the shadow failed on {report['shadow_failures']} of them")
    if report["agreement"] is not None:
        click.echo(f"agreement: {report['agreement']:.1%}")
    if report["mean_absolute_difference"] is not None:
        click.echo(f"mean absolute difference: {report['mean_absolute_difference']:.6g}")
    confusion = report["confusion"]
    if confusion:
        labels = sorted({label for row in confusion.values() for label in row} | set(confusion))
        rows = [[a, *(confusion.get(a, {}).get(b, 0) for b in labels)] for a in labels]
        print_table(rows, ["SERVED \\ SHADOW", *labels])


def register(group: click.Group) -> None:
    """Add the rollout commands to the ``modelport`` command group."""
    for command in (traffic_command, shadow_command, compare_command):
        group.add_command(command)
