"""The command line page, from the click commands under ``modelport``."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import click

from modelport.cli.docs_ref.text import GENERATED, MissingDescriptionError, cell

__all__ = ["cli_page"]

CLI_INTRO = """\
# Command line

`modelport` is one command with the subcommands below. `-h` / `--help` works on each.
Options that read an environment variable say which.
"""


def _commands(
    group: click.Group, parent: click.Context
) -> Iterator[tuple[click.Context, click.Command]]:
    for name in sorted(group.commands):
        command = group.commands[name]
        ctx = click.Context(command, info_name=name, parent=parent)
        yield ctx, command
        if isinstance(command, click.Group):
            yield from _commands(command, ctx)


def _help(command: click.Command) -> str:
    text = inspect.cleandoc(command.help or "")
    if not text:
        raise MissingDescriptionError(f"command '{command.name}' has no help text")
    return text.replace("\b\n", "")


def _paramdefault_text(param: click.Parameter) -> str:
    value = param.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str | int | float | Path):
        return f"`{value}`"
    return ""


def _param_type(param: click.Parameter) -> str:
    if isinstance(param.type, click.Choice):
        return " \\| ".join(f"`{c}`" for c in param.type.choices)
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    return param.type.name


def cli_page() -> str:
    from modelport.cli import main

    root = click.Context(main, info_name="modelport")
    out = [GENERATED, CLI_INTRO]
    out.append("\n## `modelport`\n\n")
    out.append(_help(main) + "\n\n")
    out.append(
        "| option | what |\n| --- | --- |\n"
        "| `--version` | Print the version and exit. |\n"
        "| `-h`, `--help` | Show the help and exit. |\n"
    )
    for ctx, command in _commands(main, root):
        usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
        out.append(f"\n## `{ctx.command_path}`\n\n```\n{usage}\n```\n\n{_help(command)}\n")
        if isinstance(command, click.Group):
            subs = ", ".join(
                f"[`{name}`](#{_anchor(ctx.command_path + ' ' + name)})"
                for name in sorted(command.commands)
            )
            out.append(f"\nSubcommands: {subs}.\n")
            continue
        if command.name == "serve":
            out.append(_serve_options(command))
            continue
        rows = [_param_row(param) for param in command.params]
        if rows:
            out.append(
                "\n| argument / option | type | default | environment | what |\n"
                "| --- | --- | --- | --- | --- |\n" + "".join(rows)
            )
    return "".join(out)


def _anchor(heading: str) -> str:
    """The id MkDocs gives a heading (its toc extension's default slugify)."""
    text = re.sub(r"[^\w\s-]", "", heading).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _param_row(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        name = f"`{param.human_readable_name}`"
        what = "required" if param.required else "optional"
        return f"| {name} | {_param_type(param)} | {_paramdefault_text(param)} | | {what} |\n"
    if not isinstance(param, click.Option):
        raise TypeError(f"unexpected click parameter {param!r}")
    name = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
    help_text = param.help or ""
    if not help_text:
        raise MissingDescriptionError(f"option {name} has no help text")
    if param.required:
        help_text = f"Required. {help_text}"
    env = param.envvar if isinstance(param.envvar, str) else ""
    return (
        f"| {name} | {_param_type(param)} | {_paramdefault_text(param)} | "
        f"{f'`{env}`' if env else ''} | {cell(help_text)} |\n"
    )


def _serve_options(command: click.Command) -> str:
    rows = []
    for param in command.params:
        if param.name is None:
            continue
        if isinstance(param, click.Argument):
            spelled = f"`{param.human_readable_name}` (argument)"
        elif isinstance(param, click.Option):
            spelled = " / ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        else:
            continue
        rows.append(f"| {spelled} | [`{param.name}`](settings.md#{param.name}) |\n")
    return (
        "\nEvery setting is an option of `serve` (and `MODEL_DIR` is the setting `model_dir`); "
        "each is described on the [settings](settings.md) page.\n\n"
        "| argument / option | setting |\n| --- | --- |\n" + "".join(rows)
    )
