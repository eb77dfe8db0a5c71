"""Rollout commands: ``modelport traffic``, ``modelport shadow`` and ``modelport compare``.

Thin clients of the rollout endpoints under /v1/admin, with the connection and token
handling of the other operator commands (``cli/admin.py``).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import click

from modelport.cli.admin import _answer, _connection, _fail, _resolve_token, _url_option

__all__ = ["compare_command", "register", "shadow_command", "traffic_command"]

#: Exit status when the server cannot be reached (1: it refused; 2: bad usage).
CANNOT_CONNECT = 3


class _Unreachable(click.ClickException):
    exit_code = CANNOT_CONNECT


def _call(url: str, token: str | None, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    connection, base = _connection(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, base + path, body=data, headers=headers)
        return _answer(connection)
    except OSError as exc:
        raise _Unreachable(f"cannot reach {url}: {exc}") from exc
    finally:
        connection.close()


def _admin(url: str, token: str | None, method: str, path: str, body: Any = None) -> Any:
    status, answer = _call(url, _resolve_token(url, token), method, path, body)
    if status != 200:
        _fail(status, answer)
    return answer


def _model_path(name: str) -> str:
    return f"/v1/admin/models/{urllib.parse.quote(name, safe='')}"


def _version(version: int | None) -> str:
    return "not set" if version is None else f"version {version}"


def _show(rollout: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rollout, indent=2))
        return
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


_json_option = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")


@click.command("traffic")
@click.argument("name")
@click.argument("shares", nargs=-1, required=True)
@_json_option
@_url_option
def traffic_command(
    name: str, shares: tuple[str, ...], as_json: bool, url: str, token: str | None
) -> None:
    """Split a model's default traffic: NAME production=90 candidate=10 (percents summing
    to 100; aliases or version numbers), or NAME off."""
    answer = _admin(url, token, "PUT", _model_path(name) + "/traffic", {"traffic": _split(shares)})
    _show(answer, as_json)


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
@_json_option
@_url_option
def shadow_command(
    name: str, version: str, sample_rate: float, as_json: bool, url: str, token: str | None
) -> None:
    """Copy a model's requests to a shadow VERSION (an alias or number), or 'off'. The
    default version still answers; both outputs go to the prediction log."""
    body = {"version": None if version == "off" else version, "sample_rate": sample_rate}
    _show(_admin(url, token, "PUT", _model_path(name) + "/shadow", body), as_json)


@click.command("compare")
@click.argument("model")
@click.option(
    "--since",
    default=3600.0,
    type=click.FloatRange(min=1),
    show_default=True,
    help="Seconds of prediction log to compare.",
)
@_json_option
@_url_option
def compare_command(model: str, since: float, as_json: bool, url: str, token: str | None) -> None:
    """Compare a model's answers with its shadow's: agreement rate, per-class confusion
    and, for regressors, the mean absolute difference."""
    query = urllib.parse.urlencode({"since": since})
    report = _admin(url, token, "GET", _model_path(model) + f"/compare?{query}")
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
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
        rows = [["served \\ shadow", *labels]]
        rows += [[a, *(str(confusion.get(a, {}).get(b, 0)) for b in labels)] for a in labels]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def register(group: click.Group) -> None:
    """Add the rollout commands to the ``modelport`` command group."""
    for command in (traffic_command, shadow_command, compare_command):
        group.add_command(command)
