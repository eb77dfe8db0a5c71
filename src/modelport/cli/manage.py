"""Version management commands: ``versions``, ``alias set|rm``, ``rollback``, ``delete``,
``reload`` and ``audit`` — each a thin client of one /v1/admin endpoint (cli/client.py)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import click

from modelport.cli.client import (
    Refused,
    call,
    client_options,
    emit,
    model_path,
    print_table,
    wants_json,
)

__all__ = ["register"]


def _ctx() -> click.Context:
    return click.get_current_context()


@click.command("versions")
@click.argument("name")
@click.option("--all", "include_deleted", is_flag=True, help="Deleted versions too.")
@client_options
def versions_command(name: str, include_deleted: bool) -> None:
    """A model's versions (number, state, size, when, by whom) and its aliases."""
    ctx = _ctx()
    query = "?include_deleted=true" if include_deleted else ""
    history = call(ctx, "GET", model_path(name) + "/versions" + query)

    def human() -> None:
        pointed: dict[int, list[str]] = {}
        for name_, version in sorted(history["aliases"].items()):
            pointed.setdefault(version, []).append(name_)
        rows = [
            (
                v["version"],
                v["state"],
                v["runtime"],
                v["size"],
                v["created_at"][:19],
                v["created_by"],
                ", ".join(pointed.get(v["version"], [])) or None,
            )
            for v in history["versions"]
        ]
        print_table(rows, ["VERSION", "STATE", "RUNTIME", "SIZE", "CREATED", "BY", "ALIASES"])
        click.echo(f"latest: {history['latest'] or '-'}")

    emit(history, wants_json(ctx), human)


@click.group("alias")
def alias() -> None:
    """Point an alias (e.g. production) at a version, or remove it."""


def _alias_path(name: str, alias_name: str) -> str:
    return model_path(name) + "/aliases/" + urllib.parse.quote(alias_name, safe="")


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", type=click.IntRange(min=1))
@client_options
def alias_set(name: str, alias_name: str, version: int) -> None:
    """Point ALIAS of model NAME at VERSION."""
    ctx = _ctx()
    answer = call(ctx, "PUT", _alias_path(name, alias_name), {"version": version})
    emit(answer, wants_json(ctx), lambda: click.echo(f"{name}: {alias_name} -> {version}"))


@alias.command("rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@client_options
def alias_rm(name: str, alias_name: str) -> None:
    """Remove ALIAS of model NAME."""
    ctx = _ctx()
    answer = call(ctx, "DELETE", _alias_path(name, alias_name))
    emit(answer, wants_json(ctx), lambda: click.echo(f"{name}: alias {alias_name} removed"))


@click.command("rollback")
@click.argument("name")
@click.argument("alias_name", metavar="[ALIAS]", default="production")
@client_options
def rollback_command(name: str, alias_name: str) -> None:
    """Move ALIAS (default production) of model NAME back to the version it pointed at
    before, as the audit log recorded it; the version must still be ready."""
    ctx = _ctx()
    history = call(ctx, "GET", model_path(name) + "/versions")
    current = history["aliases"].get(alias_name)
    if current is None:
        raise Refused(f"model '{name}' has no alias '{alias_name}'")
    ready = {v["version"] for v in history["versions"] if v["state"] == "ready"}
    query = urllib.parse.urlencode({"model": name, "limit": 1000})
    entries = call(ctx, "GET", f"/v1/admin/audit?{query}")["entries"]
    previous = _previous_target(entries, alias_name, current, ready)
    if previous is None:
        raise Refused(
            f"the audit log shows no earlier ready version for {name}'s alias "
            f"'{alias_name}' (now {current}); use `modelport alias set` with a version"
        )
    answer = call(ctx, "PUT", _alias_path(name, alias_name), {"version": previous})
    emit(
        {**answer, "previous": current},
        wants_json(ctx),
        lambda: click.echo(f"{name}: {alias_name} -> {previous} (was {current})"),
    )


def _previous_target(
    entries: list[dict[str, Any]], alias_name: str, current: int, ready: set[int]
) -> int | None:
    """The newest version, other than ``current``, that a successful move of the alias
    set (entries are newest first)."""
    for entry in entries:
        detail = entry.get("detail")
        # An upload with --alias moves the alias too (its detail names it).
        if entry["action"] not in ("alias.set", "upload") or entry["outcome"] != "ok":
            continue
        if not isinstance(detail, dict) or detail.get("alias") != alias_name:
            continue
        version = detail.get("version")
        if isinstance(version, int) and version != current and version in ready:
            return version
    return None


@click.command("delete")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@client_options
def delete_command(name: str, version: int) -> None:
    """Delete VERSION of model NAME (refused while an alias points at it)."""
    ctx = _ctx()
    answer = call(ctx, "DELETE", model_path(name) + f"/versions/{version}")
    emit(answer, wants_json(ctx), lambda: click.echo(f"{name}: version {version} deleted"))


@click.command("reload")
@click.argument("name", required=False)
@client_options
def reload_command(name: str | None) -> None:
    """Re-scan the model folder (or only model NAME): load what changed, drop what is gone."""
    ctx = _ctx()
    path = model_path(name) + "/reload" if name else "/v1/admin/reload"
    answer = call(ctx, "POST", path)
    emit(
        answer,
        wants_json(ctx),
        lambda: print_table(sorted(answer["models"].items()), ["MODEL", "RESULT"]),
    )


@click.command("audit")
@click.argument("name", required=False)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="At most this many entries (1 to 1000).",
)
@client_options
def audit_command(name: str | None, limit: int) -> None:
    """The audit log, newest first: who did what, when, and how it went (of model NAME)."""
    ctx = _ctx()
    query = urllib.parse.urlencode({"limit": limit, **({"model": name} if name else {})})
    answer = call(ctx, "GET", f"/v1/admin/audit?{query}")
    rows = [
        (
            e["at"][:19],
            e["actor"],
            e["action"],
            e["target"],
            e["outcome"],
            None if e["detail"] is None else json.dumps(e["detail"], separators=(",", ":")),
        )
        for e in answer["entries"]
    ]
    emit(
        answer,
        wants_json(ctx),
        lambda: print_table(rows, ["AT", "ACTOR", "ACTION", "TARGET", "OUTCOME", "DETAIL"]),
    )


def register(group: click.Group) -> None:
    """Add the management commands (and predict, status) to the ``modelport`` group."""
    from modelport.cli.serving import predict_command, status_command

    for command in (
        versions_command,
        alias,
        rollback_command,
        delete_command,
        reload_command,
        audit_command,
        predict_command,
        status_command,
    ):
        group.add_command(command)
